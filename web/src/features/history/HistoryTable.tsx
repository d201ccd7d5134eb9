import type { HistoryTrade } from "../../api";
import { Price, Usd } from "../../shared/Amount";

const WHEN = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function when(iso: string | null): string {
  if (iso === null) return "—";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? iso : WHEN.format(moment);
}

export function HistoryTable({ trades }: { trades: readonly HistoryTrade[] }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="history-caption">
      <table>
        <caption id="history-caption">History</caption>
        <thead>
          <tr>
            <th scope="col">Market</th>
            <th scope="col">Side</th>
            <th scope="col" className="num">
              PnL
            </th>
            <th scope="col">Status</th>
            <th scope="col" className="num">
              Margin
            </th>
            <th scope="col" className="num">
              Leverage
            </th>
            <th scope="col" className="num">
              Entry
            </th>
            <th scope="col" className="num">
              Close
            </th>
            <th scope="col">Opened</th>
            <th scope="col">Closed</th>
          </tr>
        </thead>
        <tbody>
          {trades.length === 0 && (
            <tr>
              <td colSpan={10} className="muted">
                No trades yet.
              </td>
            </tr>
          )}
          {trades.map((trade) => (
            <tr key={trade.orderId}>
              <th scope="row">{trade.asset}/USD</th>
              <td className={trade.side === "long" ? "gain" : "loss"}>{trade.side}</td>
              <td className="num">{trade.pnl === null ? "—" : <Usd cents={trade.pnl} signed />}</td>
              <td>{trade.status}</td>
              <td className="num">
                <Usd cents={trade.margin} />
              </td>
              <td className="num">{trade.leverage}x</td>
              <td className="num">
                <Price asset={trade.asset} units={trade.openPrice} />
              </td>
              <td className="num">
                <Price asset={trade.asset} units={trade.closePrice} />
              </td>
              <td>{when(trade.openedAt)}</td>
              <td>{when(trade.closedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
