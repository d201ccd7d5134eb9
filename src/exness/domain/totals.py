"""Each trader's account totals, kept as their orders change (SPEC §7.6).

The engine sends a trader's account after every batch that changed their state (SPEC §8), so
an account must not cost a pass over all of the trader's positions: with a few hundred open,
that pass was half of the engine's time in the e2e benchmark. Used and reserved margin are
running sums. Unrealized PnL depends on the quotes, so it is kept per trader and asset as
the sum at one bid/ask: each open and close adjusts the sum at that bid/ask, and only when
the asset's quote has moved since is the sum taken again, over the trader's positions in
that asset (once per quote, not per batch).
The value is the same as the pass over every position (Engine.check_invariant compares).
"""

from __future__ import annotations

from collections.abc import Mapping

from exness.domain.money import div_round_half_even
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
        # trader -> asset -> the ids of their open positions in it (insertion-ordered set)
        self._held: dict[str, dict[str, dict[str, None]]] = {}
        # (trader, asset) -> [bid, ask, Σ exposure of their positions in it at that bid/ask]
        self._unrealized: dict[tuple[str, str], list[int]] = {}

    # ---- as orders change ----------------------------------------------------------------------

    def opened(self, position: Position) -> None:
        user_id, asset = position.user_id, position.asset
        self._used[user_id] = self._used.get(user_id, 0) + position.margin
        self._held.setdefault(user_id, {}).setdefault(asset, {})[position.order_id] = None
        self._adjust(position, 1)

    def closed(self, position: Position, remaining: Position | None) -> None:
        """`position` was closed, whole or (leaving `remaining`) in part."""
        user_id, asset = position.user_id, position.asset
        self._adjust(position, -1)
        self._used[user_id] -= position.margin
        if remaining is not None:
            self._used[user_id] += remaining.margin
            self._adjust(remaining, 1)
            return
        held = self._held[user_id]
        ids = held[asset]
        del ids[position.order_id]
        if not ids:
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

    def unrealized(
        self, user_id: str, quotes: Mapping[str, Quote], positions: Mapping[str, Position]
    ) -> int:
        """The trader's unrealized PnL at `quotes`; their positions (in `positions`, by id)
        are read only in an asset whose quote moved since its sum was taken."""
        total = 0
        for asset, ids in self._held.get(user_id, {}).items():
            quote = quotes.get(asset)
            if quote is None:
                continue
            bid, ask = quote.bid, quote.ask
            kept = self._unrealized.get((user_id, asset))
            if kept is None or kept[0] != bid or kept[1] != ask:
                kept = self._unrealized[(user_id, asset)] = [
                    bid,
                    ask,
                    _sum(ids, positions, bid, ask),
                ]
            total += kept[2]
        return total

    # ---- inside --------------------------------------------------------------------------------

    def _adjust(self, position: Position, sign: int) -> None:
        kept = self._unrealized.get((position.user_id, position.asset))
        if kept is not None:  # the sum stays the sum at its own bid/ask
            kept[2] += sign * exposure(position, kept[0], kept[1])


def _sum(ids: Mapping[str, None], positions: Mapping[str, Position], bid: int, ask: int) -> int:
    """Σ exposure(position, bid, ask) over `ids`, written out: with a thousand positions
    this loop is the cost of an account after the quote moved."""
    total = 0
    for order_id in ids:
        position = positions[order_id]
        margin, open_price = position.margin, position.open_price
        move = bid - open_price if position.side == LONG else open_price - ask
        value = div_round_half_even(margin * position.leverage * move, open_price)
        total += value if value > -margin else -margin
    return total
