"""What the seed's web client needs of the history and candle routes, in-process (SPEC §4):
the OpenAPI schema of their answers, the limits and the input rules that apply before the
database is read, and the candle window. The answers themselves (from PostgreSQL) are
checked end to end in tests/e2e/test_seed_client_contract.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from exness.domain.candles import INTERVALS
from exness.services.server.errors import ApiError
from exness.services.server.routes.market import DEFAULT_CANDLES, window
from tests.routes.conftest import Desk
from tests.routes.test_trading_routes import failure


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def epoch(text: str) -> int:
    return int(at(text).timestamp())


async def openapi(desk: Desk) -> dict:
    answer = await desk.client.get("http://test/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else node


def types(node: dict) -> set[str]:
    """The JSON types a property may take (`anyOf` of a nullable one included)."""
    return {option.get("type", "object") for option in node.get("anyOf", [node])}


async def test_history_items_are_described_with_the_clients_fields(desk: Desk):
    schema = await openapi(desk)
    ok = schema["paths"]["/api/v1/trade/history"]["get"]["responses"]["200"]
    history = resolve(schema, ok["content"]["application/json"]["schema"])
    item = resolve(schema, history["properties"]["data"]["items"])
    expected = {
        "id": {"string"},
        "orderId": {"string"},
        "asset": {"string"},
        "assetName": {"string"},
        "assetImage": {"string"},
        "type": {"string"},
        "tradeType": {"string"},
        "status": {"string"},
        "margin": {"number"},
        "leverage": {"integer"},
        # null only for a limit/stop order that never filled: the client never sees one (its
        # requests ask for status all, open or closed, which are trades that opened)
        "openPrice": {"number", "null"},
        "closePrice": {"number", "null"},
        "liquidationPrice": {"number", "null"},
        "pnl": {"number", "null"},
        "pnlPercentage": {"number", "null"},
        "isProfitable": {"boolean"},
        "liquidated": {"boolean"},
        "createdAt": {"string"},
        "closedAt": {"string", "null"},
        "duration": {"string"},
        "durationInSeconds": {"integer"},
        # ours (SPEC §7): the client ignores them
        "orderType": {"string", "null"},
        "openMargin": {"number"},
        "triggerPrice": {"number", "null"},
        "stopLoss": {"number", "null"},
        "takeProfit": {"number", "null"},
        "closeReason": {"string", "null"},
        "openedAt": {"string", "null"},
    }
    assert {name: types(node) for name, node in item["properties"].items()} == expected
    assert set(item["required"]) == set(expected)
    # pending and cancelled: only for status=pending, cancelled or any, which it never asks
    assert item["properties"]["status"]["enum"] == ["pending", "open", "closed", "cancelled"]
    assert item["properties"]["tradeType"]["enum"] == ["long", "short"]


async def test_history_query_takes_limit_1000_and_trade_type_in_any_case(desk: Desk):
    schema = await openapi(desk)
    parameters = {
        p["name"]: p["schema"]
        for p in schema["paths"]["/api/v1/trade/history"]["get"]["parameters"]
    }
    assert parameters["limit"]["maximum"] == 1000
    assert set(parameters["sortBy"]["enum"]) >= {
        "createdAt",
        "asset",
        "tradeType",
        "openPrice",
        "closePrice",
        "leverage",
        "pnl",
        "duration",
        "status",
    }  # fmt: skip  (every column the client's table sorts by)
    pattern = parameters["tradeType"]["pattern"]
    for good in ("long", "LONG", "Long", "sHoRt"):
        assert re.fullmatch(pattern, good)
    for bad in ("up", "longs", ""):
        assert not re.fullmatch(pattern, bad)


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"limit": "1001"}, "1000"),
        ({"tradeType": "up"}, "long or short"),
        ({"tradeType": "LONGER"}, "long or short"),
        ({"sortBy": "price"}, "sortBy"),
    ],
)
async def test_history_input_beyond_the_rules_is_400(desk: Desk, params, mentions):
    alice = await desk.trader("alice")
    failure(await desk.client.get("/trade/history", params=params, headers=alice), 400, mentions)


async def test_candles_are_described_in_backpacks_format_for_every_interval(desk: Desk):
    schema = await openapi(desk)
    operation = schema["paths"]["/api/v1/klines"]["get"]
    interval = next(p for p in operation["parameters"] if p["name"] == "interval")["schema"]
    assert interval["enum"] == list(INTERVALS)
    kline = resolve(
        schema, operation["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    )
    fields = ("start", "end", "open", "high", "low", "close", "volume", "quoteVolume", "trades")
    assert {name: node["type"] for name, node in kline["properties"].items()} == dict.fromkeys(
        fields, "string"
    )


async def test_an_unknown_interval_is_400_naming_the_allowed_ones(desk: Desk):
    answer = await desk.client.get("/klines", params={"asset": "SOL", "interval": "2m"})
    body = failure(answer, 400, "interval")
    for name in INTERVALS:
        assert f"'{name}'" in body["message"], body


NOW = at("2024-03-10 12:34:56")


@pytest.mark.parametrize("name", list(INTERVALS))
def test_the_default_window_is_the_latest_candles_up_to_the_current_one(name):
    interval = INTERVALS[name]
    start, end = window(interval, None, None, NOW)
    assert interval.floor(NOW) < end == interval.shift(interval.floor(NOW), 1)
    assert start == interval.shift(end, -DEFAULT_CANDLES)


def test_a_window_covers_whole_candles_around_start_and_end_time():
    hour = INTERVALS["1h"]
    start, end = window(hour, epoch("2024-03-01 10:30:00"), epoch("2024-03-01 14:00:00"), NOW)
    assert (start, end) == (at("2024-03-01 10:00:00"), at("2024-03-01 14:00:00"))
    start, end = window(hour, epoch("2024-03-01 10:00:00"), epoch("2024-03-01 14:00:01"), NOW)
    assert (start, end) == (at("2024-03-01 10:00:00"), at("2024-03-01 15:00:00"))
    month = INTERVALS["1month"]
    start, end = window(month, epoch("2024-01-15 00:00:00"), epoch("2024-03-02 00:00:00"), NOW)
    assert (start, end) == (at("2024-01-01 00:00:00"), at("2024-04-01 00:00:00"))
    # only an end: the DEFAULT_CANDLES candles before it
    start, end = window(INTERVALS["1w"], None, epoch("2024-03-06 00:00:00"), NOW)
    assert end == at("2024-03-11 00:00:00") and start == at("2014-08-11 00:00:00")
    # only a start: up to now
    start, end = window(INTERVALS["1d"], epoch("2024-03-01 05:00:00"), None, NOW)
    assert (start, end) == (at("2024-03-01 00:00:00"), at("2024-03-11 00:00:00"))


@pytest.mark.parametrize(
    ("start_s", "end_s"),
    [
        (epoch("2024-03-01 00:00:00"), epoch("2024-03-01 00:00:00")),
        (epoch("2024-03-02 00:00:00"), epoch("2024-03-01 00:00:00")),
        (epoch("2024-03-10 12:35:00"), None),  # after now
    ],
)
def test_an_empty_window_is_refused(start_s, end_s):
    with pytest.raises(ApiError) as refused:
        window(INTERVALS["1m"], start_s, end_s, NOW)
    assert refused.value.status == 400
