// The chart's price lines for one asset: each open position's entry, liquidation, stop loss
// and take profit, each pending order's trigger (and the levels it will attach at the fill).
import type { OpenPosition, PendingOrder } from "../../api";
import type { AssetSymbol } from "../../lib/assets";

export type LineKind = "entry" | "liquidation" | "sl" | "tp" | "trigger";

export interface PriceLine {
  units: bigint;
  title: string;
  kind: LineKind;
}

export function priceLines(
  asset: AssetSymbol,
  positions: readonly OpenPosition[],
  pending: readonly PendingOrder[],
): PriceLine[] {
  const lines: PriceLine[] = [];
  for (const position of positions) {
    if (position.asset !== asset) continue;
    lines.push({ units: position.openPrice, title: `${position.side} entry`, kind: "entry" });
    lines.push({ units: position.liquidationPrice, title: "liquidation", kind: "liquidation" });
    if (position.stopLoss !== null)
      lines.push({ units: position.stopLoss, title: "SL", kind: "sl" });
    if (position.takeProfit !== null) {
      lines.push({ units: position.takeProfit, title: "TP", kind: "tp" });
    }
  }
  for (const order of pending) {
    if (order.asset !== asset) continue;
    const name = `${order.side === "long" ? "buy" : "sell"} ${order.orderType}`;
    lines.push({ units: order.triggerPrice, title: name, kind: "trigger" });
    if (order.stopLoss !== null) {
      lines.push({ units: order.stopLoss, title: `${name} SL`, kind: "sl" });
    }
    if (order.takeProfit !== null) {
      lines.push({ units: order.takeProfit, title: `${name} TP`, kind: "tp" });
    }
  }
  return lines;
}
