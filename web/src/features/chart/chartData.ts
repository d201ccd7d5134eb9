// lightweight-charts draws JavaScript numbers. It is given prices as integers in the asset's
// units (exact in a double below 2^53), never as fractional dollars, and its labels are
// written back through the exact formatter; so no price passes through a binary fraction.
import type { CandlestickData, UTCTimestamp } from "lightweight-charts";
import type { Candle } from "../../api";
import type { AssetSymbol } from "../../lib/assets";
import { formatPrice } from "../../lib/money";

const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** An integer price (asset units) as a chart coordinate. */
export function toChartUnits(units: bigint): number {
  if (units > MAX_EXACT || units < -MAX_EXACT)
    throw new RangeError("price beyond the chart's range");
  return Number(units);
}

export function toChartCandle(candle: Candle): CandlestickData {
  return {
    time: candle.time as UTCTimestamp,
    open: toChartUnits(candle.open),
    high: toChartUnits(candle.high),
    low: toChartUnits(candle.low),
    close: toChartUnits(candle.close),
  };
}

export function toChartCandles(candles: readonly Candle[]): CandlestickData[] {
  return candles.map(toChartCandle);
}

/** The axis and crosshair label of a chart coordinate: the nearest whole unit, exactly. */
export function chartPriceLabel(asset: AssetSymbol): (coordinate: number) => string {
  return (coordinate) => formatPrice(asset, BigInt(Math.round(coordinate)));
}

export interface PriceRange {
  minValue: number;
  maxValue: number;
}

/**
 * The candles' price range widened to take in the levels (entries, SL/TP, triggers,
 * liquidations) within a quarter of the range's middle, so a trader sees where each of them
 * is; a level further away (a low-leverage liquidation near zero) would flatten the candles.
 * Chart coordinates only: nothing here is a price shown as text.
 */
export function withLevels(range: PriceRange, levels: readonly number[]): PriceRange {
  const middle = (range.minValue + range.maxValue) / 2;
  let { minValue, maxValue } = range;
  for (const level of levels) {
    if (Math.abs(level - middle) > middle / 4) continue;
    minValue = Math.min(minValue, level);
    maxValue = Math.max(maxValue, level);
  }
  return { minValue, maxValue };
}
