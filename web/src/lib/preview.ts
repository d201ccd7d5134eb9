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

/** A quote's two sides: a long (Buy) opens at the ask, a short (Sell) at the bid (§7.1). */
export interface BidAsk {
  bid: bigint;
  ask: bigint;
}

/** Where a position is valued and closed: a long at the bid, a short at the ask. */
export function exitPrice(side: Side, quote: BidAsk): bigint {
  return side === "long" ? quote.bid : quote.ask;
}

/** Where a market order opens: a long at the ask, a short at the bid. */
export function entryPrice(side: Side, quote: BidAsk): bigint {
  return side === "long" ? quote.ask : quote.bid;
}

export interface OrderPreview {
  positionSize: bigint;
  requiredMargin: bigint;
  entry: Record<Side, bigint>;
  liquidation: Record<Side, bigint>;
}

/**
 * What an order would be, per side: a market order opens at the quote (a long at the ask, a
 * short at the bid); a limit or stop order is previewed at its trigger (`entry` for both
 * sides), though a gap past the trigger fills at the market and moves the liquidation price
 * with it.
 */
export function previewOrder(
  marginCents: bigint,
  leverage: number,
  entry: Record<Side, bigint>,
): OrderPreview {
  return {
    positionSize: positionSize(marginCents, leverage),
    requiredMargin: marginCents,
    entry,
    liquidation: {
      long: liquidationPrice("long", entry.long, leverage),
      short: liquidationPrice("short", entry.short, leverage),
    },
  };
}

/** The quote's entries (market) or the trigger for both sides (limit and stop). */
export function entries(quote: BidAsk, trigger?: bigint): Record<Side, bigint> {
  if (trigger !== undefined) return { long: trigger, short: trigger };
  return { long: quote.ask, short: quote.bid };
}
