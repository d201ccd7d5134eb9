"""StepValuation (domain/valuation.py): the kept sum equals the sum over the positions at every
price, ties and capped losses included, whatever the order of adds, removes and moves."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exness.domain.positions import LONG, SHORT, Position
from exness.domain.totals import exposure
from exness.domain.valuation import StepValuation, Terms, step_down, step_up, value_at

# small numbers make half-cent ties and capped losses common; large divisors make small moves
# (the ones followed by steps) common
terms_strategy = st.tuples(
    st.integers(1, 60),  # exposure
    st.integers(-40, 40),  # entry (negative: a short's −P0)
    st.integers(1, 40) | st.integers(100, 5_000),  # divisor (the open price)
    st.integers(1, 30),  # margin
)


@given(terms_strategy, st.integers(-200, 200))
def test_the_steps_around_a_price_are_where_the_value_changes(terms: Terms, price: int):
    value = value_at(terms, price)
    up = step_up(terms, value)
    assert up > price
    assert value_at(terms, up) > value and value_at(terms, up - 1) == value
    down = step_down(terms, value)
    if down is None:
        assert value == -terms[3] and value_at(terms, price - 10_000) == value
    else:
        assert down < price
        assert value_at(terms, down) < value and value_at(terms, down + 1) == value


def test_value_at_is_a_position_s_pnl_rounded_half_even_and_capped():
    long = Position("a", "u", "SOL", LONG, 10, 3, 20, 0, 0)
    short = Position("b", "u", "SOL", SHORT, 10, 3, 20, 0, 0)
    for bid in range(1, 60):
        assert value_at((30, 20, 20, 10), bid) == exposure(long, bid, bid)
        assert value_at((30, -20, 20, 10), -bid) == exposure(short, bid, bid)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 9), terms_strategy),
        st.tuples(st.just("remove"), st.integers(0, 9), st.none()),
        st.tuples(st.just("price"), st.integers(-300, 300), st.none()),
        st.tuples(st.just("nudge"), st.integers(-3, 3), st.none()),  # small moves: few steps
    ),
    max_size=60,
)


@given(operations)
def test_the_kept_total_is_the_sum_at_every_price(steps):
    book = StepValuation()
    held: dict[str, Terms] = {}
    price = 0
    for kind, number, terms in steps:
        if kind == "add":
            book.add(f"o{number}", terms)
            held[f"o{number}"] = terms
        elif kind == "remove" and f"o{number}" in held:
            book.remove(f"o{number}")
            del held[f"o{number}"]
        else:
            price = number if kind == "price" else price + number
            assert book.total_at(price) == sum(value_at(t, price) for t in held.values())
        assert len(book) == len(held)
    assert book.total_at(price) == sum(value_at(t, price) for t in held.values())


fine_terms = st.tuples(
    st.integers(1, 60),  # exposure
    st.integers(-40, 40),  # entry
    st.integers(200, 3_000),  # a cent every 3 to 3,000 price units: moves of a few step few
    st.integers(1, 3),  # margin: capped losses come often
)


@given(
    st.lists(fine_terms, min_size=1, max_size=12),
    st.lists(
        st.tuples(st.integers(-30, 30), st.integers(0, 11), st.sampled_from(("", "add", "del"))),
        max_size=80,
    ),
    st.data(),
)
def test_small_moves_followed_by_steps_keep_the_sum(initial, moves, data):
    """Many small moves (the book follows them by steps, its heaps built after the first),
    with positions added and removed between them."""
    book = StepValuation()
    held = {f"o{n}": terms for n, terms in enumerate(initial)}
    for order_id, terms in held.items():
        book.add(order_id, terms)
    price = 0
    book.total_at(price)
    for step, number, change in moves:
        price += step
        if change == "add":
            terms = data.draw(fine_terms)
            book.add(f"o{number}", terms)
            held[f"o{number}"] = terms
        elif change == "del" and f"o{number}" in held:
            book.remove(f"o{number}")
            del held[f"o{number}"]
        assert book.total_at(price) == sum(value_at(t, price) for t in held.values())


class Counting(StepValuation):
    """Counts the positions valued again one by one (each is pushed with its new steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.stepped = 0

    def _push(self, order_id: str, terms: Terms, value: int) -> None:
        self.stepped += 1
        super()._push(order_id, terms, value)


def test_a_small_move_values_only_the_positions_it_steps():
    """A thousand positions whose steps are a price unit apart: a move of one unit values one
    of them again, not the thousand; a jump values them all in one pass."""
    book = Counting()
    terms = [(1, n, 1000, 10**6) for n in range(1000)]  # a cent per 1,000 units, entries 0..999
    for n, t in enumerate(terms):
        book.add(f"o{n}", t)
    assert book.total_at(0) == sum(value_at(t, 0) for t in terms)
    for price in range(1, 30):
        book.stepped = 0
        assert book.total_at(price) == sum(value_at(t, price) for t in terms)
        assert book.stepped <= 2, (price, book.stepped)
    book.stepped = 0
    assert book.total_at(50_000) == sum(value_at(t, 50_000) for t in terms)
    assert book.stepped == 0  # valued in one pass, not position by position
