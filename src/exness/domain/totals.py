"""Each trader's account totals, kept as their orders change (SPEC §7.6).

The engine sends a trader's account after every batch that changed their state (SPEC §8), so
an account must not cost a pass over all of the trader's positions: with a few hundred open,
that pass was half of the engine's time in the e2e benchmark. Used and reserved margin are
running sums. Unrealized PnL depends on the quotes: it is kept per trader, asset and side
by a StepValuation (domain/valuation.py), which moves the sum to a new bid or ask by valuing
again only the positions whose PnL that move changed by a cent. The value is the same as
the pass over every position (Engine.check_invariant compares).
"""

from __future__ import annotations

from collections.abc import Mapping

from exness.domain.positions import LONG, Position
from exness.domain.quotes import Quote
from exness.domain.valuation import StepValuation, Terms

__all__ = ["AccountTotals", "exposure"]


def exposure(position: Position, bid: int, ask: int) -> int:
    """The position's unrealized PnL in cents at `bid`/`ask` (a long is valued at the bid, a
    short at the ask), its loss capped at its margin."""
    price = bid if position.side == LONG else ask
    return max(position.pnl_at(price), -position.margin)


class _Trader:
    """One trader's totals, in one record so that an order's change is one lookup."""

    __slots__ = ("books", "reserved", "used")

    def __init__(self) -> None:
        self.used = 0  # cents in open positions
        self.reserved = 0  # cents held by pending orders
        # asset -> (longs at the bid, shorts at −ask)
        self.books: dict[str, tuple[StepValuation, StepValuation]] = {}


class AccountTotals:
    def __init__(self) -> None:
        self._traders: dict[str, _Trader] = {}

    # ---- as orders change ----------------------------------------------------------------------

    def opened(self, position: Position) -> None:
        user_id, asset = position.user_id, position.asset
        trader = self._traders.get(user_id)
        if trader is None:
            trader = self._traders[user_id] = _Trader()
        trader.used += position.margin
        sides = trader.books.get(asset)
        if sides is None:
            sides = trader.books[asset] = (StepValuation(), StepValuation())
        sides[position.side != LONG].add(position.order_id, _terms(position))

    def closed(self, position: Position, remaining: Position | None) -> None:
        """`position` was closed, whole or (leaving `remaining`) in part."""
        trader = self._traders[position.user_id]
        same_side = trader.books[position.asset][position.side != LONG]
        if remaining is None:
            trader.used -= position.margin
            # an emptied book is kept: a trader who trades an asset once usually trades again
            same_side.remove(position.order_id)
            return
        trader.used -= position.margin - remaining.margin
        same_side.add(position.order_id, _terms(remaining))  # its new terms replace

    def reserve(self, user_id: str, cents: int) -> None:
        """A pending order placed (`cents` > 0), or cancelled or filled (< 0)."""
        trader = self._traders.get(user_id)
        if trader is None:
            trader = self._traders[user_id] = _Trader()
        trader.reserved += cents

    # ---- the account -------------------------------------------------------------------------

    def used(self, user_id: str) -> int:
        trader = self._traders.get(user_id)
        return 0 if trader is None else trader.used

    def reserved(self, user_id: str) -> int:
        trader = self._traders.get(user_id)
        return 0 if trader is None else trader.reserved

    def unrealized(self, user_id: str, quotes: Mapping[str, Quote]) -> int:
        """The trader's unrealized PnL at `quotes` (longs at the bid, shorts at the ask)."""
        trader = self._traders.get(user_id)
        if trader is None:
            return 0
        total = 0
        for asset, (longs, shorts) in trader.books.items():
            quote = quotes.get(asset)
            if quote is None:
                continue
            if longs:
                total += longs.total_at(quote.bid)
            if shorts:
                total += shorts.total_at(-quote.ask)
        return total


def _terms(position: Position) -> Terms:
    """What valuing a position needs, in StepValuation's increasing form: a short is kept at
    −ask from the entry −P0."""
    entry = position.open_price
    exposure_cents = position.margin * position.leverage
    if position.side == LONG:
        return (exposure_cents, entry, entry, position.margin)
    return (exposure_cents, -entry, entry, position.margin)
