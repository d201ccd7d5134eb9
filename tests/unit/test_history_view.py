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
from exness.services.server.schemas import HISTORY_FIELDS
from exness.services.server.views import duration, history_fields, history_trade, statement_row

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
        "order_type": "market",
        "status": "open",
        "margin": D("10.00"),
        "open_margin": D("10.00"),
        "leverage": 10,
        "trigger_price": None,
        "open_price": D("150.0000000000"),
        "close_price": None,
        "liquidation_price": D("135.0000000000"),
        "stop_loss": None,
        "take_profit": None,
        "pnl": None,
        "liquidated": False,
        "close_reason": None,
        "created_at": OPENED,
        "opened_at": OPENED,
        "closed_at": None,
    }
    return base | changes


def settled(**changes: object) -> dict:
    return row(**{"status": "closed", "open_margin": D("0.00"), "close_reason": "manual"} | changes)


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
        settled(
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
            status="closed",
            open_margin=D("0.00"),
            close_reason="liquidation",
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
        settled(close_price=D("151.5"), pnl=D("1.00"), closed_at=OPENED + timedelta(minutes=12)),
        OPENED,
    )
    text = dumps(item.model_dump()).decode()
    assert '"id":"41"' in text
    assert '"pnlPercentage":10.00' in text  # a number, exact, not a string
    assert '"duration":"12m"' in text and '"durationInSeconds":720' in text
    assert '"isProfitable":true' in text and '"status":"closed"' in text
    assert '"tradeType":"long"' in text and '"assetName":"Solana"' in text


def test_a_partly_closed_trade_is_open_with_its_realized_pnl_and_last_close():
    item = history_trade(
        row(
            open_margin=D("6.00"),
            pnl=D("0.35"),
            close_price=D("151.2500000000"),
            close_reason="tp",
            stop_loss=D("140.5000000000"),
            take_profit=D("151.0000000000"),
        ),
        OPENED + timedelta(minutes=3),
    )
    assert (item.status, item.margin, item.openMargin) == ("open", D("10.00"), D("6.00"))
    assert (item.pnl, item.closePrice, item.closeReason) == (D("0.35"), D("151.250000"), "tp")
    assert item.pnlPercentage is None and item.isProfitable is True  # realized so far
    assert (item.stopLoss, item.takeProfit) == (D("140.500000"), D("151.000000"))
    assert item.closedAt is None and item.duration == "3m"


def test_a_pending_order_has_a_trigger_and_no_open_price_and_runs_from_its_placement():
    item = history_trade(
        row(
            status="pending",
            order_type="limit",
            trigger_price=D("140.0000000000"),
            open_price=None,
            liquidation_price=None,
            opened_at=None,
        ),
        OPENED + timedelta(seconds=30),
    )
    assert (item.status, item.orderType, item.triggerPrice) == ("pending", "limit", D("140.000000"))
    assert item.openPrice is item.liquidationPrice is item.openedAt is None
    assert item.duration == "30s" and item.pnl is None


def test_a_cancelled_order_lasts_until_its_cancellation():
    item = history_trade(
        row(
            status="cancelled",
            order_type="stop",
            trigger_price=D("160"),
            open_margin=D("0.00"),
            open_price=None,
            liquidation_price=None,
            opened_at=None,
            closed_at=OPENED + timedelta(hours=2),
        ),
        OPENED + timedelta(days=9),
    )
    assert (item.status, item.duration, item.pnlPercentage) == ("cancelled", "2h 0m", None)


def test_a_filled_trades_duration_runs_from_its_fill():
    filled = OPENED + timedelta(hours=1)
    item = history_trade(
        settled(order_type="limit", opened_at=filled, closed_at=filled + timedelta(seconds=5)),
        OPENED + timedelta(days=1),
    )
    assert item.durationInSeconds == 5
    assert item.createdAt == "2024-03-10T12:00:00.123456Z"
    assert item.openedAt == "2024-03-10T13:00:00.123456Z"


def test_a_statement_row_is_the_json_fields_as_exact_text():
    fields = history_fields(
        settled(
            pnl=D("-12.50"),
            close_price=D("1E+2"),
            margin=D("12.50"),
            close_reason="sl",
            closed_at=OPENED + timedelta(seconds=59),
            stop_loss=D("100.0000000000"),
        ),
        OPENED,
    )
    cells = dict(zip(HISTORY_FIELDS, statement_row(fields), strict=True))
    assert list(HISTORY_FIELDS)[:3] == ["id", "orderId", "asset"]
    assert cells["pnl"] == "-12.50"  # a number, never guarded as a formula
    assert cells["closePrice"] == "100.000000"  # never an exponent
    assert cells["pnlPercentage"] == "-100.00"
    assert cells["createdAt"] == "2024-03-10T12:00:00.123456Z"
    assert cells["closedAt"] == "2024-03-10T12:00:59.123456Z"
    assert (cells["isProfitable"], cells["liquidated"]) == ("false", "false")
    assert cells["triggerPrice"] == "" and cells["takeProfit"] == ""
    assert (cells["stopLoss"], cells["closeReason"], cells["durationInSeconds"]) == (
        "100.000000",
        "sl",
        "59",
    )
    # the JSON shows the same text for each value
    text = dumps(history_trade(settled(pnl=D("-12.50"), margin=D("12.50")), OPENED).model_dump())
    assert b'"pnl":-12.50' in text


def test_a_text_cell_that_a_spreadsheet_would_run_is_defused():
    fields = history_fields(row(order_id='=HYPERLINK("http://x")'), OPENED)
    assert statement_row(fields)[1] == '\'=HYPERLINK("http://x")'
