import { describe, expect, it } from "vitest";
import { chartPriceLabel, toChartCandles, toChartUnits, withLevels } from "./chartData";

describe("chart data", () => {
  it("plots integer units and labels them exactly", () => {
    const [point] = toChartCandles([
      { time: 60, open: 150_000_000n, high: 151_000_001n, low: 149_999_999n, close: 150_500_000n },
    ]);
    expect(point).toEqual({
      time: 60,
      open: 150_000_000,
      high: 151_000_001,
      low: 149_999_999,
      close: 150_500_000,
    });
    expect(chartPriceLabel("SOL")(151_000_001)).toBe("151.000001");
    expect(chartPriceLabel("BTC")(400_000_000.4)).toBe("40,000.0000");
  });

  it("refuses a price it could not plot exactly", () => {
    expect(() => toChartUnits(2n ** 53n)).toThrow(RangeError);
  });

  it("takes in the levels near the candles, not those far away", () => {
    const range = { minValue: 149_000_000, maxValue: 151_000_000 };
    // 10x liquidation at 135, a TP at 160; a 1x liquidation at 0 is left out
    expect(withLevels(range, [135_000_000, 160_000_000, 0])).toEqual({
      minValue: 135_000_000,
      maxValue: 160_000_000,
    });
    expect(withLevels(range, [])).toEqual(range);
  });
});
