"""Each trader's account totals, kept as their orders change (SPEC §7.6).

The engine sends a trader's account after every batch that changed their state (SPEC §8), so
an account must not cost a pass over all of the trader's positions: with a few hundred open,
that pass was half of the engine's time in the e2e benchmark. Used and reserved margin are
running sums. Unrealized PnL depends on the quotes, so it is kept per trader and asset as
the sum at one bid/ask: each open and close adjusts the sum at that bid/ask, and only when
the asset's quote has moved since is the sum taken again, over the trader's positions in
that asset (once per quote, not per batch), from each position's valuation terms kept here
(exposure, entry price, margin; longs and shorts apart), not from the positions themselves.
The value is the same as the pass over every position (Engine.check_invariant compares).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from exness.domain.positions import LONG, Position
from exness.domain.quotes import Quote

__all__ = ["AccountTotals", "exposure"]


def exposure(position: Position, bid: int, ask: int) -> int:
    """The position's unrealized PnL in cents at `bid`/`ask` (a long is valued at the bid, a
    short at the ask), its loss capped at its margin."""
    price = bid if position.side == LONG else ask
    return max(position.pnl_at(price), -position.margin)


class AccountTotals:
    def __init__(self) -> None:
        self._used: dict[str, int] = {}  # trader -> cents in open positions
        self._reserved: dict[str, int] = {}  # trader -> cents held by pending orders
        # trader -> asset -> (longs, shorts): order id -> the position's valuation terms
        self._held: dict[str, dict[str, tuple[dict[str, Terms], dict[str, Terms]]]] = {}
        # (trader, asset) -> [bid, ask, Σ exposure of their positions in it at that bid/ask]
        self._unrealized: dict[tuple[str, str], list[int]] = {}

    # ---- as orders change ----------------------------------------------------------------------

    def opened(self, position: Position) -> None:
        user_id, asset = position.user_id, position.asset
        self._used[user_id] = self._used.get(user_id, 0) + position.margin
        held = self._held.setdefault(user_id, {})
        sides = held.get(asset)
        if sides is None:
            sides = held[asset] = ({}, {})
        sides[position.side != LONG][position.order_id] = _terms(position)
        self._adjust(position, 1)

    def closed(self, position: Position, remaining: Position | None) -> None:
        """`position` was closed, whole or (leaving `remaining`) in part."""
        user_id, asset = position.user_id, position.asset
        self._adjust(position, -1)
        self._used[user_id] -= position.margin
        held = self._held[user_id]
        sides = held[asset]
        same_side = sides[position.side != LONG]
        if remaining is not None:
            self._used[user_id] += remaining.margin
            same_side[position.order_id] = _terms(remaining)
            self._adjust(remaining, 1)
            return
        del same_side[position.order_id]
        if not sides[0] and not sides[1]:
            del held[asset]
            self._unrealized.pop((user_id, asset), None)

    def reserve(self, user_id: str, cents: int) -> None:
        """A pending order placed (`cents` > 0), or cancelled or filled (< 0)."""
        self._reserved[user_id] = self._reserved.get(user_id, 0) + cents

    # ---- the account -------------------------------------------------------------------------

    def used(self, user_id: str) -> int:
        return self._used.get(user_id, 0)

    def reserved(self, user_id: str) -> int:
        return self._reserved.get(user_id, 0)

    def unrealized(self, user_id: str, quotes: Mapping[str, Quote]) -> int:
        """The trader's unrealized PnL at `quotes`, summed again only in an asset whose quote
        moved since its sum was taken."""
        total = 0
        for asset, (longs, shorts) in self._held.get(user_id, {}).items():
            quote = quotes.get(asset)
            if quote is None:
                continue
            bid, ask = quote.bid, quote.ask
            kept = self._unrealized.get((user_id, asset))
            if kept is None or kept[0] != bid or kept[1] != ask:
                value = _valued(longs.values(), bid, 1) + _valued(shorts.values(), ask, -1)
                kept = self._unrealized[(user_id, asset)] = [bid, ask, value]
            total += kept[2]
        return total

    # ---- inside --------------------------------------------------------------------------------

    def _adjust(self, position: Position, sign: int) -> None:
        kept = self._unrealized.get((position.user_id, position.asset))
        if kept is not None:  # the sum stays the sum at its own bid/ask
            kept[2] += sign * exposure(position, kept[0], kept[1])


# What valuing a position needs: its exposure (margin × leverage, cents), entry price, margin
Terms = tuple[int, int, int]


def _terms(position: Position) -> Terms:
    return (position.margin * position.leverage, position.open_price, position.margin)


def _valued(terms: Iterable[Terms], price: int, sign: int) -> int:
    """Σ exposure over positions of one side at `price` (`sign` 1: longs, -1: shorts), each
    rounded half-to-even to the cent and its loss capped at its margin, as Position.pnl_at
    and exposure() do, written out: with a thousand positions this loop is the cost of an
    account after the quote moved."""
    total = 0
    for exposure_cents, open_price, margin in terms:
        value, twice_rest = divmod(sign * exposure_cents * (price - open_price), open_price)
        twice_rest += twice_rest
        if twice_rest > open_price or (twice_rest == open_price and value & 1):
            value += 1
        total += value if value > -margin else -margin
    return total
