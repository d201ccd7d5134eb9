// The pre-trade preview: the engine's arithmetic (src/exness/domain/positions.py), exactly.
// Margin and PnL in cents, prices in the asset's units, all bigint.
import { ceilDiv, divRoundHalfEven, floorDiv } from "./rounding";

export type Side = "long" | "short";

/** Exposure `m·L`, in cents. */
export function positionSize(marginCents: bigint, leverage: number): bigint {
  return marginCents * BigInt(leverage);
}

/**
 * The price (asset units) at which the loss equals the margin: a long at or below
 * floor(P0·(L−1)/L), a short at or above ceil(P0·(L+1)/L). Prices are integers, so this
 * integer trigger is exactly the engine's condition.
 */
export function liquidationPrice(side: Side, openPrice: bigint, leverage: number): bigint {
  const l = BigInt(leverage);
  return side === "long" ? floorDiv(openPrice * (l - 1n), l) : ceilDiv(openPrice * (l + 1n), l);
}

/** Profit (negative: loss) in cents at `price`: m·L·(P−P0)/P0, half-to-even to the cent. */
export function pnl(
  side: Side,
  marginCents: bigint,
  leverage: number,
  openPrice: bigint,
  price: bigint,
): bigint {
  const move = side === "long" ? price - openPrice : openPrice - price;
  return divRoundHalfEven(marginCents * BigInt(leverage) * move, openPrice);
}

/** Where each side would fill: a long (Buy) at the ask, a short (Sell) at the bid (§7.1). */
export interface Quote {
  bid: bigint;
  ask: bigint;
}

export interface OrderPreview {
  positionSize: bigint;
  requiredMargin: bigint;
  entry: Record<Side, bigint>;
  liquidation: Record<Side, bigint>;
}

export function previewOrder(marginCents: bigint, leverage: number, quote: Quote): OrderPreview {
  return {
    positionSize: positionSize(marginCents, leverage),
    requiredMargin: marginCents,
    entry: { long: quote.ask, short: quote.bid },
    liquidation: {
      long: liquidationPrice("long", quote.ask, leverage),
      short: liquidationPrice("short", quote.bid, leverage),
    },
  };
}
