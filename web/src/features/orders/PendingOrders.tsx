// Limit and stop orders waiting for their trigger (their margin reserved), each with Cancel
// (the reserve comes back) and its stop loss / take profit, which attach at the fill.
import { useState } from "react";
import { cancelOrder, describeError, type PendingOrder } from "../../api";
import { ASSETS } from "../../lib/assets";
import { useSettle, useTerminal } from "../../live/LiveProvider";
import { orderNotice } from "../../live/orderText";
import { Price, Usd } from "../../shared/Amount";
import { ErrorText } from "../../shared/ErrorText";
import { StatusRow } from "../../shared/StatusRow";
import { useNotify } from "../../shared/notices";
import { LevelsDialog } from "../positions/LevelsDialog";
import { when } from "../../shared/when";

export function PendingOrders() {
  const orders = useTerminal((state) => state.pending);
  const loadError = useTerminal((state) => state.error);
  const [cancelling, setCancelling] = useState<string>();
  const [error, setError] = useState<string>();
  const [editing, setEditing] = useState<string>();
  const notify = useNotify();
  const settle = useSettle();

  const cancel = async (order: PendingOrder) => {
    setCancelling(order.orderId);
    setError(undefined);
    try {
      const cancelled = await cancelOrder(order.orderId);
      settle((store) => {
        store.cancelled(cancelled);
      });
      notify(orderNotice({ event: "cancelled", order: cancelled }));
    } catch (failure) {
      setError(`Could not cancel the ${order.asset} ${order.orderType}: ${describeError(failure)}`);
    } finally {
      setCancelling(undefined);
    }
  };

  const edited = orders?.find((order) => order.orderId === editing);
  return (
    <section className="positions" aria-label="Orders">
      <ErrorText message={error ?? (orders === undefined ? loadError : undefined)} />
      <div className="table-scroll" tabIndex={0} role="region" aria-labelledby="pending-caption">
        <table>
          <caption id="pending-caption">Pending orders</caption>
          <thead>
            <tr>
              <th scope="col">Market</th>
              <th scope="col">Order</th>
              <th scope="col" className="num">
                Trigger
              </th>
              <th scope="col" className="num">
                Margin
              </th>
              <th scope="col" className="num">
                Leverage
              </th>
              <th scope="col" className="num">
                Stop loss
              </th>
              <th scope="col" className="num">
                Take profit
              </th>
              <th scope="col">Placed</th>
              <th scope="col" className="sticky-end">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            <StatusRow
              rows={orders}
              columns={9}
              loading="Loading your orders…"
              empty="No pending orders."
            />
            {orders?.map((order) => {
              const rowId = `order-${order.orderId}`;
              const side = order.side === "long" ? "buy" : "sell";
              return (
                <tr key={order.orderId} data-order-id={order.orderId}>
                  <th scope="row" id={rowId}>
                    {order.asset}/USD
                    <span className="visually-hidden">
                      {` ${side} ${order.orderType} ${order.leverage}x, ${ASSETS[order.asset].name}`}
                    </span>
                  </th>
                  <td className={order.side === "long" ? "gain" : "loss"}>
                    {side} {order.orderType}
                  </td>
                  <td className="num">
                    <Price asset={order.asset} units={order.triggerPrice} />
                  </td>
                  <td className="num">
                    <Usd cents={order.margin} />
                  </td>
                  <td className="num">{order.leverage}x</td>
                  <td className="num">
                    <Price asset={order.asset} units={order.stopLoss} />
                  </td>
                  <td className="num">
                    <Price asset={order.asset} units={order.takeProfit} />
                  </td>
                  <td>{when(order.placedAt)}</td>
                  <td className="sticky-end actions">
                    <button
                      type="button"
                      className="small"
                      aria-describedby={rowId}
                      onClick={() => {
                        setEditing(order.orderId);
                      }}
                    >
                      Edit SL/TP
                    </button>
                    <button
                      type="button"
                      className="small close"
                      aria-describedby={rowId}
                      disabled={cancelling === order.orderId}
                      onClick={() => {
                        void cancel(order);
                      }}
                    >
                      Cancel
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {edited && (
        <LevelsDialog
          target={{ kind: "pending", order: edited }}
          onClose={() => {
            setEditing(undefined);
          }}
        />
      )}
    </section>
  );
}
