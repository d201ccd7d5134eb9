"""Candle intervals (domain/candles.py): Backpack's names, aligned to UTC boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exness.domain.candles import EPOCH, INTERVALS
from exness.services.server.schemas import KlineInterval


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_backpack_intervals_and_only_them():
    assert list(INTERVALS) == [
        "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
        "1d", "3d", "1w", "1month",
    ]  # fmt: skip
    assert list(get_args(KlineInterval)) == list(INTERVALS)  # the API's enum is this table


@pytest.mark.parametrize(
    ("name", "moment", "start", "end"),
    [
        ("1m", "2024-03-10 12:34:56", "2024-03-10 12:34:00", "2024-03-10 12:35:00"),
        ("3m", "2024-03-10 12:34:56", "2024-03-10 12:33:00", "2024-03-10 12:36:00"),
        ("5m", "2024-03-10 12:34:56", "2024-03-10 12:30:00", "2024-03-10 12:35:00"),
        ("15m", "2024-03-10 12:34:56", "2024-03-10 12:30:00", "2024-03-10 12:45:00"),
        ("30m", "2024-03-10 12:34:56", "2024-03-10 12:30:00", "2024-03-10 13:00:00"),
        ("1h", "2024-03-10 12:34:56", "2024-03-10 12:00:00", "2024-03-10 13:00:00"),
        ("2h", "2024-03-10 13:34:56", "2024-03-10 12:00:00", "2024-03-10 14:00:00"),
        ("4h", "2024-03-10 03:59:59", "2024-03-10 00:00:00", "2024-03-10 04:00:00"),
        ("4h", "2024-03-10 23:00:00", "2024-03-10 20:00:00", "2024-03-11 00:00:00"),
        ("6h", "2024-03-10 17:00:00", "2024-03-10 12:00:00", "2024-03-10 18:00:00"),
        ("8h", "2024-03-10 17:00:00", "2024-03-10 16:00:00", "2024-03-11 00:00:00"),
        ("12h", "2024-03-10 11:59:59", "2024-03-10 00:00:00", "2024-03-10 12:00:00"),
        ("1d", "2024-03-10 23:59:59", "2024-03-10 00:00:00", "2024-03-11 00:00:00"),
        # 3d: every third UTC midnight from 1970-01-01 (2024-03-10 is day 19792 = 3 × 6597 + 1)
        ("3d", "2024-03-10 12:00:00", "2024-03-09 00:00:00", "2024-03-12 00:00:00"),
        ("3d", "1970-01-03 23:59:59", "1970-01-01 00:00:00", "1970-01-04 00:00:00"),
        # 1w: Monday 00:00 UTC (2024-03-10 is a Sunday, 2024-03-04 a Monday)
        ("1w", "2024-03-10 23:59:59", "2024-03-04 00:00:00", "2024-03-11 00:00:00"),
        ("1w", "2024-03-11 00:00:00", "2024-03-11 00:00:00", "2024-03-18 00:00:00"),
        ("1w", "1970-01-01 00:00:00", "1969-12-29 00:00:00", "1970-01-05 00:00:00"),
        # 1month: the 1st at 00:00 UTC, whatever the month's length
        ("1month", "2024-02-29 23:59:59", "2024-02-01 00:00:00", "2024-03-01 00:00:00"),
        ("1month", "2024-03-01 00:00:00", "2024-03-01 00:00:00", "2024-04-01 00:00:00"),
        ("1month", "2023-12-31 12:00:00", "2023-12-01 00:00:00", "2024-01-01 00:00:00"),
    ],
)
def test_a_moment_falls_in_the_candle_of_its_utc_boundaries(name, moment, start, end):
    interval = INTERVALS[name]
    assert interval.floor(at(moment)) == at(start)
    assert interval.shift(at(start), 1) == at(end)
    assert interval.ceil(at(moment)) == (at(start) if moment == start else at(end))


def test_a_moment_in_another_zone_is_counted_in_utc():
    tokyo = timezone(timedelta(hours=9))
    # 2024-03-01 05:00 in Tokyo is still February in UTC
    moment = datetime(2024, 3, 1, 5, 0, tzinfo=tokyo)
    assert INTERVALS["1month"].floor(moment) == at("2024-02-01 00:00:00")
    assert INTERVALS["1d"].floor(moment) == at("2024-02-29 00:00:00")


def test_months_shift_across_years_both_ways():
    month = INTERVALS["1month"]
    assert month.shift(at("2024-11-01 00:00:00"), 3) == at("2025-02-01 00:00:00")
    assert month.shift(at("2024-02-01 00:00:00"), -14) == at("2022-12-01 00:00:00")
    assert month.shift(at("2024-02-01 00:00:00"), -500) == at("1982-06-01 00:00:00")


moments = st.datetimes(
    min_value=datetime(1960, 1, 1), max_value=datetime(5000, 1, 1), timezones=st.just(UTC)
)


@pytest.mark.parametrize("name", list(INTERVALS))
@given(moment=moments)
def test_every_moment_lies_in_exactly_one_aligned_candle(name, moment):
    interval = INTERVALS[name]
    start = interval.floor(moment)
    end = interval.shift(start, 1)
    assert start <= moment < end
    assert interval.floor(start) == start and interval.floor(end) == end  # boundaries
    assert interval.shift(end, -1) == start
    assert start.tzinfo is not None
    # the boundaries are the advertised ones
    if name == "1month":
        assert (start.day, start.hour, start.minute, start.second) == (1, 0, 0, 0)
    elif name == "1w":
        assert start.weekday() == 0 and start.time() == datetime.min.time()
    else:
        seconds = (start - EPOCH) // timedelta(seconds=1)
        assert seconds % interval.seconds == 0 and start.microsecond == 0
