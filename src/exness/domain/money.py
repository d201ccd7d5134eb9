"""Exact money and price arithmetic (SPEC §3).

Amounts are integers in minor units: USD in cents, prices in each asset's own units
(BTC 4 decimals, ETH and SOL 6). Intermediate results are exact rationals; rounding
happens once, at the end, half-to-even, to the unit. No binary float is ever involved.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

__all__ = [
    "USD_DECIMALS",
    "ceil_div",
    "div_round_half_even",
    "percent",
    "round_half_even",
    "to_decimal",
]

USD_DECIMALS = 2


def div_round_half_even(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded to the nearest integer, ties to even.

    Integer-only, so it is exact for any size and fast on the engine's hot path.
    """
    if denominator == 0:
        raise ZeroDivisionError("division by zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    quotient, remainder = divmod(numerator, denominator)  # floor division, 0 <= remainder < den
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def round_half_even(value: Fraction) -> int:
    """A rational rounded to the nearest integer, ties to even."""
    return div_round_half_even(value.numerator, value.denominator)


def ceil_div(numerator: int, denominator: int) -> int:
    """Exact ceiling of `numerator / denominator` for a positive denominator."""
    return -((-numerator) // denominator)


def to_decimal(minor_units: int, decimals: int) -> Decimal:
    """Minor units as an exact decimal in human units: `to_decimal(-1250, 2)` is `-12.50`."""
    return Decimal(minor_units).scaleb(-decimals)


def percent(
    part: int | Decimal | Fraction, whole: int | Decimal | Fraction, places: int = 2
) -> Decimal:
    """`part / whole × 100`, exact, rounded half-to-even to `places` decimals:
    `percent(Decimal("-0.50"), Decimal("5.00"))` is `-10.00`."""
    scaled = Fraction(part) * 100 * 10**places / Fraction(whole)
    return to_decimal(round_half_even(scaled), places)
