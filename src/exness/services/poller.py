"""The poller service: quotes from Backpack (or the simulation) into `price_stream`.

A reader task takes ticks from the feed as they come; every `flush_interval` (~100 ms) the
batch loop appends everything that arrived in one `XADD price_stream MAXLEN ~ N * data ...`
entry, every update kept, in arrival order (a crossing that lasts a few ms inside a batch
must still reach the engine and liquidate; sampling the last price would hide it).
With `flush_interval` 0 (PRICE_BATCH_MS=0) each tick is written as it arrives, and what
arrives during a write goes in the next entry: the lowest latency, still batched under load.

When Redis is unavailable, batches wait in a bounded buffer (the oldest are dropped beyond
`max_buffered` updates, with a warning) and are written, in order and in MULTI/EXEC chunks,
once Redis answers again; retries back off up to `retry_max` seconds. Should Redis fail
after executing a chunk but before answering, that chunk is written again: the engine then
sees those prices twice, which re-applies known quotes and creates none.

Every `status_interval` s it sets `status:feed` (source, connected, last_tick_at,
reconnects, ...), read by GET /health and `exness up`; `connected` is false while the feed
is down, and then nothing is appended: no price is ever invented.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncGenerator
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from exness.adapters import keys
from exness.adapters.redis import connect
from exness.backoff import Backoff
from exness.codec.prices import encode_price_updates
from exness.domain.messages import PriceTick
from exness.log import get_logger
from exness.services.runtime import StopSignal, publish_status, run_service
from exness.settings import Settings

__all__ = ["Poller", "TickSource", "main", "make_source", "serve"]

log = get_logger(__name__)

# XADD price_stream MAXLEN ~ N * data <json>
_MAXLEN = keys.PRICE_STREAM_MAXLEN


class TickSource(Protocol):
    """A price feed: `BackpackClient` or `SimFeed`."""

    name: str
    connected: bool
    reconnects: int
    last_tick_at: int | None

    def ticks(self) -> AsyncGenerator[PriceTick, None]: ...


class Poller:
    """Feed -> batches -> `price_stream`; `run(stop)` until the stop signal is set."""

    def __init__(
        self,
        client: aioredis.Redis,
        source: TickSource,
        *,
        flush_interval: float = 0.1,
        status_interval: float = 1.0,
        max_buffered: int = 200_000,
        chunk_entries: int = 256,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        source_restart_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.source = source
        self.flush_interval = flush_interval
        self.status_interval = status_interval
        self.max_buffered = max_buffered
        self.chunk_entries = chunk_entries
        self.retries = Backoff(initial=retry_initial, maximum=retry_max)
        self.source_restart_delay = source_restart_delay
        self._current: list[PriceTick] = []  # ticks since the last cut, in arrival order
        self._arrived = asyncio.Event()  # a tick came (flush_interval 0 writes on arrival)
        self._pending: deque[list[PriceTick]] = deque()  # cut batches not yet written
        self._buffered = 0  # updates in _pending
        self._next_write = 0.0  # monotonic time before which no write is attempted
        self.entries_written = 0
        self.updates_written = 0
        self.dropped = 0  # updates dropped because Redis stayed down too long
        self.redis_ok = True

    @property
    def buffered(self) -> int:
        return self._buffered + len(self._current)

    async def run(self, stop: StopSignal) -> None:
        reader = asyncio.create_task(self._read_forever(), name="poller-reader")
        next_flush = time.monotonic()
        next_status = next_flush
        try:
            while not stop.is_set:
                if self.flush_interval > 0:
                    next_flush += self.flush_interval
                    now = time.monotonic()
                    if next_flush < now:  # a slow write: start the cadence again from now
                        next_flush = now + self.flush_interval
                    if await stop.wait(next_flush - now):
                        break
                elif await self._wait_for_ticks(stop):
                    break
                self._cut()
                await self._write_pending()
                if time.monotonic() >= next_status and self.redis_ok:
                    await self._publish_status()
                    next_status = time.monotonic() + self.status_interval
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._cut()
            self._next_write = 0.0
            await self._write_pending()  # one last try: a clean stop loses nothing
            if self._pending:
                log.warning("poller stopped with unwritten updates", updates=self._buffered)
            if self.redis_ok:
                await self._publish_status(connected=False)
            log.info(
                "poller stopped",
                entries=self.entries_written,
                updates=self.updates_written,
                dropped=self.dropped,
            )

    async def _wait_for_ticks(self, stop: StopSignal) -> bool:
        """Flush interval 0: wake on the first tick; ticks that arrive while a write is in
        flight wait for the next one, so batches still form under load. True if stopping."""
        timeout = self.status_interval
        if self._pending:  # Redis is down: come back when the next retry is due
            timeout = min(timeout, max(0.0, self._next_write - time.monotonic()))
        arrived = asyncio.ensure_future(self._arrived.wait())
        stopping = asyncio.ensure_future(stop.event.wait())
        await asyncio.wait(
            (arrived, stopping), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        arrived.cancel()
        stopping.cancel()
        self._arrived.clear()
        return stop.is_set

    # ---- feed ----------------------------------------------------------------------------------

    async def _read_forever(self) -> None:
        while True:
            try:
                async with contextlib.aclosing(self.source.ticks()) as ticks:
                    async for tick in ticks:
                        self._current.append(tick)
                        self._arrived.set()
                log.warning("price feed ended; restarting it")
            except asyncio.CancelledError:
                raise
            except Exception:  # a feed bug must not stop prices for good
                log.exception("price feed failed; restarting it")
            await asyncio.sleep(self.source_restart_delay)

    # ---- batches -------------------------------------------------------------------------------

    def _cut(self) -> None:
        if not self._current:
            return
        batch, self._current = self._current, []
        self._pending.append(batch)
        self._buffered += len(batch)
        while self._buffered > self.max_buffered and len(self._pending) > 1:
            oldest = self._pending.popleft()
            self._buffered -= len(oldest)
            self.dropped += len(oldest)
            log.warning(
                "redis down too long: oldest price updates dropped",
                dropped=len(oldest),
                dropped_total=self.dropped,
            )

    async def _write_pending(self) -> None:
        if not self._pending or time.monotonic() < self._next_write:
            return
        try:
            while self._pending:
                chunk = [
                    self._pending[i] for i in range(min(self.chunk_entries, len(self._pending)))
                ]
                await self._append(chunk)
                for batch in chunk:
                    self._pending.popleft()
                    self._buffered -= len(batch)
                    self.entries_written += 1
                    self.updates_written += len(batch)
        except (RedisError, OSError) as error:
            if self.redis_ok:
                log.warning("redis unavailable; buffering price updates", error=repr(error))
            self.redis_ok = False
            self._next_write = time.monotonic() + self.retries.next_delay()
            return
        if not self.redis_ok:
            log.info("redis is back; buffered price updates written")
        self.redis_ok = True
        self.retries.reset()

    async def _append(self, batches: list[list[PriceTick]]) -> None:
        if len(batches) == 1:  # the usual case: one entry, one round trip
            await self.client.xadd(
                keys.PRICE_STREAM, self._fields(batches[0]), maxlen=_MAXLEN, approximate=True
            )
            return
        async with self.client.pipeline(transaction=True) as pipe:  # all or nothing
            for batch in batches:
                pipe.xadd(keys.PRICE_STREAM, self._fields(batch), maxlen=_MAXLEN, approximate=True)
            await pipe.execute()

    @staticmethod
    def _fields(batch: list[PriceTick]) -> dict[FieldT, EncodableT]:
        return {"data": encode_price_updates(batch)}

    # ---- status --------------------------------------------------------------------------------

    async def _publish_status(self, connected: bool | None = None) -> None:
        try:
            await publish_status(
                self.client,
                keys.FEED_STATUS,
                source=self.source.name,
                connected=self.source.connected if connected is None else connected,
                last_tick_at=self.source.last_tick_at,
                reconnects=self.source.reconnects,
                buffered=self.buffered,
                dropped=self.dropped,
                entries=self.entries_written,
                updates=self.updates_written,
            )
        except (RedisError, OSError) as error:
            log.debug("feed status not published", error=repr(error))


def make_source(settings: Settings) -> TickSource:
    if settings.price_feed == "sim":
        from exness.adapters.sim_feed import SimFeed

        feed = SimFeed(settings.sim_seed)
        log.info("price feed: simulation", seed=feed.seed)
        return feed
    from exness.adapters.backpack import BackpackClient

    log.info("price feed: backpack", url=settings.backpack_ws_url)
    return BackpackClient(settings.backpack_ws_url)


async def serve(settings: Settings, redis_url: str, stop: StopSignal) -> None:
    # Time-outs, so a Redis that vanished shows up as an error to retry, not a hang.
    client = connect(redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
    poller = Poller(client, make_source(settings), flush_interval=settings.price_batch_ms / 1000)
    log.info("poller running")
    try:
        await poller.run(stop)
    finally:
        await client.aclose()


def main(settings: Settings) -> None:
    redis_url = settings.redis_only()
    run_service(lambda stop: serve(settings, redis_url, stop))
