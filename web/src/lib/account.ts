// The account bar between the server's `account` messages: each position valued at the live
// quote (a long at the bid, a short at the ask), its loss capped at its margin, summed, and
// equity and margin level from there, exactly as the engine computes GET /account
// (src/exness/domain/engine.py `account`, domain/account.py).
import type { AssetSymbol } from "./assets";
import { type BidAsk, exitPrice, pnl, type Side } from "./preview";
import { divRoundHalfEven } from "./rounding";

export interface Valued {
  asset: AssetSymbol;
  side: Side;
  margin: bigint;
  leverage: number;
  openPrice: bigint;
}

export type QuoteBook = Partial<Record<AssetSymbol, BidAsk>>;

/** The position's PnL in cents at the quote (uncapped, as GET /trades/open shows it). */
export function livePnl(position: Valued, quote: BidAsk): bigint {
  return pnl(
    position.side,
    position.margin,
    position.leverage,
    position.openPrice,
    exitPrice(position.side, quote),
  );
}

/** Unrealized PnL of all positions, each loss capped at its margin; undefined without a
 * quote of every asset held. */
export function unrealizedPnl(positions: readonly Valued[], quotes: QuoteBook): bigint | undefined {
  let total = 0n;
  for (const position of positions) {
    const quote = quotes[position.asset];
    if (quote === undefined) return undefined;
    const value = livePnl(position, quote);
    total += value < -position.margin ? -position.margin : value;
  }
  return total;
}

/** equity / used margin × 100 in hundredths of a percent, half-to-even; null with no margin. */
export function marginLevel(equity: bigint, usedMargin: bigint): bigint | null {
  return usedMargin === 0n ? null : divRoundHalfEven(equity * 10_000n, usedMargin);
}

export interface AccountFigures {
  balance: bigint;
  reserved: bigint;
  usedMargin: bigint;
  unrealizedPnl: bigint;
}

export interface AccountView extends AccountFigures {
  equity: bigint;
  /** equity less the margin held by positions and pending orders */
  freeMargin: bigint;
  marginLevel: bigint | null;
  /** unrealized PnL computed here from live quotes (false: the server's figure) */
  live: boolean;
}

/** The server's balances, and unrealized PnL from the live quotes when every one is known. */
export function accountView(
  server: AccountFigures,
  positions: readonly Valued[],
  quotes: QuoteBook,
): AccountView {
  const live = positions.length > 0 ? unrealizedPnl(positions, quotes) : 0n;
  const unrealized = live ?? server.unrealizedPnl;
  const equity = server.balance + server.reserved + server.usedMargin + unrealized;
  return {
    balance: server.balance,
    reserved: server.reserved,
    usedMargin: server.usedMargin,
    unrealizedPnl: unrealized,
    equity,
    freeMargin: equity - server.usedMargin - server.reserved,
    marginLevel: marginLevel(equity, server.usedMargin),
    live: live !== undefined,
  };
}
