// USD amounts: integers in cents. Prices: integers in each asset's units.
import { ASSETS, type AssetSymbol } from "./assets";
import { formatUnits, toUnits } from "./decimal";

export const USD_DECIMALS = 2;

/** `500000n` is `"$5,000.00"`, `-1250n` is `"-$12.50"`; `signed` adds `+` to a gain. */
export function formatUsd(cents: bigint, options: { signed?: boolean } = {}): string {
  const amount = formatUnits(cents < 0n ? -cents : cents, USD_DECIMALS, { group: true });
  if (cents < 0n) return `-$${amount}`;
  return options.signed === true && cents > 0n ? `+$${amount}` : `$${amount}`;
}

/** A price in the asset's units in human units, every decimal place: `"150.250000"`. */
export function formatPrice(asset: AssetSymbol, units: bigint): string {
  return formatUnits(units, ASSETS[asset].decimals, { group: true });
}

/** What a trader typed as dollars ("10", "10.5", "1,000.25") in cents, or an error in words. */
export function parseUsd(input: string): { cents: bigint } | { error: string } {
  const text = input.trim().replace(/^\$/, "").replaceAll(",", "");
  if (text === "") return { error: "enter an amount in USD" };
  if (!/^\d+(\.\d*)?$/.test(text)) return { error: "enter an amount like 10 or 10.50" };
  try {
    return { cents: toUnits(text.endsWith(".") ? text.slice(0, -1) : text, USD_DECIMALS) };
  } catch {
    return { error: "USD amounts have at most 2 decimal places" };
  }
}

/** What a trader typed as a price ("150.25", "50,000") in the asset's units, or an error. */
export function parsePrice(
  asset: AssetSymbol,
  input: string,
): { units: bigint } | { error: string } {
  const text = input.trim().replaceAll(",", "");
  if (text === "") return { error: "enter a price" };
  if (!/^\d+(\.\d*)?$/.test(text)) return { error: "enter a price like 150.25" };
  const decimals = ASSETS[asset].decimals;
  let units: bigint;
  try {
    units = toUnits(text.endsWith(".") ? text.slice(0, -1) : text, decimals);
  } catch {
    return { error: `${asset} prices have at most ${decimals} decimal places` };
  }
  if (units <= 0n) return { error: "a price is more than 0" };
  return { units };
}
