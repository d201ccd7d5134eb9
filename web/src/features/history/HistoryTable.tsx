import type { HistoryTrade } from "../../api";
import { Price, Usd } from "../../shared/Amount";
import { StatusRow } from "../../shared/StatusRow";
import { when } from "../../shared/when";
import { REASON_LABELS } from "./HistoryFilters";

function reason(trade: HistoryTrade): string {
  const known = trade.closeReason ?? (trade.liquidated ? "liquidation" : null);
  return known === null ? "—" : REASON_LABELS[known];
}

function status(trade: HistoryTrade): string {
  if (trade.status === "closed" && trade.liquidated) return "liquidated";
  return trade.status;
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
            <th scope="col">Order</th>
            <th scope="col">Status</th>
            <th scope="col">Reason</th>
            <th scope="col" className="num">
              PnL
            </th>
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
            <th scope="col" className="num">
              Stop loss
            </th>
            <th scope="col" className="num">
              Take profit
            </th>
            <th scope="col">Opened</th>
            <th scope="col">Closed</th>
          </tr>
        </thead>
        <tbody>
          <StatusRow rows={trades} columns={14} empty="No trades match." />
          {trades.map((trade) => (
            <tr key={trade.orderId} data-order-id={trade.orderId}>
              <th scope="row">{trade.asset}/USD</th>
              <td className={trade.side === "long" ? "gain" : "loss"}>{trade.side}</td>
              <td>
                {trade.orderType ?? "market"}
                {trade.triggerPrice !== null && trade.orderType !== "market" && (
                  <span className="muted">
                    {" "}
                    at <Price asset={trade.asset} units={trade.triggerPrice} />
                  </span>
                )}
              </td>
              <td>{status(trade)}</td>
              <td>{reason(trade)}</td>
              <td className="num">{trade.pnl === null ? "—" : <Usd cents={trade.pnl} signed />}</td>
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
              <td className="num">
                <Price asset={trade.asset} units={trade.stopLoss} />
              </td>
              <td className="num">
                <Price asset={trade.asset} units={trade.takeProfit} />
              </td>
              <td>{when(trade.createdAt)}</td>
              <td>{when(trade.closedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
