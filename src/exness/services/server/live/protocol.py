"""The client's side of the live protocol (SPEC §8), pure: what a frame asks, what the server
answers outside the data channels, and how many bad frames a socket may send.

Client → server (JSON text frames, at most MAX_FRAME_BYTES):

    {"op":"auth","token":"<jwt>"}
    {"op":"subscribe","channels":["quotes","account","candles:SOL:1m"],"since":41}
    {"op":"unsubscribe","channels":["quotes"]}
    {"op":"ping"}

Server → client, besides the data messages (which carry `channel` and `seq`):

    {"type":"authenticated"}            {"type":"subscribed","channels":[...]}
    {"type":"unsubscribed","channels":[...]}     {"type":"pong"}
    {"type":"resync","channel":"account"}        {"type":"error","message":"..."}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec.events import ACCOUNT_CHANNEL, QUOTES_CHANNEL
from exness.domain.assets import ASSETS
from exness.domain.candles import INTERVALS

__all__ = [
    "MAX_CHANNELS",
    "MAX_FRAME_BYTES",
    "PONG",
    "Auth",
    "BadMessage",
    "Budget",
    "CandleChannel",
    "Op",
    "Ping",
    "Subscribe",
    "Unsubscribe",
    "acknowledged",
    "error",
    "parse",
    "parse_channel",
    "resync",
]

MAX_FRAME_BYTES = 64 * 1024
MAX_CHANNELS = 64  # every channel there is: quotes, account and 45 candle channels
MAX_TOKEN_CHARS = 4096
MAX_SINCE = 2**63 - 1


class BadMessage(ValueError):
    """A frame the server cannot act on; the message says why (sent back as an error)."""


@dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    channels: tuple[str, ...]
    since: int | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Op = Auth | Subscribe | Unsubscribe | Ping


@dataclass(frozen=True, slots=True)
class CandleChannel:
    name: str
    asset: str
    interval: str


def parse_channel(name: Any) -> str | CandleChannel:
    """A channel's name checked: "quotes", "account", or a CandleChannel."""
    if name in (QUOTES_CHANNEL, ACCOUNT_CHANNEL):
        return str(name)
    if isinstance(name, str) and name.startswith("candles:"):
        _, asset, interval = [*name.split(":", 2), "", ""][:3]
        if asset not in ASSETS:
            raise BadMessage(f"unknown asset in {name!r}; expected one of {', '.join(ASSETS)}")
        if interval not in INTERVALS:
            raise BadMessage(
                f"unknown interval in {name!r}; expected one of {', '.join(INTERVALS)}"
            )
        return CandleChannel(name, asset, interval)
    shown = name if isinstance(name, str) and len(name) <= 64 else type(name).__name__
    raise BadMessage(
        f"unknown channel {shown!r}; expected quotes, account or candles:ASSET:INTERVAL"
    )


def _channels(body: dict[str, Any]) -> tuple[str, ...]:
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels:
        raise BadMessage('"channels" must be a non-empty list of channel names')
    if len(channels) > MAX_CHANNELS:
        raise BadMessage(f"at most {MAX_CHANNELS} channels at once")
    for name in channels:
        parse_channel(name)
    return tuple(dict.fromkeys(channels))  # without repeats, in order


def parse(text: str) -> Op:
    """The operation a text frame asks for, or BadMessage saying what is wrong."""
    if len(text) > MAX_FRAME_BYTES:
        raise BadMessage(f"a frame may hold at most {MAX_FRAME_BYTES} bytes")
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadMessage('a frame must be a JSON object, e.g. {"op":"ping"}') from None
    if not isinstance(body, dict):
        raise BadMessage('a frame must be a JSON object, e.g. {"op":"ping"}')
    op = body.get("op")
    if op == "ping":
        return Ping()
    if op == "subscribe":
        since = body.get("since")
        if since is not None and (type(since) is not int or not 0 <= since <= MAX_SINCE):
            raise BadMessage('"since" must be a traderSeq: an integer ≥ 0')
        return Subscribe(_channels(body), since)
    if op == "unsubscribe":
        return Unsubscribe(_channels(body))
    if op == "auth":
        token = body.get("token")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
            raise BadMessage('"token" must be the session token (a JWT string)')
        return Auth(token)
    shown = op if isinstance(op, str) and len(op) <= 32 else type(op).__name__
    raise BadMessage(f"unknown op {shown!r}; expected auth, subscribe, unsubscribe or ping")


class Budget:
    """A token bucket: `capacity` at once, refilled at `per_second`; `spend(now)` is False
    once it is empty."""

    def __init__(self, capacity: float, per_second: float) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._tokens = capacity
        self._at: float | None = None

    def spend(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def error(message: str) -> str:
    return orjson.dumps({"type": "error", "message": message}).decode()


def acknowledged(kind: str, channels: tuple[str, ...]) -> str:
    return orjson.dumps({"type": kind, "channels": list(channels)}).decode()


def resync(channel: str = ACCOUNT_CHANNEL) -> str:
    return orjson.dumps({"type": "resync", "channel": channel}).decode()


PONG = '{"type":"pong"}'
AUTHENTICATED = '{"type":"authenticated"}'
