"""A trades row as a history item (views.history_trade): the fields the seed's web client
reads, computed exactly (SPEC §4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exness.domain.money import percent
from exness.services.server.responses import dumps
from exness.services.server.views import duration, history_trade

D = Decimal
OPENED = datetime(2024, 3, 10, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0s"),
        (45, "45s"),
        (59, "59s"),
        (60, "1m"),
        (12 * 60 + 59, "12m"),
        (3599, "59m"),
        (3600, "1h 0m"),
        (3 * 3600 + 5 * 60 + 59, "3h 5m"),
        (86399, "23h 59m"),
        (86400, "1d 0h"),
        (2 * 86400 + 4 * 3600 + 3599, "2d 4h"),
        (400 * 86400, "400d 0h"),
        (-5, "0s"),  # a clock a hair behind never shows a negative age
    ],
)
def test_duration_in_whole_units(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("pnl", "margin", "expected"),
    [
        ("1.00", "10.00", "10.00"),
        ("-0.50", "5.00", "-10.00"),
        ("-20.00", "20.00", "-100.00"),  # liquidated: the whole margin
        ("0.00", "10.00", "0.00"),
        ("1.00", "3.00", "33.33"),
        ("2.00", "3.00", "66.67"),
        ("0.01", "160.00", "0.01"),  # 0.00625 → 0.01 (nearest)
        ("0.01", "200.00", "0.00"),  # 0.005 → 0.00 (a tie: to even)
        ("0.03", "200.00", "0.02"),  # 0.015 → 0.02 (a tie: to even)
        ("0.05", "200.00", "0.02"),  # 0.025 → 0.02 (a tie: to even)
        ("-0.03", "200.00", "-0.02"),  # -0.015 → -0.02
        ("-0.01", "200.00", "0.00"),  # -0.005 → 0, never "-0.00"
        ("123456789.99", "0.01", "1234567899900.00"),
    ],
)
def test_pnl_percentage_is_exact_and_rounded_half_to_even(pnl, margin, expected):
    result = percent(D(pnl), D(margin))
    assert result == D(expected) and str(result) == expected


@given(st.integers(-(10**14), 10**14), st.integers(1, 10**14))
def test_percent_agrees_with_exact_rational_rounding(pnl_cents, margin_cents):
    result = percent(D(pnl_cents).scaleb(-2), D(margin_cents).scaleb(-2))
    exact = Fraction(pnl_cents * 100, margin_cents)
    assert result.as_tuple().exponent == -2
    assert abs(Fraction(result) - exact) <= Fraction(1, 200)
    assert Fraction(result) * 100 == round(exact * 100)  # Fraction rounds half to even


def row(**changes: object) -> dict:
    base = {
        "id": 41,
        "order_id": "order-1",
        "symbol": "SOL",
        "asset_name": "Solana",
        "asset_image": "https://img.test/sol.png",
        "trade_type": "LONG",
        "margin": D("10.00"),
        "leverage": 10,
        "open_price": D("150.0000000000"),
        "close_price": None,
        "liquidation_price": D("135.0000000000"),
        "pnl": None,
        "liquidated": False,
        "created_at": OPENED,
        "closed_at": None,
    }
    return base | changes


def test_an_open_trade_runs_up_to_now_and_has_no_percentage():
    now = OPENED + timedelta(hours=3, minutes=5, seconds=7, microseconds=900_000)
    item = history_trade(row(), now)
    assert item.id == "41" and item.orderId == "order-1"
    assert item.tradeType == item.type == "long"
    assert (item.asset, item.assetName, item.assetImage) == (
        "SOL",
        "Solana",
        "https://img.test/sol.png",
    )
    assert item.status == "open" and item.liquidated is False
    assert item.pnl is None and item.pnlPercentage is None and item.isProfitable is False
    assert item.closePrice is None and item.closedAt is None
    assert item.durationInSeconds == 3 * 3600 + 5 * 60 + 7  # whole seconds, never rounded up
    assert item.duration == "3h 5m"


def test_a_closed_trade_lasts_until_its_close_whatever_now_is():
    closed = OPENED + timedelta(seconds=45, microseconds=999_999)
    item = history_trade(
        row(
            trade_type="SHORT",
            close_price=D("148.5000000000"),
            pnl=D("1.00"),
            closed_at=closed,
        ),
        OPENED + timedelta(days=30),
    )
    assert item.status == "closed" and item.tradeType == "short"
    assert item.durationInSeconds == 45 and item.duration == "45s"
    assert item.pnlPercentage == D("10.00") and item.isProfitable is True
    assert item.closePrice == D("148.500000")  # the asset's own precision


def test_a_liquidated_trade_is_closed_with_the_flag_and_minus_100_percent():
    item = history_trade(
        row(
            close_price=D("134.9900000000"),
            pnl=D("-10.00"),
            liquidated=True,
            closed_at=OPENED + timedelta(days=2, hours=4, minutes=59),
        ),
        OPENED + timedelta(days=30),
    )
    assert item.status == "closed" and item.liquidated is True
    assert item.pnlPercentage == D("-100.00") and item.isProfitable is False
    assert item.duration == "2d 4h"


def test_the_new_fields_are_json_numbers_strings_and_booleans():
    item = history_trade(
        row(close_price=D("151.5"), pnl=D("1.00"), closed_at=OPENED + timedelta(minutes=12)),
        OPENED,
    )
    text = dumps(item.model_dump()).decode()
    assert '"id":"41"' in text
    assert '"pnlPercentage":10.00' in text  # a number, exact, not a string
    assert '"duration":"12m"' in text and '"durationInSeconds":720' in text
    assert '"isProfitable":true' in text and '"status":"closed"' in text
    assert '"tradeType":"long"' in text and '"assetName":"Solana"' in text
