// What a toast says about an order event, and the key that makes the HTTP answer of the
// trader's own action and the same event heard live one toast, not two.
import type { Close, OpenPosition, OrderEvent, PendingOrder } from "../api";
import { formatPrice, formatUsd } from "../lib/money";

export type Tone = "info" | "gain" | "loss";

export interface OrderNotice {
  /** the same for an action's answer and its live event */
  key: string;
  text: string;
  tone: Tone;
  /** liquidations are announced assertively */
  urgent?: boolean;
}

const SIDE = { long: "long", short: "short" } as const;
const ORDER_SIDE = { long: "buy", short: "sell" } as const;

function opened(position: OpenPosition, filled: boolean): OrderNotice {
  const { asset, side } = position;
  const at = formatPrice(asset, position.openPrice);
  const liquidation = formatPrice(asset, position.liquidationPrice);
  return {
    key: `open:${position.orderId}`,
    text: filled
      ? `Order filled: ${SIDE[side]} ${asset} opened at ${at}, liquidation ${liquidation}`
      : `Opened ${SIDE[side]} ${asset} at ${at}, liquidation ${liquidation}`,
    tone: "info",
  };
}

function pendingText(order: PendingOrder): string {
  return `${ORDER_SIDE[order.side]} ${order.orderType} ${order.asset} at ${formatPrice(order.asset, order.triggerPrice)}`;
}

export function closeNotice(close: Close): OrderNotice {
  const { asset, side } = close;
  const at = formatPrice(asset, close.closePrice);
  const pnl = formatUsd(close.pnl, { signed: true });
  const tone: Tone = close.pnl < 0n ? "loss" : close.pnl > 0n ? "gain" : "info";
  const part = close.status === "open" ? `${formatUsd(close.closedMargin)} of ` : "";
  const key = `close:${close.orderId}:${close.closedAt}:${close.closedMargin}`;
  switch (close.reason) {
    case "liquidation":
      return {
        key,
        text: `Liquidated: ${SIDE[side]} ${asset} at ${at}, margin ${formatUsd(close.closedMargin)} lost`,
        tone: "loss",
        urgent: true,
      };
    case "sl":
      return {
        key,
        text: `Stop loss hit: ${SIDE[side]} ${asset} closed at ${at}: PnL ${pnl}`,
        tone,
      };
    case "tp":
      return {
        key,
        text: `Take profit hit: ${SIDE[side]} ${asset} closed at ${at}: PnL ${pnl}`,
        tone,
      };
    case "manual":
      return { key, text: `Closed ${part}${SIDE[side]} ${asset} at ${at}: PnL ${pnl}`, tone };
  }
}

export function orderNotice(event: OrderEvent): OrderNotice {
  switch (event.event) {
    case "opened":
      return opened(event.position, false);
    case "filled":
      return opened(event.position, true);
    case "placed":
      return {
        key: `place:${event.order.orderId}`,
        text: `Placed ${pendingText(event.order)}`,
        tone: "info",
      };
    case "cancelled":
      return {
        key: `cancel:${event.order.orderId}`,
        text: `Cancelled ${pendingText(event.order)}`,
        tone: "info",
      };
    case "modified": {
      const target = "position" in event ? event.position : event.order;
      const what =
        "position" in event
          ? `${SIDE[event.position.side]} ${event.position.asset}`
          : pendingText(event.order);
      const level = (units: bigint | null) =>
        units === null ? "none" : formatPrice(target.asset, units);
      return {
        key: `modify:${target.orderId}:${String(target.stopLoss)}:${String(target.takeProfit)}`,
        text: `Saved ${what}: stop loss ${level(target.stopLoss)}, take profit ${level(target.takeProfit)}`,
        tone: "info",
      };
    }
    case "closed":
      return closeNotice(event.close);
  }
}
