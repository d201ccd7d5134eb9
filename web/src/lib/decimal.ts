// Exact decimals: a decimal string in human units <-> an integer (bigint) in minor units.
// No binary float is involved at any step.

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * `"150.25"` with 6 decimals is `150250000n`. Throws RangeError for text that is not a plain
 * decimal or that has more significant fractional digits than `decimals` (trailing zeros are
 * fine: `"10.0000"` is 1000 cents).
 */
export function toUnits(text: string, decimals: number): bigint {
  const match = DECIMAL.exec(text.trim());
  if (!match) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
  const [, sign = "", whole = "", fraction = ""] = match;
  const kept = fraction.slice(0, decimals);
  if (/[^0]/.test(fraction.slice(decimals))) {
    throw new RangeError(`${text} has more than ${decimals} decimal places`);
  }
  const units = BigInt(whole + kept.padEnd(decimals, "0"));
  return sign === "-" ? -units : units;
}

export interface FormatOptions {
  /** thousands separators in the whole part: `5,000.00` */
  group?: boolean;
  /** show `+` before a positive amount */
  signed?: boolean;
}

/** `150250000n` with 6 decimals is `"150.250000"`: every decimal place, exactly. */
export function formatUnits(units: bigint, decimals: number, options: FormatOptions = {}): string {
  const negative = units < 0n;
  const digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
  const cut = digits.length - decimals;
  let whole = digits.slice(0, cut);
  if (options.group === true) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const body = decimals > 0 ? `${whole}.${digits.slice(cut)}` : whole;
  if (negative) return `-${body}`;
  return options.signed === true && units > 0n ? `+${body}` : body;
}
