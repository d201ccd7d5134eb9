"""Open positions of one asset, ordered by liquidation price, so a tick is not a scan.

Longs are liquidated when the price falls to their trigger or below, so the ones at risk
first are those with the *highest* trigger: a max-heap. Shorts are liquidated when the
price rises to their trigger or above, so the *lowest* trigger goes first: a min-heap. A
tick looks only at the top of each heap and stops at the first position that survives:
O(k log n) for k liquidations, O(1) when nothing is crossed, whatever the number n of open
positions. A trigger is fixed when the position opens, so nothing is re-keyed as the
price moves.

A position closed by hand is deleted lazily: it leaves the live set at once and its heap
entry is skipped when it reaches the top. When dead entries outnumber live ones the heap
is rebuilt, so memory stays within twice the live size and the cost stays amortized O(1).
`heapq` is C code; it is several times faster here than a sorted list kept in Python.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from exness.domain.positions import LONG, Position

__all__ = ["LiquidationBook"]

_COMPACT_ABOVE = 1024  # don't bother rebuilding small heaps


class LiquidationBook:
    __slots__ = ("_dead_longs", "_dead_shorts", "_live", "_longs", "_shorts")

    def __init__(self) -> None:
        # Entries are (key, order_id); the order id breaks ties, so the order is total.
        self._longs: list[tuple[int, str]] = []  # key: −trigger, so the top is the highest
        self._shorts: list[tuple[int, str]] = []  # key: trigger, so the top is the lowest
        self._live: set[str] = set()
        self._dead_longs = 0
        self._dead_shorts = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, position: Position) -> None:
        self._live.add(position.order_id)
        if position.side == LONG:
            heappush(self._longs, (-position.liquidation_price, position.order_id))
        else:
            heappush(self._shorts, (position.liquidation_price, position.order_id))

    def add_many(self, positions: list[Position]) -> None:
        """Add many at once: one O(n) heapify instead of n pushes (restoring a snapshot)."""
        for position in positions:
            self._live.add(position.order_id)
            if position.side == LONG:
                self._longs.append((-position.liquidation_price, position.order_id))
            else:
                self._shorts.append((position.liquidation_price, position.order_id))
        heapify(self._longs)
        heapify(self._shorts)

    def discard(self, position: Position) -> None:
        """Forget a position closed by hand (its heap entry is dropped later, lazily)."""
        self._live.discard(position.order_id)
        if position.side == LONG:
            self._dead_longs += 1
            if self._dead_longs > _COMPACT_ABOVE and self._dead_longs * 2 > len(self._longs):
                self._longs = self._compacted(self._longs)
                self._dead_longs = 0
        else:
            self._dead_shorts += 1
            if self._dead_shorts > _COMPACT_ABOVE and self._dead_shorts * 2 > len(self._shorts):
                self._shorts = self._compacted(self._shorts)
                self._dead_shorts = 0

    def pop_crossed(self, price: int) -> list[str]:
        """Remove and return the ids of every position that `price` liquidates, in trigger order."""
        crossed: list[str] = []
        live = self._live
        longs = self._longs
        while longs and -longs[0][0] >= price:
            order_id = heappop(longs)[1]
            if order_id in live:
                live.remove(order_id)
                crossed.append(order_id)
            else:
                self._dead_longs -= 1
        shorts = self._shorts
        while shorts and shorts[0][0] <= price:
            order_id = heappop(shorts)[1]
            if order_id in live:
                live.remove(order_id)
                crossed.append(order_id)
            else:
                self._dead_shorts -= 1
        return crossed

    def _compacted(self, heap: list[tuple[int, str]]) -> list[tuple[int, str]]:
        live = self._live
        kept = [entry for entry in heap if entry[1] in live]
        heapify(kept)
        return kept
