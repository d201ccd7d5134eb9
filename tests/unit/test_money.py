from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exness.domain.money import ceil_div, div_round_half_even, round_half_even, to_decimal


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [
        (1, 2, 0),
        (3, 2, 2),
        (5, 2, 2),
        (-1, 2, 0),
        (-3, 2, -2),
        (-5, 2, -2),
        (7, 3, 2),
        (-7, 3, -2),
        (8, 3, 3),
        (-69930000, 3000000000, 0),
        (1, -2, 0),
        (3, -2, -2),
    ],
)
def test_half_even_table(num, den, expected):
    assert div_round_half_even(num, den) == expected


@given(st.integers(-(10**30), 10**30), st.integers(-(10**18), 10**18).filter(bool))
def test_half_even_agrees_with_exact_rational_rounding(num, den):
    exact = Fraction(num, den)
    result = div_round_half_even(num, den)
    assert result == round(exact)  # Fraction.__round__ rounds half to even, exactly
    assert abs(exact - result) <= Fraction(1, 2)
    assert round_half_even(exact) == result


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**9))
def test_ceil_div(num, den):
    assert ceil_div(num, den) == -((-Fraction(num, den)).__floor__())


def test_to_decimal_is_exact():
    assert to_decimal(-1250, 2) == Decimal("-12.50")
    assert str(to_decimal(201_470_000, 6)) == "201.470000"
