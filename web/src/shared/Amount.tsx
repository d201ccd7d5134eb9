// Money and prices as text, with a colour for gains and losses (and a sign, not only colour).
import { formatPrice, formatUsd } from "../lib/money";
import type { AssetSymbol } from "../lib/assets";

export function Usd({ cents, signed = false }: { cents: bigint; signed?: boolean }) {
  const tone = !signed || cents === 0n ? "" : cents > 0n ? "gain" : "loss";
  return <span className={`num ${tone}`}>{formatUsd(cents, { signed })}</span>;
}

export function Price({ asset, units }: { asset: AssetSymbol; units: bigint | null | undefined }) {
  return <span className="num">{units == null ? "—" : formatPrice(asset, units)}</span>;
}
