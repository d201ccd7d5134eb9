"""Every price-triggered action of one asset, so a tick is not a scan (SPEC §7, ARCHITECTURE §2).

Liquidations, stop losses, take profits and pending limit/stop orders are all one kind of
thing: something fires when the bid or the ask falls to, or rises to, a level. There are
four directions, each a heap ordered so that its top is the first entry a move would cross:

    BID_FALLS  bid ≤ level   long liquidation, long stop loss, short stop order    (max-heap)
    BID_RISES  bid ≥ level   long take profit, short limit order                   (min-heap)
    ASK_FALLS  ask ≤ level   short take profit, long limit order                   (max-heap)
    ASK_RISES  ask ≥ level   short liquidation, short stop loss, long stop order   (min-heap)

A tick peeks at the four tops and stops at the first that is not crossed: O(1) when nothing
fires, O(log n) per entry that fires, whatever the number n of entries.

Fire order within one tick (deterministic, so replay is exact): the directions in the order
above; within a direction, the level a move reaches first (highest for "falls", lowest for
"rises"), then the entry added first.

An entry is removed lazily: `remove` forgets it at once (it will never fire), and its heap
item is skipped when it reaches the top. When dead items outnumber live ones the heaps are
rebuilt, so memory stays within twice the live size and the cost amortized O(1).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Final

__all__ = [
    "ASK_FALLS",
    "ASK_RISES",
    "BID_FALLS",
    "BID_RISES",
    "LIQUIDATION",
    "PENDING",
    "STOP_LOSS",
    "TAKE_PROFIT",
    "Fired",
    "TriggerBook",
]

# directions: which side of the quote, and which way it must move
BID_FALLS: Final = 0
BID_RISES: Final = 1
ASK_FALLS: Final = 2
ASK_RISES: Final = 3
_FALLS = (True, False, True, False)

# kinds of entries
LIQUIDATION: Final = 0
STOP_LOSS: Final = 1
TAKE_PROFIT: Final = 2
PENDING: Final = 3

_COMPACT_ABOVE = 1024  # don't bother rebuilding small heaps

Fired = tuple[int, str]  # (kind, order id)
# a heap item: (key, sequence, order id, kind); key is −level for "falls" (a max-heap)
_Item = tuple[int, int, str, int]


class TriggerBook:
    __slots__ = ("_dead", "_heaps", "_items", "_live", "_sequence")

    def __init__(self) -> None:
        self._heaps: tuple[list[_Item], ...] = ([], [], [], [])
        # per kind: order id -> the sequence number of its one live entry of that kind
        self._live: tuple[dict[str, int], ...] = ({}, {}, {}, {})
        self._sequence = 0
        self._dead = 0  # heap items whose entry was removed
        self._items = 0  # heap items, live and dead

    def __len__(self) -> int:
        return sum(len(live) for live in self._live)

    def add(self, direction: int, kind: int, level: int, order_id: str) -> None:
        """An entry that fires when the quote crosses `level` in `direction`, for an order
        with no live entry of this kind (else use `replace`)."""
        self._sequence = sequence = self._sequence + 1
        self._live[kind][order_id] = sequence
        self._items += 1
        heappush(
            self._heaps[direction],
            (-level if _FALLS[direction] else level, sequence, order_id, kind),
        )

    def replace(self, direction: int, kind: int, level: int, order_id: str) -> None:
        """`add`, replacing the order's live entry of the same kind, if any."""
        if order_id in self._live[kind]:
            self._dead += 1
        self.add(direction, kind, level, order_id)

    def add_many(self, entries: list[tuple[int, int, int, str]]) -> None:
        """Many (direction, kind, level, order id) at once: one heapify per heap instead of a
        push each (restoring a snapshot)."""
        heaps, lives = self._heaps, self._live
        for direction, kind, level, order_id in entries:
            self._sequence += 1
            lives[kind][order_id] = self._sequence
            key = -level if _FALLS[direction] else level
            heaps[direction].append((key, self._sequence, order_id, kind))
        self._items += len(entries)
        for heap in heaps:
            heapify(heap)

    def remove(self, kind: int, order_id: str) -> None:
        """Forget the order's entry of this kind (its heap item is dropped later, lazily)."""
        if self._live[kind].pop(order_id, None) is None:
            return
        self._dead += 1
        if self._dead > _COMPACT_ABOVE and self._dead * 2 > self._items:
            self._compact()

    def pop_crossed(self, bid: int, ask: int) -> list[Fired]:
        """Remove and return every live entry this quote crosses, in fire order."""
        fired: list[Fired] = []
        lives = self._live
        for direction, heap in enumerate(self._heaps):
            if not heap:
                continue
            falls = _FALLS[direction]
            price = bid if direction < ASK_FALLS else ask
            # crossed: for "falls" price ≤ level, i.e. −level ≤ −price; for "rises" level ≤ price
            limit = -price if falls else price
            while heap and heap[0][0] <= limit:
                _, sequence, order_id, kind = heappop(heap)
                self._items -= 1
                live = lives[kind]
                if live.get(order_id) == sequence:
                    del live[order_id]
                    fired.append((kind, order_id))
                else:
                    self._dead -= 1
        return fired

    def _compact(self) -> None:
        lives = self._live
        for heap in self._heaps:
            heap[:] = [item for item in heap if lives[item[3]].get(item[2]) == item[1]]
            heapify(heap)
        self._dead = 0
        self._items = sum(map(len, self._heaps))
