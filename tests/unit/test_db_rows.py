"""The DB writer's pure helpers: exact conversions, merging, bar aggregation."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError

from exness.adapters.db.models import Trade
from exness.adapters.db.rows import (
    DataRejected,
    PriceEntry,
    aggregate_bars,
    json_rows,
    merge_trade_operations,
    merge_user_rows,
    minute_start_us,
    parse_stream_id,
    trade_record,
    us_to_datetime,
)
from exness.codec import CodecError
from exness.domain.messages import PriceTick, TradeClosed, TradeOpened
from exness.domain.money import to_decimal
from exness.domain.positions import Position
from exness.services.dbprocessor import is_data_error

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


def trade_row(operation, asset_ids) -> dict:
    return asdict(trade_record(operation, asset_ids))


def test_trade_rows_are_exact_decimals():
    row = trade_row(
        TradeClosed(position(), 1_005, 866_668_312, -1_005, "liquidation", 2), ASSET_IDS
    )
    assert row["margin"] == Decimal("10.05") and str(row["margin"]) == "10.05"
    assert str(row["open_price"]) == "65000.1234"
    assert row["close_price"] == Decimal("86666.8312")
    assert row["pnl"] == Decimal("-10.05")
    assert (row["trade_type"], row["liquidated"], row["asset_id"]) == ("SHORT", True, 3)
    opened = trade_row(TradeOpened(position()), ASSET_IDS)
    assert opened["close_price"] is opened["pnl"] is opened["closed_at"] is None


@pytest.mark.parametrize(
    "bad", [position(asset="DOGE"), position(side="up"), position(leverage=2**31)]
)
def test_impossible_trades_are_rejected(bad):
    with pytest.raises(DataRejected):
        trade_row(TradeOpened(bad), ASSET_IDS)


def test_a_closed_operation_wins_whatever_the_order():
    opened = TradeOpened(position())
    closed = TradeClosed(position(), 1_005, 600_000_000, 7, "manual", 5)
    liquidated = TradeClosed(position(), 1_005, 866_668_312, -1_005, "liquidation", 6)
    for operations in ([opened, closed, liquidated], [closed, opened, liquidated, opened]):
        assert merge_trade_operations(operations) == [closed]
    assert merge_trade_operations([opened, TradeOpened(position("o2")), opened]) == [
        opened,
        TradeOpened(position("o2")),
    ]


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


def test_a_trade_record_has_every_column_of_the_table():
    record = trade_record(TradeClosed(position(), 1_005, 600_000_000, 7, "manual", 5), ASSET_IDS)
    written = orjson.loads(json_rows([record]))[0]
    assert set(written) == {column.name for column in Trade.__table__.columns} - {"id"}
    assert (written["margin"], written["close_price"], written["pnl"]) == (
        "10.05",
        "60000.0000",
        "0.07",
    )


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
