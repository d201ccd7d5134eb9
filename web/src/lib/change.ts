// A market's change: the mid now against the day's open (the 1d candle, UTC), in price units
// and in hundredths of a percent, half-to-even.
import { divRoundHalfEven } from "./rounding";

export interface Change {
  units: bigint;
  /** hundredths of a percent: 125n is +1.25 % */
  percent: bigint;
}

export function change(open: bigint, price: bigint): Change | undefined {
  if (open <= 0n) return undefined;
  const units = price - open;
  return { units, percent: divRoundHalfEven(units * 10_000n, open) };
}
