"""Backpack WebSocket frames -> BookTicker, StreamError, SubscriptionAck or Ignored; ticks."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exness.codec.backpack import (
    BookTicker,
    Ignored,
    StreamError,
    SubscriptionAck,
    decimal_to_units,
    parse_message,
    subscribe_message,
    to_tick,
)
from exness.domain.messages import PriceTick

E = 1_727_000_000_123_456  # µs, as Backpack sends it

# Recorded-style frames (the shapes Backpack sends; the values are made up).
SOL_INT = (
    '{"stream":"bookTicker.SOL_USDC","data":{"e":"bookTicker","E":1727000000123456,'
    '"s":"SOL_USDC","a":"150.12","A":"31.5","b":"150.10","B":"4.02","u":1834712,'
    '"T":1727000000123300}}'
)
SOL_STR = (
    '{"stream":"bookTicker.SOL_USDC","data":{"e":"bookTicker","E":"1727000000123456",'
    '"s":"SOL_USDC","a":"150.12","A":"31.5","b":"150.10","B":"4.02","u":"1834712",'
    '"T":"1727000000123300"}}'
)


def frame(market: str = "SOL_USDC", stream: str | None = None, **fields: object) -> str:
    data: dict[str, object] = {
        "e": "bookTicker",
        "E": E,
        "s": market,
        "a": "150.12",
        "A": "1",
        "b": "150.10",
        "B": "1",
        "u": 7,
        "T": E - 100,
    }
    for name, value in fields.items():
        if value is _DROP:
            data.pop(name, None)
        else:
            data[name] = value
    return orjson.dumps({"stream": stream or f"bookTicker.{market}", "data": data}).decode()


_DROP = object()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            SOL_INT,
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_120_000, E, E - 156, 1834712),
            id="E-T-u-as-numbers",
        ),
        pytest.param(
            SOL_STR,
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_120_000, E, E - 156, 1834712),
            id="E-T-u-as-strings",
        ),
        pytest.param(
            SOL_STR.encode(),
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_120_000, E, E - 156, 1834712),
            id="bytes-frame",
        ),
        pytest.param(
            frame("ETH_USDC", a="3012.45", b="3012.44"),
            BookTicker("ETH_USDC", "ETH", 3_012_440_000, 3_012_450_000, E, E - 100, 7),
            id="ETH",
        ),
        pytest.param(
            frame("BTC_USDC", a="60123.5", b="60123.4"),
            BookTicker("BTC_USDC", "BTC", 601_234_000, 601_235_000, E, E - 100, 7),
            id="BTC-4-decimals",
        ),
        pytest.param(
            # 5 decimals on BTC (4): 60123.45675 -> .4568 (up), 60123.45665 -> .4566 (tie to even)
            frame("BTC_USDC", a="60123.45675", b="60123.45665"),
            BookTicker("BTC_USDC", "BTC", 601_234_566, 601_234_568, E, E - 100, 7),
            id="more-decimals-than-the-asset-half-even",
        ),
        pytest.param(
            frame(a="150.1200005", b="150.1000015"),  # both ties: to even, 0 and 2
            BookTicker("SOL_USDC", "SOL", 150_100_002, 150_120_000, E, E - 100, 7),
            id="SOL-7-decimals-ties",
        ),
        pytest.param(
            frame(a="150", b="149"),
            BookTicker("SOL_USDC", "SOL", 149_000_000, 150_000_000, E, E - 100, 7),
            id="integers-as-strings",
        ),
        pytest.param(
            frame(a="150.10", b="150.10"),
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_100_000, E, E - 100, 7),
            id="locked-book-bid-equals-ask",
        ),
        pytest.param(
            frame(T=_DROP, u=_DROP),
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_120_000, E, None, None),
            id="T-u-absent",
        ),
        pytest.param(
            frame(u="0"),
            BookTicker("SOL_USDC", "SOL", 150_100_000, 150_120_000, E, E - 100, 0),
            id="u-zero",
        ),
        pytest.param(
            '{"id":null,"error":{"code":4006,"message":"Invalid stream"}}',
            StreamError(4006, "Invalid stream", None),
            id="invalid-stream-error",
        ),
        pytest.param(
            '{"id":3,"error":{"code":"x","message":null}}',
            StreamError(None, "None", 3),
            id="odd-error",
        ),
        pytest.param('{"id":null,"error":"boom"}', StreamError(None, "boom"), id="error-string"),
        pytest.param('{"id":1,"result":null}', SubscriptionAck(1, None), id="ack"),
        pytest.param('{"result":null,"id":null}', SubscriptionAck(None, None), id="ack-no-id"),
    ],
)
def test_parses(raw, expected):
    assert parse_message(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("", "not JSON", id="empty"),
        pytest.param("junk", "not JSON", id="junk"),
        pytest.param('{"stream":"bookTicker.SOL_USDC","data":{', "not JSON", id="truncated"),
        pytest.param(b"\xff\xfe", "not JSON", id="not-utf8"),
        pytest.param("[1,2]", "not a JSON object", id="array"),
        pytest.param("42", "not a JSON object", id="number"),
        pytest.param("null", "not a JSON object", id="null"),
        pytest.param("{}", "unknown message", id="empty-object"),
        pytest.param('{"method":"PING"}', "unknown message", id="unknown-method"),
        pytest.param(
            '{"stream":"depth.SOL_USDC","data":{"e":"depth","E":1,"s":"SOL_USDC"}}',
            "not a bookTicker stream",
            id="other-stream",
        ),
        pytest.param(frame("DOGE_USDC"), "unknown market", id="unknown-market"),
        pytest.param(frame(stream="bookTicker.ETH_USDC"), "symbol", id="symbol-mismatch"),
        pytest.param(frame(e="trade"), "event type", id="wrong-event-type"),
        pytest.param('{"stream":"bookTicker.SOL_USDC","data":[]}', "data", id="data-not-object"),
        pytest.param('{"stream":7,"data":{}}', "stream name", id="stream-not-string"),
        pytest.param(frame(b="150.13", a="150.12"), "above ask", id="bid-above-ask"),
        pytest.param(frame(b="0", a="150.12"), "positive", id="zero-bid"),
        pytest.param(frame(b="0.0000001", a="150.12"), "positive", id="bid-rounds-to-zero"),
        pytest.param(frame(b="-1", a="150.12"), "decimal", id="negative-bid"),
        pytest.param(frame(b="1e2", a="150.12"), "decimal", id="exponent"),
        pytest.param(frame(b="", a="150.12"), "decimal", id="empty-bid"),
        pytest.param(frame(b=" 150.1", a="150.12"), "decimal", id="space"),
        pytest.param(frame(b="150.", a="150.12"), "decimal", id="trailing-dot"),
        pytest.param(frame(b="NaN", a="150.12"), "decimal", id="nan"),
        pytest.param(frame(b="1" * 40, a="150.12"), "decimal", id="absurdly-long"),
        pytest.param(frame(b=150.1, a="150.12"), "decimal string", id="float-price"),
        pytest.param(frame(b=_DROP), "missing b", id="missing-bid"),
        pytest.param(frame(a=None), "missing a", id="null-ask"),
        pytest.param(frame(E=_DROP), "missing E", id="missing-E"),
        pytest.param(frame(E="17e14"), "E must be", id="E-not-digits"),
        pytest.param(frame(E=1.7e15), "E must be", id="E-float"),
        pytest.param(frame(E=True), "E must be", id="E-bool"),
        pytest.param(frame(E=0), "positive", id="E-zero"),
        pytest.param(frame(E=-5), "positive", id="E-negative"),
        pytest.param(frame(T="soon"), "T must be", id="T-junk"),
        pytest.param(frame(u=-1), "positive", id="u-negative"),
        pytest.param(frame(s=None), "symbol", id="null-symbol"),
    ],
)
def test_ignores_with_a_reason(raw, reason):
    message = parse_message(raw)
    assert isinstance(message, Ignored), message
    assert reason in message.reason
    assert len(message.raw) <= 201


def test_a_huge_frame_is_reported_truncated():
    message = parse_message('{"x":"' + "a" * 10_000 + '"}')
    assert isinstance(message, Ignored)
    assert message.raw.endswith("…") and len(message.raw) == 201


@pytest.mark.parametrize(
    ("bid", "ask", "mid"),
    [
        ("150.10", "150.12", 150_110_000),
        ("150.100000", "150.100001", 150_100_000),  # .5 of a unit: ties to even (0)
        ("150.100001", "150.100002", 150_100_002),  # .5 of a unit: ties to even (2)
        ("150.100001", "150.100004", 150_100_002),  # .5 -> 2 (even), not 3
        ("150.100001", "150.100006", 150_100_004),  # .5 -> 4 (even)
        ("150.1", "150.1", 150_100_000),
    ],
)
def test_tick_price_is_the_half_even_mid(bid, ask, mid):
    book = parse_message(frame(b=bid, a=ask))
    assert isinstance(book, BookTicker)
    assert to_tick(book) == PriceTick("SOL", mid, E, book.bid, book.ask)


def test_subscribe_message():
    assert orjson.loads(subscribe_message()) == {
        "method": "SUBSCRIBE",
        "params": ["bookTicker.SOL_USDC", "bookTicker.ETH_USDC", "bookTicker.BTC_USDC"],
    }
    assert orjson.loads(subscribe_message(["SOL_USDC"], request_id=4)) == {
        "method": "SUBSCRIBE",
        "params": ["bookTicker.SOL_USDC"],
        "id": 4,
    }
    assert isinstance(subscribe_message(), str)  # a text frame


@given(
    whole=st.integers(0, 10**12),
    fraction=st.text("0123456789", min_size=0, max_size=12),
    decimals=st.sampled_from([0, 2, 4, 6, 8]),
)
def test_decimal_to_units_is_exact_half_even(whole, fraction, decimals):
    from decimal import ROUND_HALF_EVEN, Decimal, localcontext

    text = f"{whole}.{fraction}" if fraction else str(whole)
    with localcontext() as context:
        context.prec = 60
        expected = Decimal(text).scaleb(decimals).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert decimal_to_units(text, decimals) == int(expected)


@given(st.text(max_size=60) | st.binary(max_size=60))
def test_parser_never_raises(raw):
    assert parse_message(raw) is not None


@given(
    st.dictionaries(
        st.sampled_from(["e", "E", "s", "a", "A", "b", "B", "u", "T"]),
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=True)
        | st.text(max_size=12)
        | st.lists(st.integers(), max_size=2),
    )
)
def test_parser_never_raises_on_odd_fields(data):
    # stdlib json writes what orjson refuses (ints over 64 bits, NaN): odd input is the point
    raw = json.dumps({"stream": "bookTicker.SOL_USDC", "data": data})
    message = parse_message(raw)
    if isinstance(message, BookTicker):
        assert 0 < message.bid <= message.ask and message.event_time > 0
