// Analytics over every trade the filters match (not only the page shown).
import { CLOSE_REASONS, type CloseReason, type HistoryAnalytics } from "../../api";
import { formatUnits } from "../../lib/decimal";
import { Usd } from "../../shared/Amount";

// closes, part or whole, by reason (liquidations are counted above, one close each)
const CLOSES_BY: Partial<Record<CloseReason, string>> = {
  manual: "Closed by you",
  sl: "Stop-loss closes",
  tp: "Take-profit closes",
};

export function HistoryAnalyticsView({ analytics }: { analytics: HistoryAnalytics }) {
  const count = (label: string, value: number | null) =>
    value === null ? null : (
      <div key={label}>
        <dt>{label}</dt>
        <dd className="num">{value}</dd>
      </div>
    );
  const money = (label: string, cents: bigint | null, signed = true) =>
    cents === null ? null : (
      <div key={label}>
        <dt>{label}</dt>
        <dd>
          <Usd cents={cents} signed={signed} />
        </dd>
      </div>
    );
  return (
    <section aria-label="Analytics" className="analytics">
      <dl className="account-facts">
        {count("Trades", analytics.totalTrades)}
        <div>
          <dt>Win rate</dt>
          <dd className="num">{formatUnits(analytics.winRate, 2)} %</dd>
        </div>
        {money("Realized PnL", analytics.totalPnl)}
        {money("Best trade", analytics.bestTrade)}
        {money("Worst trade", analytics.worstTrade)}
        {count("Won", analytics.profitableTrades)}
        {count("Lost", analytics.losingTrades)}
        {count("Open", analytics.openTrades)}
        {count("Closed", analytics.closedTrades)}
        {count("Liquidated", analytics.liquidatedTrades)}
        {count("Pending", analytics.pendingOrders)}
        {count("Cancelled", analytics.cancelledOrders)}
        {money("Margin traded", analytics.totalMargin, false)}
        {analytics.closeReasons &&
          CLOSE_REASONS.map((reason) => {
            const label = CLOSES_BY[reason];
            return label === undefined ? null : count(label, analytics.closeReasons?.[reason] ?? 0);
          })}
      </dl>
    </section>
  );
}
