"""The client's frames (services/server/live/protocol.py), the flood budget, the candle
state (candles.py) and the handshake's Origin check (endpoint.py), all pure."""

from __future__ import annotations

from datetime import datetime

import pytest

from exness.adapters.db.bars import Bar
from exness.domain.candles import EPOCH, INTERVALS
from exness.services.server.live.candles import CandleState
from exness.services.server.live.endpoint import allowed_origins, origin_of
from exness.services.server.live.protocol import (
    Auth,
    BadMessage,
    Budget,
    CandleChannel,
    Ping,
    Subscribe,
    Unsubscribe,
    parse,
    parse_channel,
)
from exness.settings import get_settings


def test_the_four_ops():
    assert parse('{"op":"ping"}') == Ping()
    assert parse('{"op":"auth","token":"t"}') == Auth("t")
    assert parse('{"op":"subscribe","channels":["quotes","account","quotes"],"since":0}') == (
        Subscribe(("quotes", "account"), 0)
    )
    assert parse('{"op":"unsubscribe","channels":["candles:BTC:1month"]}') == Unsubscribe(
        ("candles:BTC:1month",)
    )


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "nope",
        "1",
        "null",
        '"ping"',
        "{}",
        '{"op":null}',
        '{"op":["ping"]}',
        '{"op":"subscribe"}',
        '{"op":"subscribe","channels":[1]}',
        '{"op":"subscribe","channels":["quotes"],"since":"3"}',
        '{"op":"subscribe","channels":["quotes"],"since":1.5}',
        '{"op":"subscribe","channels":["quotes"],"since":true}',
        '{"op":"auth","token":""}',
        '{"op":"auth","token":7}',
        '{"op":"subscribe","channels":[' + ",".join(['"quotes"'] * 65) + "]}",
        '{"op":"ping"' + " " * 70_000 + "}",
    ],
)
def test_bad_frames_say_what_is_wrong(frame: str):
    with pytest.raises(BadMessage) as bad:
        parse(frame)
    assert str(bad.value)


def test_channels():
    assert parse_channel("quotes") == "quotes"
    assert parse_channel("candles:ETH:15m") == CandleChannel("candles:ETH:15m", "ETH", "15m")
    for name in ("candles:", "candles:SOL", "candles:SOL:1m:x", "Quotes", "account ", None):
        with pytest.raises(BadMessage):
            parse_channel(name)


def test_the_budget_allows_a_burst_then_the_rate():
    budget = Budget(3, 1.0)
    assert [budget.spend(0.0) for _ in range(4)] == [True, True, True, False]
    assert not budget.spend(0.5)
    assert budget.spend(1.6)
    assert not budget.spend(1.7)


def test_origins_are_compared_normalized():
    assert origin_of("HTTPS://Example.com:443/path") == "https://example.com"
    assert origin_of("http://[::1]:8002") == "http://[::1]:8002"
    assert origin_of("null") is None and origin_of("http://") is None
    settings = get_settings(
        backend_url="http://127.0.0.1:8002", frontend_url="https://app.example", jwt_secret=None
    )
    assert allowed_origins(settings) == {"http://127.0.0.1:8002", "https://app.example"}


def _at(minute: int, second: int = 0) -> int:
    """µs of 2024-01-01 00:mm:ss UTC."""
    moment = datetime(2024, 1, 1, 0, minute, second, tzinfo=EPOCH.tzinfo)
    return int((moment - EPOCH).total_seconds()) * 10**6


def test_a_candle_from_bars_then_ticks_opens_earliest_closes_latest_and_rolls_over():
    state = CandleState(INTERVALS["5m"])
    start = datetime(2024, 1, 1, tzinfo=EPOCH.tzinfo)
    state.add_bar(Bar(100, 120, 90, 110, 4, _at(1), _at(1, 50), (0, 0)), start)
    state.add_bar(Bar(95, 130, 95, 125, 2, _at(0, 10), _at(0, 40), (0, 0)), start)  # earlier
    assert (state.open, state.high, state.low, state.close, state.trades) == (95, 130, 90, 110, 6)
    assert state.add(80, _at(3))
    assert (state.low, state.close, state.trades) == (80, 80, 7)
    assert not state.add(999, _at(4, 59) - 5 * 60 * 10**6)  # a late tick of an older candle
    assert state.add(200, _at(5))  # the next candle
    assert (state.start, state.open, state.trades) == (start.replace(minute=5), 200, 1)
    message = state.message("candles:SOL:5m", "SOL")
    assert message is not None and '"start":"2024-01-01 00:05:00"' in message
    assert CandleState(INTERVALS["1m"]).message("candles:SOL:1m", "SOL") is None
