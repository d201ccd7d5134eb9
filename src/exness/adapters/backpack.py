"""The Backpack bookTicker feed (SPEC §6): one WebSocket, re-opened for as long as it is needed.

`BackpackClient.ticks()` connects, subscribes to the bookTicker of SOL_USDC, ETH_USDC and
BTC_USDC, and yields one `PriceTick` per quote, in the order they arrive. When the connection
breaks, is refused, stays silent for `read_timeout` seconds, or does not answer our pings, it
is dropped and opened again after an exponential backoff with jitter (reset once a connection
has been healthy for a while), and the subscription is sent again.

Liveness in both directions:
- Backpack pings every 60 s and closes a connection that does not pong within 120 s; the
  websockets library answers every ping by itself, from its background reader, whether or
  not we are awaiting a frame at that moment.
- We ping every `ping_interval` s and drop the connection when no pong comes within
  `ping_timeout` s, so a dead TCP connection is noticed even when the exchange is quiet.

It never invents a price: a tick is yielded only for a quote read from a live connection, and
`connected` is False from the moment a connection is lost until a new one is subscribed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from exness.backoff import Backoff
from exness.codec.backpack import (
    MARKETS,
    BookTicker,
    Ignored,
    StreamError,
    SubscriptionAck,
    parse_message,
    subscribe_message,
    to_tick,
)
from exness.domain.messages import PriceTick
from exness.log import get_logger

__all__ = ["BackpackClient", "FeedSilent", "FeedStats"]

log = get_logger(__name__)


class FeedSilent(TimeoutError):
    """No quote arrived for `read_timeout` seconds on an open connection."""


@dataclass(slots=True)
class FeedStats:
    connections: int = 0  # successful connect + subscribe
    frames: int = 0
    ticks: int = 0
    ignored: int = 0  # frames that were neither a quote, an ack nor an error
    errors: int = 0  # error frames from the exchange
    last_error: str | None = None  # the last reason a connection ended, or an error frame


class _Throttle:
    """Log a given reason at most once per `period` s, so a garbage flood does not flood logs."""

    def __init__(self, period: float = 10.0) -> None:
        self.period = period
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        """None to stay quiet, else how many were suppressed since the last line."""
        now = time.monotonic()
        if now - self._last.get(key, -self.period) < self.period:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        if len(self._last) > 1000:  # reasons contain excerpts; keep the map small
            self._last.clear()
            self._suppressed.clear()
        self._last[key] = now
        return self._suppressed.pop(key, 0)


class BackpackClient:
    """A reconnecting bookTicker subscriber; see the module docstring."""

    name = "backpack"

    def __init__(
        self,
        url: str,
        markets: Iterable[str] = MARKETS,
        *,
        backoff: Backoff | None = None,
        healthy_after: float = 30.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        read_timeout: float | None = 30.0,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.markets = tuple(markets)
        # delays between reconnections; a connection that lived `healthy_after` seconds with
        # quotes resets them
        self.backoff = backoff or Backoff(initial=0.5, maximum=30.0, jitter=0.5)
        self.healthy_after = healthy_after
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.read_timeout = read_timeout
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self._throttle = _Throttle()
        self.connected = False
        self.reconnects = 0  # connections lost or attempts failed, each followed by a retry
        self.last_tick_at: int | None = None  # wall clock (µs) when the last quote arrived
        self.stats = FeedStats()

    async def ticks(self) -> AsyncGenerator[PriceTick, None]:
        """Quotes as ticks, forever; reconnects on its own. Cancel the consumer to stop."""
        while True:
            opened_at = time.monotonic()
            ticks_before = self.stats.ticks
            try:
                async with connect(
                    self.url,
                    open_timeout=self.open_timeout,
                    ping_interval=self.ping_interval,
                    ping_timeout=self.ping_timeout,
                    close_timeout=self.close_timeout,
                ) as ws:
                    await ws.send(subscribe_message(self.markets))
                    self.connected = True
                    self.stats.connections += 1
                    log.info("backpack connected", url=self.url, markets=list(self.markets))
                    async for tick in self._read(ws):
                        yield tick
            except (OSError, TimeoutError, WebSocketException) as error:
                self._lost(error)
            except Exception as error:  # keep the feed alive whatever happened
                log.exception("backpack feed failed unexpectedly")
                self._lost(error)
            finally:
                self.connected = False
            healthy = time.monotonic() - opened_at >= self.healthy_after
            if healthy and self.stats.ticks > ticks_before:
                self.backoff.reset()
            delay = self.backoff.next_delay()
            self.reconnects += 1
            log.info("backpack reconnecting", delay_s=round(delay, 3), reconnects=self.reconnects)
            await asyncio.sleep(delay)

    def _lost(self, error: BaseException) -> None:
        reason = str(error) or type(error).__name__
        self.stats.last_error = reason
        log.warning("backpack connection lost", error=reason, kind=type(error).__name__)

    async def _read(self, ws: ClientConnection) -> AsyncIterator[PriceTick]:
        """Ticks from one connection until it fails or falls silent (then it raises)."""
        last_quote = time.monotonic()
        while True:
            frame = await self._recv(ws, last_quote)
            self.stats.frames += 1
            message = parse_message(frame)
            if isinstance(message, BookTicker):
                last_quote = time.monotonic()
                self.last_tick_at = time.time_ns() // 1000
                self.stats.ticks += 1
                yield to_tick(message)
            elif isinstance(message, StreamError):
                self.stats.errors += 1
                self.stats.last_error = f"{message.code}: {message.message}"
                log.warning("backpack error frame", code=message.code, message=message.message)
            elif isinstance(message, SubscriptionAck):
                log.debug("backpack subscription acknowledged", id=message.id)
            else:
                self._ignored(message)

    async def _recv(self, ws: ClientConnection, last_quote: float) -> str | bytes:
        if self.read_timeout is None:
            return await ws.recv()
        remaining = last_quote + self.read_timeout - time.monotonic()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                return await ws.recv()
        except TimeoutError:
            raise FeedSilent(f"no quote for {self.read_timeout} s") from None

    def _ignored(self, message: Ignored) -> None:
        self.stats.ignored += 1
        reason = message.reason[:80]
        suppressed = self._throttle.allow(reason)
        if suppressed is not None:
            log.warning(
                "backpack frame ignored",
                reason=message.reason,
                frame=message.raw,
                suppressed=suppressed,
            )
