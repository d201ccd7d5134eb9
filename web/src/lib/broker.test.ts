// SPEC §7's worked examples (tests/unit/test_broker_examples.py and README "Execution rules"),
// to the last digit, through the browser's own arithmetic: the preview, the live valuation
// at the bid/ask, the account, and which levels and triggers the engine refuses.
import { describe, expect, it } from "vitest";
import { accountView, livePnl, marginLevel, unrealizedPnl } from "./account";
import { ASSETS, type AssetSymbol } from "./assets";
import { toUnits } from "./decimal";
import { levelProblems, triggerProblem } from "./levels";
import { entries, liquidationPrice, pnl, previewOrder, type Side } from "./preview";

const u = (asset: AssetSymbol, human: string) => toUnits(human, ASSETS[asset].decimals);
const quote = (asset: AssetSymbol, bid: string, ask: string) => ({
  bid: u(asset, bid),
  ask: u(asset, ask),
});

describe("§7.1 bid and ask", () => {
  it("a long opens at the ask, is valued at the bid, liquidates from the ask's price", () => {
    const preview = previewOrder(2000n, 5, entries(quote("BTC", "49990.0000", "50000.0000")));
    expect(preview.entry.long).toBe(u("BTC", "50000"));
    expect(preview.liquidation.long).toBe(u("BTC", "40000"));
    const position = { asset: "BTC" as const, side: "long" as const, margin: 2000n, leverage: 5 };
    const at = { ...position, openPrice: preview.entry.long };
    expect(livePnl(at, quote("BTC", "49990", "50000"))).toBe(-2n);
  });

  it("README: SOL 149.95 / 150.05, USD 10.00 at 10x each way shows -0.07 at once", () => {
    const q = quote("SOL", "149.95", "150.05");
    const preview = previewOrder(1000n, 10, entries(q));
    expect(preview.entry).toEqual({ long: u("SOL", "150.05"), short: u("SOL", "149.95") });
    expect(preview.liquidation.long).toBe(u("SOL", "135.045"));
    expect(preview.liquidation.short).toBe(u("SOL", "164.945"));
    for (const side of ["long", "short"] as const) {
      const position = { asset: "SOL" as const, side, margin: 1000n, leverage: 10 };
      expect(livePnl({ ...position, openPrice: preview.entry[side] }, q)).toBe(-7n);
    }
  });

  it("a short at 149.9 liquidates at ceil(149.9 × 11 / 10) = 164.89", () => {
    expect(liquidationPrice("short", u("SOL", "149.9"), 10)).toBe(u("SOL", "164.89"));
  });
});

describe("§7.2 stop loss and take profit", () => {
  it("README: an ETH long's TP gapped through closes at the bid: +2.27", () => {
    expect(pnl("long", 2000n, 10, u("ETH", "3000.5"), u("ETH", "3034.5"))).toBe(227n);
  });

  it("README: an ETH short's SL closes at the ask: -0.77", () => {
    expect(pnl("short", 1000n, 5, u("ETH", "2999.5"), u("ETH", "3045.5"))).toBe(-77n);
  });

  it("a gapped SOL stop loss at 138 loses 8.00; a short TP at the ask 2899.5 gains 3.35", () => {
    expect(pnl("long", 1000n, 10, u("SOL", "150"), u("SOL", "138"))).toBe(-800n);
    expect(pnl("short", 500n, 20, u("ETH", "3000"), u("ETH", "2899.5"))).toBe(335n);
  });

  // long at ask 150 (bid 149.99), 10x: liquidation 135; short at bid 149.99, liquidation 164.989
  it.each<[Side, string | null, string | null, "stopLoss" | "takeProfit"]>([
    ["long", "135", null, "stopLoss"], // at the liquidation price
    ["long", "149.99", null, "stopLoss"], // at the bid
    ["long", null, "149.99", "takeProfit"],
    ["short", "150", null, "stopLoss"], // at the ask
    ["short", "164.989", null, "stopLoss"], // at the liquidation price
    ["short", null, "150", "takeProfit"],
  ])("refuses a %s with SL %s / TP %s, saying which", (side, sl, tp, field) => {
    const q = quote("SOL", "149.99", "150");
    const open = side === "long" ? q.ask : q.bid;
    const reference = side === "long" ? q.bid : q.ask;
    const problems = levelProblems(
      "SOL",
      side,
      liquidationPrice(side, open, 10),
      reference,
      sl === null ? null : u("SOL", sl),
      tp === null ? null : u("SOL", tp),
    );
    expect(Object.keys(problems)).toEqual([field]);
  });

  it("accepts levels inside the bounds", () => {
    const liquidation = u("SOL", "135");
    const ok = levelProblems(
      "SOL",
      "long",
      liquidation,
      u("SOL", "149.99"),
      u("SOL", "135.000001"),
      u("SOL", "150"),
    );
    expect(ok).toEqual({});
    expect(
      levelProblems("SOL", "long", liquidation, u("SOL", "149.99"), u("SOL", "140"), null),
    ).toEqual({});
  });

  it("a pending order's levels are checked against its trigger (10x from 99: SL in 89.1–99)", () => {
    const trigger = u("SOL", "99");
    const liquidation = liquidationPrice("long", trigger, 10);
    expect(liquidation).toBe(u("SOL", "89.1"));
    expect(levelProblems("SOL", "long", liquidation, trigger, u("SOL", "89"), null).stopLoss).toBe(
      "a long's stop loss must be above its liquidation price 89.100000 and below 99.000000",
    );
    expect(
      levelProblems("SOL", "long", liquidation, trigger, null, u("SOL", "98")).takeProfit,
    ).toBe("a long's take profit must be above 99.000000");
    expect(levelProblems("SOL", "long", liquidation, trigger, u("SOL", "95"), null)).toEqual({});
  });
});

describe("§7.3 pending orders", () => {
  const q = quote("SOL", "100", "101");
  it.each<[Side, "limit" | "stop", string, string | undefined]>([
    ["long", "limit", "100.5", undefined],
    ["long", "stop", "102", undefined],
    ["short", "limit", "101.5", undefined],
    ["short", "stop", "99", undefined],
    ["long", "limit", "101", "a buy limit's trigger must be below the ask 101.000000"],
    ["long", "stop", "101", "a buy stop's trigger must be above the ask 101.000000"],
    ["short", "limit", "100", "a sell limit's trigger must be above the bid 100.000000"],
    ["short", "stop", "100", "a sell stop's trigger must be below the bid 100.000000"],
  ])("a %s %s at %s: %s", (side, kind, trigger, problem) => {
    expect(triggerProblem("SOL", side, kind, u("SOL", trigger), q)).toBe(problem);
  });

  it("previews a limit order at its trigger; it fills at 99.9 and liquidates at 89.91", () => {
    const preview = previewOrder(1000n, 10, entries(q, u("SOL", "100")));
    expect(preview.entry).toEqual({ long: u("SOL", "100"), short: u("SOL", "100") });
    expect(preview.liquidation.long).toBe(u("SOL", "90"));
    expect(liquidationPrice("long", u("SOL", "99.9"), 10)).toBe(u("SOL", "89.91"));
  });

  it("README: BTC long limit 59405 at 20x liquidates at 56434.75", () => {
    expect(liquidationPrice("long", u("BTC", "59405"), 20)).toBe(u("BTC", "56434.75"));
  });
});

describe("§7.4 partial close", () => {
  it("README: a short of 30.00 at 4x from 100 closes 10.00 at 95 for +2.00, then -2.00 and -6.00", () => {
    const open = u("SOL", "100");
    expect(pnl("short", 1000n, 4, open, u("SOL", "95"))).toBe(200n);
    expect(pnl("short", 500n, 4, open, u("SOL", "110"))).toBe(-200n);
    expect(pnl("short", 1500n, 4, open, u("SOL", "110"))).toBe(-600n);
  });

  it("each part rounds once: 10.00 of 30.00 at 1x from 2 to 2.001 is 0 (+0.5), the rest +1", () => {
    const open = u("SOL", "2");
    expect(pnl("long", 1000n, 1, open, u("SOL", "2.001"))).toBe(0n);
    expect(pnl("long", 2000n, 1, open, u("SOL", "2.001"))).toBe(1n);
  });
});

describe("§7.6 account", () => {
  it("the engine's example: 497000 free, 1000 reserved, 2000 used, -2: level 24999.90 %", () => {
    const btc = {
      asset: "BTC" as const,
      side: "long" as const,
      margin: 2000n,
      leverage: 5,
      openPrice: u("BTC", "50000"),
    };
    const view = accountView(
      { balance: 497_000n, reserved: 1000n, usedMargin: 2000n, unrealizedPnl: 0n },
      [btc],
      { BTC: quote("BTC", "49990", "50000") },
    );
    expect(view).toMatchObject({ unrealizedPnl: -2n, equity: 499_998n, marginLevel: 2_499_990n });
    expect(view.live).toBe(true);
    expect(view.freeMargin).toBe(499_998n - 2000n - 1000n);
  });

  it("README: a BTC long of 100.00 at 5x from 50000 at 51000: +10.00, equity 5,010.00, level 5010.00 %", () => {
    const long = {
      asset: "BTC" as const,
      side: "long" as const,
      margin: 10_000n,
      leverage: 5,
      openPrice: u("BTC", "50000"),
    };
    const view = accountView(
      { balance: 488_000n, reserved: 2000n, usedMargin: 10_000n, unrealizedPnl: 0n },
      [long],
      { BTC: quote("BTC", "51000", "51000") },
    );
    expect(view).toMatchObject({ unrealizedPnl: 1000n, equity: 501_000n, marginLevel: 501_000n });
  });

  it("caps each position's loss at its margin, as the engine does", () => {
    const long = {
      asset: "SOL" as const,
      side: "long" as const,
      margin: 1000n,
      leverage: 10,
      openPrice: u("SOL", "150"),
    };
    const q = { SOL: quote("SOL", "120", "120") }; // past liquidation (135): -2000 uncapped
    expect(livePnl(long, q.SOL)).toBe(-2000n);
    expect(unrealizedPnl([long], q)).toBe(-1000n);
  });

  it("takes the server's figure while a quote is missing; no level without a position", () => {
    const long = {
      asset: "ETH" as const,
      side: "long" as const,
      margin: 1000n,
      leverage: 10,
      openPrice: u("ETH", "3000"),
    };
    const server = { balance: 1n, reserved: 0n, usedMargin: 1000n, unrealizedPnl: 55n };
    expect(accountView(server, [long], {})).toMatchObject({ unrealizedPnl: 55n, live: false });
    expect(marginLevel(100n, 0n)).toBeNull();
    expect(marginLevel(2n, 3n)).toBe(6667n); // 66.666… % → 66.67
  });
});
