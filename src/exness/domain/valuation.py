"""The unrealized PnL of a set of positions on one side of one asset, kept across price moves.

Each position's PnL is rounded half-to-even to the cent and its loss capped at its margin
(SPEC §3, §7.6), so the sum of the positions' PnL cannot be had from totals of their terms:
it is a sum of step functions of the price. But a position's PnL changes only when the
price crosses one of its steps, and a quote rarely moves more than a few steps of any
position (a cent of a $1,000 exposure is 0.1% of the price). So the sum is kept at one price,
with each position's next step up and next step down in two heaps; a new price takes only
the positions whose step it crossed, each in O(log n), and none when it crossed nothing.
A move that steps many positions (a jump) is a plain pass over them, and the heaps wait
until the moves are small again.

One increasing form serves both sides: a long at bid B is worth e·(B−P0)/P0 and a short at
ask A is worth e·(P0−A)/P0, which is e·(Y−c)/P0 with Y = −A and c = −P0; so a short book
is kept at Y = −ask (the caller's `price`) and entry −P0.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

__all__ = ["StepValuation", "Terms", "step_down", "step_up", "total_of", "value_at"]

# (exposure e = margin × leverage in cents, entry c, divisor d = the open price, margin m)
Terms = tuple[int, int, int, int]

NO_STEP = None  # a capped loss has no step below


def value_at(terms: Terms, price: int) -> int:
    """max(round_half_even(e·(price − c)/d), −m), in integers."""
    exposure, entry, divisor, margin = terms
    value, rest = divmod(exposure * (price - entry), divisor)
    rest += rest
    if rest > divisor or (rest == divisor and value & 1):
        value += 1
    return value if value > -margin else -margin


def step_up(terms: Terms, value: int) -> int:
    """The lowest price at which the position is worth more than `value` (its worth now)."""
    exposure, entry, divisor, _ = terms
    # rounds to value + 1 or more from e·(p − c)/d ≥ value + 1/2 on, a tie rounding to even
    target = (2 * value + 1) * divisor
    twice_exposure = 2 * exposure
    price = entry - (-target // twice_exposure)  # entry + ceil(target / 2e)
    if target % twice_exposure == 0 and value & 1 == 0:  # a tie at value + 1/2 keeps value
        price += 1
    return price


def step_down(terms: Terms, value: int) -> int | None:
    """The highest price at which the position is worth less than `value`, or None when its
    loss is already capped at its margin."""
    exposure, entry, divisor, margin = terms
    if value <= -margin:
        return NO_STEP
    # rounds to value − 1 or less while e·(p − c)/d ≤ value − 1/2, a tie rounding to even
    target = (2 * value - 1) * divisor
    twice_exposure = 2 * exposure
    price = entry + target // twice_exposure  # entry + floor(target / 2e)
    if target % twice_exposure == 0 and value & 1 == 0:  # a tie at value − 1/2 keeps value
        price -= 1
    return price


def total_of(terms: Iterable[Terms], price: int) -> int:
    """Σ value_at over `terms`, written out: with a thousand positions this loop is what an
    account costs after a jump."""
    total = 0
    for exposure, entry, divisor, margin in terms:
        value, rest = divmod(exposure * (price - entry), divisor)
        rest += rest
        if rest > divisor or (rest == divisor and value & 1):
            value += 1
        total += value if value > -margin else -margin
    return total


class StepValuation:
    """Σ value_at(terms, price) over the positions added and not removed, at any price.

    Two ways to follow the price: by steps (the heaps, each position's value kept), while
    moves are small beside the positions' steps; and by plain passes (only the total kept)
    after a move that stepped many of them, until a move is small enough again to build
    the heaps (no more than about a quarter of a cent for the steepest position)."""

    JUMP_SHARE = 4  # a move that steps more than 1/4 of the positions is a jump

    __slots__ = ("_price", "_steepest", "_steps", "_terms", "_total")

    def __init__(self) -> None:
        # Small on purpose: a trader's first order in an asset makes two (longs, shorts).
        self._terms: dict[str, Terms] = {}
        self._price: int | None = None  # the price the total is at
        self._total = 0
        # the steepest position (most cents per price unit: exposure / divisor), as a pair
        self._steepest = (0, 1)
        self._steps: _Steps | None = None  # following the price by steps, or by passes

    def __len__(self) -> int:
        return len(self._terms)

    def add(self, order_id: str, terms: Terms) -> None:
        """A position, or one part-closed again under the same id (its new terms)."""
        if order_id in self._terms:
            self.remove(order_id)
        self._terms[order_id] = terms
        exposure, _, divisor, _ = terms
        steepest = self._steepest
        if exposure * steepest[1] > steepest[0] * divisor:
            self._steepest = (exposure, divisor)
        if self._price is not None:
            value = value_at(terms, self._price)
            self._total += value
            steps = self._steps
            if steps is not None:
                steps.values[order_id] = value
                steps.push(order_id, terms, value)

    def remove(self, order_id: str) -> None:
        terms = self._terms.pop(order_id)
        if not self._terms:  # empty: nothing to value, no stale heap entries to keep
            self._total, self._steepest, self._steps = 0, (0, 1), None
            return
        if self._price is None:
            return
        steps = self._steps
        if steps is not None:
            self._total -= steps.values.pop(order_id)
            del steps.versions[order_id]  # its heap entries are stale now
        else:
            self._total -= value_at(terms, self._price)

    def total_at(self, price: int) -> int:
        """The sum at `price`; the book stays there."""
        before = self._price
        if price == before:
            return self._total
        steps = self._steps
        if before is not None and steps is not None:
            if price > before:
                self._move(price, steps, steps.ups, price)  # steps up at or below the price
            else:
                self._move(price, steps, steps.downs, -price)  # steps down at or above it
            return self._total
        self._total, self._price = total_of(self._terms.values(), price), price
        exposure, divisor = self._steepest
        if before is not None and 4 * abs(price - before) * exposure <= divisor:
            self._build()  # a small move: follow the next ones by steps
        return self._total

    # ---- inside --------------------------------------------------------------------------------

    def _move(self, price: int, steps: _Steps, heap: list[_Step], bound: int) -> None:
        """To `price`: the positions whose steps in `heap` (keyed so that a crossed step is
        at most `bound`) it crossed are valued again; a jump is a plain pass instead."""
        versions, jump = steps.versions, len(self._terms) // self.JUMP_SHARE + 8
        stepped: list[str] = []
        while heap and heap[0][0] <= bound:
            _, version, order_id = heapq.heappop(heap)
            if versions.get(order_id) != version:
                continue  # removed, or stepped since: a stale entry
            stepped.append(order_id)
            if len(stepped) > jump:
                self._steps = None
                self._total, self._price = total_of(self._terms.values(), price), price
                return
        self._price = price
        values, terms_of = steps.values, self._terms
        for order_id in stepped:
            terms = terms_of[order_id]
            value = value_at(terms, price)
            self._total += value - values[order_id]
            values[order_id] = value
            steps.push(order_id, terms, value)
        if len(steps.ups) + len(steps.downs) > 4 * len(terms_of) + 64:
            self._build()  # too many stale entries

    def _build(self) -> None:
        """Every position's value at the price, and the heaps of their steps."""
        price = self._price
        assert price is not None
        version = 1
        values: dict[str, int] = {}
        ups: list[_Step] = []
        downs: list[_Step] = []
        steepest = (0, 1)
        for order_id, terms in self._terms.items():
            values[order_id] = value = value_at(terms, price)
            ups.append((step_up(terms, value), version, order_id))
            down = step_down(terms, value)
            if down is not None:
                downs.append((-down, version, order_id))
            if terms[0] * steepest[1] > steepest[0] * terms[2]:
                steepest = (terms[0], terms[2])
        heapq.heapify(ups)
        heapq.heapify(downs)
        self._steps = _Steps(values, dict.fromkeys(values, version), ups, downs, version)
        self._steepest = steepest


# a heap entry: (step up, or −step down, so that both heaps are lowest first; version; order id)
_Step = tuple[int, int, str]


class _Steps:
    """Following the price by steps: each position's value at the price, and its next step
    up and down in two heaps; an entry is stale once its order's version has moved on."""

    __slots__ = ("downs", "ups", "values", "version", "versions")

    def __init__(
        self,
        values: dict[str, int],
        versions: dict[str, int],
        ups: list[_Step],
        downs: list[_Step],
        version: int,
    ) -> None:
        self.values = values
        self.versions = versions  # order id -> the version of its live heap entries
        self.ups = ups
        self.downs = downs
        self.version = version  # the newest

    def push(self, order_id: str, terms: Terms, value: int) -> None:
        self.version = version = self.version + 1
        self.versions[order_id] = version
        heapq.heappush(self.ups, (step_up(terms, value), version, order_id))
        down = step_down(terms, value)
        if down is not None:
            heapq.heappush(self.downs, (-down, version, order_id))
