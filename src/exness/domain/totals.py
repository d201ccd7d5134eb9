"""Each trader's account totals, kept as their orders change (SPEC §7.6).

The engine sends a trader's account after every batch that changed their state (SPEC §8), so
an account must not cost a pass over all of the trader's positions: with a few hundred open,
that pass was half of the engine's time in the e2e benchmark. Used and reserved margin are
running sums. Unrealized PnL depends on the quotes, so it is kept per trader and asset as
the sum at one bid/ask: each open and close adjusts the sum at that bid/ask, and only when
the asset's quote has moved since is the sum taken again (once per quote, not per batch).
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
        self._held: dict[str, dict[str, int]] = {}  # trader -> asset -> open positions
        # (trader, asset) -> [bid, ask, Σ exposure of their positions in it at that bid/ask]
        self._unrealized: dict[tuple[str, str], list[int]] = {}

    # ---- as orders change ----------------------------------------------------------------------

    def opened(self, position: Position) -> None:
        user_id, asset = position.user_id, position.asset
        self._used[user_id] = self._used.get(user_id, 0) + position.margin
        held = self._held.setdefault(user_id, {})
        held[asset] = held.get(asset, 0) + 1
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
        held[asset] -= 1
        if not held[asset]:
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
        self, user_id: str, quotes: Mapping[str, Quote], positions: Iterable[Position]
    ) -> int:
        """The trader's unrealized PnL at `quotes`; `positions` (theirs) are read only for an
        asset whose quote moved since its sum was taken."""
        total, stale = 0, []
        for asset in self._held.get(user_id, ()):
            quote = quotes.get(asset)
            if quote is None:
                continue
            kept = self._unrealized.get((user_id, asset))
            if kept is not None and kept[0] == quote.bid and kept[1] == quote.ask:
                total += kept[2]
            else:
                stale.append(asset)
        if stale:
            sums = {asset: [quotes[asset].bid, quotes[asset].ask, 0] for asset in stale}
            for position in positions:
                kept = sums.get(position.asset)
                if kept is not None:
                    kept[2] += exposure(position, kept[0], kept[1])
            for asset, kept in sums.items():
                self._unrealized[(user_id, asset)] = kept
                total += kept[2]
        return total

    # ---- inside --------------------------------------------------------------------------------

    def _adjust(self, position: Position, sign: int) -> None:
        kept = self._unrealized.get((position.user_id, position.asset))
        if kept is not None:  # the sum stays the sum at its own bid/ask
            kept[2] += sign * exposure(position, kept[0], kept[1])
