"""The DB writer's pure helpers: exact conversions, merging, bar aggregation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from exness.adapters.db.models import Trade, TradeClose
from exness.adapters.db.rows import (
    DataRejected,
    PriceEntry,
    aggregate_bars,
    close_row,
    json_rows,
    levels_version,
    merge_user_rows,
    minute_start_us,
    order_rows,
    parse_stream_id,
    trade_row,
    us_to_datetime,
)
from exness.codec import CodecError
from exness.domain.messages import (
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    PriceTick,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.money import to_decimal
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.services.dbprocessor import is_data_error
from tests.fakes.order_lives import Lives, expected, plans

ASSET_IDS = {"SOL": 1, "ETH": 2, "BTC": 3}


@given(st.integers(0, 253_402_300_799_999_999))  # up to 9999-12-31T23:59:59.999999
def test_microseconds_become_exact_utc_datetimes(us):
    moment = us_to_datetime(us)
    assert moment.tzinfo is UTC
    assert (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) == us


def test_out_of_range_times_are_rejected():
    with pytest.raises(DataRejected):
        us_to_datetime(10**19)


@pytest.mark.parametrize(
    ("entry_id", "parsed"),
    [
        ("9-0", (9, 0)),
        ("10-0", (10, 0)),
        (b"1700000000000-12", (1_700_000_000_000, 12)),
        ("7", (7, 0)),
    ],
)
def test_stream_ids_parse_to_ordered_pairs(entry_id, parsed):
    assert parse_stream_id(entry_id) == parsed
    assert parse_stream_id("10-0") > parse_stream_id("9-99")


@pytest.mark.parametrize("bad", ["", "x-1", "1-y", "-1-0", "99999999999999999999-0"])
def test_malformed_stream_ids_are_rejected(bad):
    with pytest.raises(DataRejected):
        parse_stream_id(bad)


def test_minute_start():
    assert minute_start_us(60_000_000 * 5 + 59_999_999) == 300_000_000
    assert minute_start_us(300_000_000) == 300_000_000


def position(order_id="o1", **changes) -> Position:
    fields = dict(
        user_id="u", asset="BTC", side="short", margin=1_005, leverage=3,
        open_price=650_001_234, liquidation_price=866_668_312, opened_at=1,
    )  # fmt: skip
    fields.update(changes)
    return Position(order_id=order_id, **fields)


def pending(order_id="o1", **changes) -> PendingOrder:
    fields = dict(
        user_id="u", asset="BTC", side="short", order_type="limit", trigger_price=700_000_000,
        margin=1_005, leverage=3, placed_at=1, stop_loss=720_000_000, take_profit=600_000_000,
    )  # fmt: skip
    fields.update(changes)
    return PendingOrder(order_id=order_id, **fields)


def trade_fields(operation, asset_ids=ASSET_IDS) -> dict:
    return asdict(trade_row(operation, asset_ids))


def test_a_close_is_exact_decimals_in_its_trade_row_and_its_close_row():
    held = position(stop_loss=700_000_000)
    row = trade_fields(TradeClosed(held, 1_005, 866_668_312, -1_005, "liquidation", 2))
    assert row["margin"] == Decimal("10.05") and str(row["margin"]) == "10.05"
    assert str(row["open_margin"]) == "0.00"
    assert str(row["open_price"]) == "65000.1234"
    assert row["liquidation_price"] == Decimal("86666.8312")
    assert row["stop_loss"] == Decimal("70000.0000") and row["take_profit"] is None
    assert (row["trade_type"], row["asset_id"], row["order_type"]) == ("SHORT", 3, None)
    assert row["closed_at"] == us_to_datetime(2) and row["opened_at"] == us_to_datetime(1)
    close = asdict(close_row(TradeClosed(held, 1_005, 866_668_312, -1_005, "liquidation", 2)))
    assert close == {
        "order_id": "o1",
        "margin_before": Decimal("10.05"),
        "margin": Decimal("10.05"),
        "close_price": Decimal("86666.8312"),
        "pnl": Decimal("-10.05"),
        "reason": "liquidation",
        "closed_at": us_to_datetime(2),
    }
    part = trade_fields(TradeClosed(held, 405, 600_000_000, 7, "manual", 2))
    assert (str(part["open_margin"]), part["closed_at"]) == ("6.00", None)  # still open


def test_each_operation_tells_what_it_knows():
    placed = trade_fields(OrderPlaced(pending()))
    assert (placed["order_type"], placed["trigger_price"]) == ("limit", Decimal("70000.0000"))
    assert placed["open_price"] is placed["liquidation_price"] is placed["opened_at"] is None
    assert placed["open_margin"] == placed["margin"] == Decimal("10.05")
    assert placed["created_at"] == us_to_datetime(1)
    cancelled = trade_fields(OrderCancelled(pending(), 9))
    assert (cancelled["open_margin"], cancelled["closed_at"]) == (0, us_to_datetime(9))
    assert cancelled["opened_at"] is None  # what makes it cancelled, not closed
    market = trade_fields(TradeOpened(position()))
    assert (market["order_type"], market["created_at"]) == ("market", us_to_datetime(1))
    filled = trade_fields(TradeOpened(position(opened_at=5), filled=True))
    assert filled["order_type"] is None and filled["opened_at"] == us_to_datetime(5)
    modified = trade_fields(OrderModified(position(margin=500), 7))
    assert modified["order_type"] is None and modified["open_margin"] == Decimal("5.00")


def test_levels_versions_order_an_orders_life():
    versions = [
        trade_fields(operation)["levels_version"]
        for operation in (
            OrderPlaced(pending()),
            OrderModified(pending(), 2),
            OrderModified(pending(), 3),
            TradeOpened(position(), filled=True),
            TradeClosed(position(), 100, 600_000_000, 1, "manual", 4),  # the same margin open
            TradeClosed(position(margin=905), 100, 600_000_000, 1, "manual", 5),
            OrderModified(position(margin=805), 6),
            OrderModified(position(margin=805), 8),
        )
    ]
    assert versions == sorted(versions)
    assert versions[3] == versions[4] < versions[5]
    assert levels_version(3, 0) > levels_version(2, 2**70)  # a rank is never overflowed


@pytest.mark.parametrize(
    "bad",
    [
        TradeOpened(position(asset="DOGE")),
        TradeOpened(position(side="up")),
        TradeOpened(position(leverage=2**31)),
        TradeClosed(position(), 2_000, 1, 1, "manual", 2),  # more than is open
        TradeClosed(position(), 0, 1, 1, "manual", 2),
        OrderPlaced(pending(order_type="iceberg")),
    ],
)
def test_impossible_operations_are_rejected(bad):
    with pytest.raises(DataRejected):
        trade_fields(bad)


@settings(max_examples=40, deadline=None)
@given(plan=plans(), data=st.data())
def test_an_orders_rows_merge_to_its_last_state_in_any_order(plan, data):
    """Every operation of a life, shuffled and repeated, merges to the row the life ends with
    (the realized columns come from the close rows, in SQL)."""
    lives = Lives()
    lives.wallet("u")
    lives.live("u", "o1", "ETH", plan)
    operations = [op for op in lives.operations if not isinstance(op, UserCreated)]
    want, closes = expected(lives.operations)
    shuffled = data.draw(
        st.permutations(operations + data.draw(st.lists(st.sampled_from(operations))))
    )
    trades, close_rows = order_rows(shuffled, ASSET_IDS)
    assert len(trades) == 1
    got = asdict(trades[0])
    realized = ("pnl", "close_price", "close_reason", "last_close_margin", "liquidated", "status")
    for name, value in want["o1"].items():
        if name not in realized:
            assert got[name] == value, (name, plan)
    assert sorted(
        (
            (c.margin_before, c.margin, c.close_price, c.pnl, c.reason, c.closed_at)
            for c in close_rows
        ),
        reverse=True,
    ) == closes.get("o1", [])


def test_a_trade_row_and_a_close_row_have_every_column_written():
    record = trade_row(TradeClosed(position(), 1_005, 600_000_000, 7, "manual", 5), ASSET_IDS)
    written = orjson.loads(json_rows([record]))[0]
    computed = {"id", "status", "pnl", "close_price", "close_reason", "last_close_margin"}
    assert set(written) == {c.name for c in Trade.__table__.columns} - computed - {"liquidated"}
    assert (written["margin"], written["open_margin"], written["open_price"]) == (
        "10.05",
        "0.00",
        "65000.1234",
    )
    close = orjson.loads(json_rows([close_row(TradeClosed(position(), 5, 1, 7, "sl", 5))]))[0]
    assert set(close) == {c.name for c in TradeClose.__table__.columns} - {"id"}


def test_rows_become_json_with_exact_numbers_and_times():
    rows = [
        {
            "pnl": to_decimal(-1_250, 2),
            "tiny": to_decimal(5, 10),
            "huge": to_decimal(10**26 - 1, 6),
            "at": us_to_datetime(1_700_000_000_123_456),
            "whole_second": us_to_datetime(1_700_000_000_000_000),
            "none": None,
        }
    ]
    assert orjson.loads(json_rows(rows)) == [
        {
            "pnl": "-12.50",
            "tiny": "5E-10",
            "huge": "99999999999999999999.999999",
            "at": "2023-11-14T22:13:20.123456+00:00",
            "whole_second": "2023-11-14T22:13:20+00:00",
            "none": None,
        }
    ]
    with pytest.raises(DataRejected):
        json_rows([{"ticks": 2**64}])


def test_user_rows_merge_to_the_earliest_time_and_first_email():
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    rows = [
        {"id": "u", "email": None, "created_at": late},
        {"id": "u", "email": "u@x.io", "created_at": early},
        {"id": "u", "email": "v@x.io", "created_at": late},
    ]
    assert merge_user_rows(rows) == [{"id": "u", "email": "u@x.io", "created_at": early}]


def tick(price, ts, asset="SOL"):
    return PriceTick(asset, price, ts)


def test_bars_follow_tick_times_and_skip_merged_entries():
    entries = [
        PriceEntry("5-0", [tick(10, 30), tick(12, 10)]),  # the feed's times, out of order
        PriceEntry("6-0", [tick(9, 50), tick(11, 50), tick(20, 60_000_001)]),
        PriceEntry("7-0", [tick(1, 5, "BTC")]),
    ]
    bars = aggregate_bars(entries, {("BTC", 0): (7, 0)})
    assert set(bars) == {("SOL", 0), ("SOL", 60_000_000)}
    sol = bars["SOL", 0]
    assert (sol["open"], sol["high"], sol["low"], sol["close"], sol["ticks"]) == (12, 12, 9, 11, 4)
    assert (sol["first_ts"], sol["last_ts"], sol["last_entry"]) == (10, 50, (6, 0))
    assert aggregate_bars(entries, {("SOL", 0): (6, 0), ("BTC", 0): (7, 0)}).keys() == {
        ("SOL", 60_000_000)
    }


def test_data_errors_are_told_from_outages():
    assert is_data_error(DataRejected("x"))
    assert is_data_error(CodecError("x"))
    assert is_data_error(IntegrityError("INSERT", {}, Exception()))
    assert is_data_error(DataError("INSERT", {}, Exception()))
    assert is_data_error(StatementError("bad value", "INSERT", {}, TypeError("too big")))
    assert not is_data_error(OperationalError("SELECT", {}, Exception()))
    assert not is_data_error(ConnectionRefusedError())
