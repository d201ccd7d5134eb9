// The engine's worked examples (tests/unit/test_engine_examples.py and SPEC §3), to the last
// digit: the preview a trader sees is what the engine will do.
import { describe, expect, it } from "vitest";
import { ASSETS, type AssetSymbol } from "./assets";
import { toUnits } from "./decimal";
import { entries, liquidationPrice, pnl, positionSize, previewOrder, type Side } from "./preview";

const units = (asset: AssetSymbol, human: string) => toUnits(human, ASSETS[asset].decimals);

describe("the engine's worked examples", () => {
  it.each<[AssetSymbol, Side, string, bigint, number, string, string, bigint]>([
    ["BTC", "long", "50000.0000", 2000n, 5, "40000", "51000", 200n],
    ["SOL", "short", "150.000000", 1000n, 30, "155", "148.5", 300n],
    ["ETH", "long", "3000", 777n, 9, "2666.666666", "2999.99", 0n],
    ["SOL", "long", "2.000000", 1n, 1, "0", "3.000000", 0n], // +0.5 cent -> 0
    ["SOL", "long", "2.000000", 3n, 1, "0", "3.000000", 2n], // +1.5 cents -> 2
    ["SOL", "short", "100", 250n, 10, "110", "100.5", -12n], // -12.5 -> -12
    ["SOL", "short", "100", 270n, 10, "110", "100.5", -14n], // -13.5 -> -14
  ])(
    "%s %s at %s, margin %i, %ix: liquidation %s, PnL at %s is %i cents",
    (asset, side, openAt, margin, leverage, liquidation, closeAt, expectedPnl) => {
      const open = units(asset, openAt);
      expect(liquidationPrice(side, open, leverage)).toBe(units(asset, liquidation));
      expect(pnl(side, margin, leverage, open, units(asset, closeAt))).toBe(expectedPnl);
    },
  );

  it("liquidates the 50x and 100x ETH positions where the engine does", () => {
    const open = units("ETH", "3000");
    expect(liquidationPrice("long", open, 100)).toBe(units("ETH", "2970"));
    expect(liquidationPrice("long", open, 50)).toBe(units("ETH", "2940"));
    expect(liquidationPrice("short", open, 100)).toBe(units("ETH", "3030"));
    expect(liquidationPrice("short", open, 50)).toBe(units("ETH", "3060"));
  });

  it("loses the whole margin at the liquidation price", () => {
    const open = units("BTC", "50000");
    const at = liquidationPrice("long", open, 5);
    expect(pnl("long", 2000n, 5, open, at)).toBe(-2000n);
  });
});

describe("the ticket's preview", () => {
  it("long BTC, margin $20.00, 5x at ask 50000.0000", () => {
    const ask = units("BTC", "50000.0000");
    const preview = previewOrder(2000n, 5, entries({ bid: ask, ask }));
    expect(preview.positionSize).toBe(10_000n);
    expect(preview.requiredMargin).toBe(2000n);
    expect(preview.entry.long).toBe(ask);
    expect(preview.liquidation.long).toBe(units("BTC", "40000.0000"));
  });

  it("long SOL at 150.000000, margin $10.00, 10x", () => {
    const price = units("SOL", "150.000000");
    const preview = previewOrder(1000n, 10, entries({ bid: price, ask: price }));
    expect(preview.positionSize).toBe(10_000n);
    expect(preview.liquidation.long).toBe(units("SOL", "135.000000"));
    expect(preview.liquidation.short).toBe(units("SOL", "165.000000"));
  });

  it("long SOL limit filled at 99.900000, 10x", () => {
    expect(liquidationPrice("long", units("SOL", "99.900000"), 10)).toBe(units("SOL", "89.910000"));
  });

  it("takes a long at the ask and a short at the bid", () => {
    const quote = { bid: units("SOL", "149.99"), ask: units("SOL", "150.01") };
    const preview = previewOrder(1000n, 10, entries(quote));
    expect(preview.entry).toEqual({ long: quote.ask, short: quote.bid });
    expect(preview.liquidation.long).toBe(liquidationPrice("long", quote.ask, 10));
    expect(preview.liquidation.short).toBe(liquidationPrice("short", quote.bid, 10));
  });

  it("rounds a long's trigger down and a short's up, as integer prices", () => {
    // 3000 * 8/9 = 2666.666666...6 -> floor; 3000 * 10/9 = 3333.333333...3 -> ceil
    const open = units("ETH", "3000");
    expect(liquidationPrice("long", open, 9)).toBe(2_666_666_666n);
    expect(liquidationPrice("short", open, 9)).toBe(3_333_333_334n);
  });

  it("sizes a position as margin times leverage, in cents", () => {
    expect(positionSize(1n, 100)).toBe(100n);
    expect(positionSize(10n ** 12n, 100)).toBe(10n ** 14n);
  });
});
