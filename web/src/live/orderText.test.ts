import { describe, expect, it } from "vitest";
import type { Close, OpenPosition, PendingOrder } from "../api";
import { closeNotice, orderNotice } from "./orderText";

const position: OpenPosition = {
  orderId: "o1",
  asset: "SOL",
  side: "long",
  margin: 1000n,
  leverage: 10,
  openPrice: 150_010_000n,
  liquidationPrice: 135_009_000n,
  stopLoss: null,
  takeProfit: null,
  currentPrice: null,
  pnl: null,
  openedAt: "t",
};
const order: PendingOrder = {
  orderId: "o2",
  asset: "BTC",
  side: "short",
  orderType: "stop",
  triggerPrice: 590_000_000n,
  margin: 500n,
  leverage: 5,
  stopLoss: null,
  takeProfit: 580_000_000n,
  placedAt: "t",
};
const closed = (reason: Close["reason"], pnl: bigint, remaining = 0n): Close => ({
  orderId: "o1",
  asset: "SOL",
  side: "long",
  leverage: 10,
  openPrice: 150_010_000n,
  liquidationPrice: 135_009_000n,
  margin: 1000n,
  closedMargin: 1000n - remaining,
  remainingMargin: remaining,
  status: remaining ? "open" : "closed",
  closePrice: 160_020_000n,
  pnl,
  reason,
  liquidated: reason === "liquidation",
  closedAt: "2025-12-01T03:00:00.123456Z",
});

describe("order notices", () => {
  it.each([
    [
      { event: "opened", position } as const,
      "Opened long SOL at 150.010000, liquidation 135.009000",
    ],
    [
      { event: "filled", position } as const,
      "Order filled: long SOL opened at 150.010000, liquidation 135.009000",
    ],
    [{ event: "placed", order } as const, "Placed sell stop BTC at 59,000.0000"],
    [{ event: "cancelled", order } as const, "Cancelled sell stop BTC at 59,000.0000"],
    [
      { event: "modified", order } as const,
      "Saved sell stop BTC at 59,000.0000: stop loss none, take profit 58,000.0000",
    ],
    [
      { event: "modified", position: { ...position, stopLoss: 140_000_000n } } as const,
      "Saved long SOL: stop loss 140.000000, take profit none",
    ],
  ])("%o says %s", (event, text) => {
    expect(orderNotice(event).text).toBe(text);
  });

  it("says how each close happened", () => {
    expect(closeNotice(closed("tp", 1001n))).toMatchObject({
      text: "Take profit hit: long SOL closed at 160.020000: PnL +$10.01",
      tone: "gain",
    });
    expect(closeNotice(closed("sl", -800n))).toMatchObject({
      text: "Stop loss hit: long SOL closed at 160.020000: PnL -$8.00",
      tone: "loss",
    });
    expect(closeNotice(closed("liquidation", -1000n))).toMatchObject({
      text: "Liquidated: long SOL at 160.020000, margin $10.00 lost",
      urgent: true,
    });
    expect(closeNotice(closed("manual", 0n, 400n)).text).toBe(
      "Closed $6.00 of long SOL at 160.020000: PnL $0.00",
    );
  });

  it("one key for an action's answer and its live event; another for the next close", () => {
    expect(orderNotice({ event: "opened", position }).key).toBe(
      orderNotice({ event: "opened", position: { ...position, margin: 1n } }).key,
    );
    const first = closeNotice(closed("manual", 0n, 400n));
    const second = closeNotice({ ...closed("manual", 0n), closedAt: "later" });
    expect(first.key).not.toBe(second.key);
    expect(orderNotice({ event: "closed", close: closed("manual", 0n, 400n) }).key).toBe(first.key);
  });
});
