"""Backpack's WebSocket messages (SPEC §6) <-> domain values. Pure: no I/O, no clock.

Subscribing is `{"method":"SUBSCRIBE","params":["bookTicker.SOL_USDC",...]}`; updates arrive
as `{"stream":"bookTicker.SOL_USDC","data":{"e":"bookTicker","E":..,"s":"SOL_USDC",
"a":"<best ask>","A":"<ask qty>","b":"<best bid>","B":"<bid qty>","u":..,"T":..}}` with prices
as decimal strings and `E`/`T` (µs) and `u` as numbers or strings; errors look like
`{"id":null,"error":{"code":4006,"message":"Invalid stream"}}`.

`parse_message` turns one text frame into exactly one of:

    BookTicker        a best bid/ask, exact integers in the asset's units
    StreamError       an error frame from the exchange
    SubscriptionAck   `{"id":..,"result":..}`, the answer to a (UN)SUBSCRIBE
    Ignored           anything else: unknown streams, junk, malformed values (with a reason)

It never raises: a feed that sends garbage must not kill the client. Prices are converted
from their decimal strings with integer arithmetic only (never a float); a string with more
decimals than the asset has is rounded half-to-even.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from exness.domain.assets import ASSETS, by_backpack_symbol
from exness.domain.messages import PriceTick
from exness.domain.money import div_round_half_even

__all__ = [
    "BOOK_TICKER",
    "MARKETS",
    "BackpackMessage",
    "BookTicker",
    "Ignored",
    "StreamError",
    "SubscriptionAck",
    "book_ticker_stream",
    "decimal_to_units",
    "parse_message",
    "subscribe_message",
    "to_tick",
]

BOOK_TICKER = "bookTicker"
# The markets whose bookTicker quotes our assets in USD, in the order of ASSETS.
MARKETS: tuple[str, ...] = tuple(asset.backpack_symbol for asset in ASSETS.values())

_DECIMAL = re.compile(r"([0-9]{1,30})(?:\.([0-9]{1,30}))?")
_INTEGER = re.compile(r"[0-9]{1,20}")
_MAX_REPORTED = 200  # characters of a bad frame kept in an Ignored, for the log


@dataclass(frozen=True, slots=True)
class BookTicker:
    """The best bid and ask of one market at the exchange's event time."""

    market: str  # "SOL_USDC"
    asset: str  # "SOL"
    bid: int  # asset units
    ask: int  # asset units
    event_time: int  # E, µs
    engine_time: int | None = None  # T, µs
    update_id: int | None = None  # u


@dataclass(frozen=True, slots=True)
class StreamError:
    code: int | None
    message: str
    id: Any = None


@dataclass(frozen=True, slots=True)
class SubscriptionAck:
    id: Any
    result: Any = None


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str
    raw: str = ""


BackpackMessage = BookTicker | StreamError | SubscriptionAck | Ignored


class _Bad(ValueError):
    """Internal: a field that cannot be read; becomes an Ignored with this reason."""


def book_ticker_stream(market: str) -> str:
    return f"{BOOK_TICKER}.{market}"


def subscribe_message(markets: Iterable[str] = MARKETS, request_id: int | None = None) -> str:
    """The SUBSCRIBE frame for the bookTicker of `markets` (a text frame, so a str).

    Backpack's documented form has no id; pass `request_id` to have the exchange echo it.
    """
    body: dict[str, Any] = {
        "method": "SUBSCRIBE",
        "params": [book_ticker_stream(market) for market in markets],
    }
    if request_id is not None:
        body["id"] = request_id
    return orjson.dumps(body).decode()


def decimal_to_units(text: str, decimals: int) -> int:
    """`"201.4712345"` with 6 decimals -> 201_471_234 (exact; ties to even past `decimals`).

    Accepts plain non-negative decimal strings only (no sign, exponent or spaces).
    """
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueError(f"not a plain decimal number: {text[:40]!r}")
    whole, fraction = match.group(1), match.group(2) or ""
    digits = int(whole + fraction)  # the value times 10**len(fraction)
    shift = decimals - len(fraction)
    if shift >= 0:
        return digits * int(10**shift)
    return div_round_half_even(digits, int(10**-shift))


def to_tick(book: BookTicker) -> PriceTick:
    """The engine's price tick: the mid, rounded half-to-even in asset units, with bid/ask."""
    mid = div_round_half_even(book.bid + book.ask, 2)
    return PriceTick(book.asset, mid, book.event_time, book.bid, book.ask)


def parse_message(raw: str | bytes) -> BackpackMessage:
    """One WebSocket text frame -> one message; never raises (see the module docstring)."""
    try:
        return _parse(raw)
    except _Bad as error:
        return Ignored(str(error), _excerpt(raw))
    except Exception as error:  # a parser bug must not take the feed down
        return Ignored(f"unexpected parser error: {error!r}", _excerpt(raw))


# ---- internals ------------------------------------------------------------------------------


def _excerpt(raw: str | bytes) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
    return text if len(text) <= _MAX_REPORTED else text[:_MAX_REPORTED] + "…"


def _parse(raw: str | bytes) -> BackpackMessage:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise _Bad(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise _Bad(f"not a JSON object but {type(body).__name__}")

    if "error" in body and body["error"] is not None:
        return _error(body)
    if "stream" in body or "data" in body:
        return _stream_update(body)
    if "result" in body and "id" in body:
        return SubscriptionAck(body["id"], body["result"])
    if body.get("e") == BOOK_TICKER:  # an unwrapped update; tolerated
        return _book_ticker(body, None)
    raise _Bad("unknown message")


def _error(body: dict[str, Any]) -> StreamError:
    error = body["error"]
    if isinstance(error, dict):
        code = error.get("code")
        message = error.get("message")
        return StreamError(
            code if type(code) is int else None,
            message if isinstance(message, str) else repr(message),
            body.get("id"),
        )
    return StreamError(None, str(error), body.get("id"))


def _stream_update(body: dict[str, Any]) -> BackpackMessage:
    stream = body.get("stream")
    data = body.get("data")
    if not isinstance(stream, str):
        raise _Bad("stream update without a stream name")
    kind, _, market = stream.partition(".")
    if kind != BOOK_TICKER:
        raise _Bad(f"not a bookTicker stream: {stream[:60]!r}")
    if not isinstance(data, dict):
        raise _Bad(f"{stream}: data is not an object")
    return _book_ticker(data, market)


def _book_ticker(data: dict[str, Any], stream_market: str | None) -> BookTicker:
    if data.get("e", BOOK_TICKER) != BOOK_TICKER:
        raise _Bad(f"event type {data.get('e')!r} in a bookTicker stream")
    market = data.get("s", stream_market)
    if not isinstance(market, str):
        raise _Bad("bookTicker without a symbol")
    if stream_market is not None and market != stream_market:
        raise _Bad(f"symbol {market!r} in stream of {stream_market!r}")
    asset = by_backpack_symbol(market)
    if asset is None:
        raise _Bad(f"unknown market {market[:40]!r}")
    bid = _price(data, "b", asset.decimals)
    ask = _price(data, "a", asset.decimals)
    if bid > ask:
        raise _Bad(f"{market}: bid {data['b']} is above ask {data['a']}")
    event_time = _integer(data, "E", required=True)
    assert event_time is not None
    return BookTicker(
        market,
        asset.symbol,
        bid,
        ask,
        event_time,
        _integer(data, "T", required=False),
        _integer(data, "u", required=False),
    )


def _price(data: dict[str, Any], field: str, decimals: int) -> int:
    value = data.get(field)
    if isinstance(value, str):
        try:
            units = decimal_to_units(value, decimals)
        except ValueError as error:
            raise _Bad(f"{field}: {error}") from None
    elif type(value) is int:  # exact as well; floats are not (and Backpack sends strings)
        units = value * 10**decimals
    elif value is None:
        raise _Bad(f"missing {field}")
    else:
        raise _Bad(f"{field} must be a decimal string, not {type(value).__name__}")
    if units <= 0:
        raise _Bad(f"{field} must be positive, got {value!r}")
    return units


def _integer(data: dict[str, Any], field: str, *, required: bool) -> int | None:
    """`E`, `T`, `u`: a JSON integer or a string of digits, positive."""
    value = data.get(field)
    if value is None:
        if required:
            raise _Bad(f"missing {field}")
        return None
    if type(value) is int:
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        raise _Bad(f"{field} must be an integer or a string of digits, got {value!r}"[:120])
    if number < 0 or (number == 0 and field != "u"):  # an update id may start at 0
        raise _Bad(f"{field} must be positive, got {number}")
    return number
