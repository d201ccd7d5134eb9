"""AccountTotals (domain/totals.py): the running account sums equal a pass over the positions,
ties and capped losses included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from exness.domain.positions import LONG, SHORT, Position
from exness.domain.quotes import Quote
from exness.domain.totals import AccountTotals, exposure

ASSET = "SOL"


def position(order_id: str, side: str, margin: int, leverage: int, open_price: int) -> Position:
    return Position(order_id, "alice", ASSET, side, margin, leverage, open_price, 0, 0)  # type: ignore[arg-type]


def by_pass(positions: list[Position], bid: int, ask: int) -> int:
    return sum(exposure(p, bid, ask) for p in positions)


def unrealized(totals: AccountTotals, bid: int, ask: int) -> int:
    return totals.unrealized("alice", {ASSET: Quote((bid + ask) // 2, 0, bid, ask)})


def test_a_half_cent_rounds_to_even_on_either_side():
    totals = AccountTotals()
    # 10 cents × 1 from 20: a PnL of half the move; at 21 +0.5 → 0, at 23 +1.5 → 2
    totals.opened(position("a", LONG, 10, 1, 20))
    assert unrealized(totals, 21, 21) == 0
    assert unrealized(totals, 23, 23) == 2
    totals.opened(position("b", SHORT, 10, 1, 20))
    assert unrealized(totals, 21, 21) == 0  # the short: -0.5 → 0
    assert unrealized(totals, 23, 23) == 2 - 2  # the short: -1.5 → -2
    assert unrealized(totals, 25, 27) == 2 - 4  # long at the bid +2.5 → 2, short at the ask -3.5


def test_a_loss_is_capped_at_the_margin():
    totals = AccountTotals()
    totals.opened(position("a", LONG, 100, 10, 1000))
    assert unrealized(totals, 1, 1) == -100


positions_strategy = st.lists(
    st.tuples(
        st.sampled_from((LONG, SHORT)),
        st.integers(1, 50),  # margin
        st.integers(1, 5),  # leverage
        st.integers(1, 20),  # entry price: small numbers make ties and caps common
    ),
    max_size=12,
)


@given(
    positions_strategy,
    st.lists(st.tuples(st.integers(1, 40), st.integers(0, 4)), min_size=1, max_size=4),
    st.data(),
)
def test_the_running_sums_equal_a_pass_over_the_positions(terms, quotes, data):
    totals = AccountTotals()
    open_now: dict[str, Position] = {}
    for n, (side, margin, leverage, price) in enumerate(terms):
        bid, spread = quotes[n % len(quotes)]
        assert unrealized(totals, bid, bid + spread) == by_pass(
            list(open_now.values()), bid, bid + spread
        )
        opened = position(str(n), side, margin, leverage, price)
        totals.opened(opened)
        open_now[opened.order_id] = opened
        if data.draw(st.booleans()):  # close one, whole or in part
            closing = open_now[data.draw(st.sampled_from(sorted(open_now)))]
            left = data.draw(st.integers(0, closing.margin - 1))
            remaining = closing.with_margin(left) if left else None
            totals.closed(closing, remaining)
            if remaining is None:
                del open_now[closing.order_id]
            else:
                open_now[closing.order_id] = remaining
    for bid, spread in quotes:
        assert unrealized(totals, bid, bid + spread) == by_pass(
            list(open_now.values()), bid, bid + spread
        )
        assert totals.used("alice") == sum(p.margin for p in open_now.values())
