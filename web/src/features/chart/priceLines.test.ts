import { describe, expect, it } from "vitest";
import type { OpenPosition, PendingOrder } from "../../api";
import { priceLines } from "./priceLines";

const position: OpenPosition = {
  orderId: "o1",
  asset: "SOL",
  side: "short",
  margin: 1000n,
  leverage: 10,
  openPrice: 149_990_000n,
  liquidationPrice: 164_989_000n,
  stopLoss: 155_000_000n,
  takeProfit: null,
  currentPrice: null,
  pnl: null,
  openedAt: "t",
};
const order: PendingOrder = {
  orderId: "o2",
  asset: "SOL",
  side: "long",
  orderType: "stop",
  triggerPrice: 160_000_000n,
  margin: 500n,
  leverage: 5,
  stopLoss: null,
  takeProfit: 170_000_000n,
  placedAt: "t",
};

describe("priceLines", () => {
  it("draws each position's entry, liquidation, SL and TP, and each order's trigger", () => {
    expect(priceLines("SOL", [position, { ...position, asset: "ETH" }], [order])).toEqual([
      { units: 149_990_000n, title: "short entry", kind: "entry" },
      { units: 164_989_000n, title: "liquidation", kind: "liquidation" },
      { units: 155_000_000n, title: "SL", kind: "sl" },
      { units: 160_000_000n, title: "buy stop", kind: "trigger" },
      { units: 170_000_000n, title: "buy stop TP", kind: "tp" },
    ]);
    expect(priceLines("BTC", [position], [order])).toEqual([]);
  });
});
