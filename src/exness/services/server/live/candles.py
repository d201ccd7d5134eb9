"""The current candle of each `candles:ASSET:INTERVAL` channel a socket of this process follows.

A candle is built exactly as /klines builds it, from the same source: the price updates of
`price_stream` (mid prices, bucketed by the feed's own time). A channel's first subscriber
starts it: the 1-minute bars the DB processor already wrote for the current window, then the
stream's entries after the newest one those bars merged, up to where this process's reader of
the stream is; from then on that reader (one XREAD per process, started with the first
candle channel) brings every new update. The open is the earliest tick's price, the close
the latest's (on a tie the later entry closes), as the bars do, so the live candle is the one
/klines will return. No database polling: the database is read once per channel and process.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters import keys
from exness.adapters.db.bars import Bar, bars_between
from exness.backoff import Backoff
from exness.codec import CodecError
from exness.codec.events import candle_message
from exness.codec.prices import decode_price_entry
from exness.codec.stream_ids import stream_id_key
from exness.domain.candles import EPOCH, INTERVALS, Interval
from exness.log import get_logger
from exness.services.server.live.protocol import CandleChannel, error

if TYPE_CHECKING:
    from exness.services.server.live.connection import LiveConnection

__all__ = ["CandleBook", "CandleState"]

log = get_logger(__name__)

StreamId = tuple[int, int]


def _moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@dataclass(slots=True)
class CandleState:
    """One interval's current candle, in asset units (pure)."""

    interval: Interval
    start: datetime | None = None
    end: datetime | None = None
    open: int = 0
    open_ts: int = 0
    high: int = 0
    low: int = 0
    close: int = 0
    close_ts: int = 0
    trades: int = 0

    def _begin(self, moment: datetime) -> None:
        self.start = self.interval.floor(moment)
        self.end = self.interval.shift(self.start, 1)
        self.trades = 0

    def add(self, price: int, ts: int) -> bool:
        """One price update; whether the candle changed (a late update of a candle already
        over changes nothing)."""
        moment = _moment(ts)
        if self.start is None or self.end is None or moment >= self.end:
            self._begin(moment)
            self.open = self.high = self.low = self.close = price
            self.open_ts = self.close_ts = ts
            self.trades = 1
            return True
        if moment < self.start:
            return False
        self._merge(price, price, price, price, 1, ts, ts)
        return True

    def add_bar(self, bar: Bar, start: datetime) -> None:
        """A 1-minute bar of the window that starts at `start`."""
        if self.start is None:
            self._begin(start)
            self.open, self.high, self.low, self.close = bar.open, bar.high, bar.low, bar.close
            self.open_ts, self.close_ts, self.trades = bar.first_ts, bar.last_ts, bar.ticks
            return
        self._merge(bar.open, bar.high, bar.low, bar.close, bar.ticks, bar.first_ts, bar.last_ts)

    def _merge(
        self, open_: int, high: int, low: int, close: int, ticks: int, first: int, last: int
    ) -> None:
        if self.trades == 0 or first < self.open_ts:  # on a tie the earlier entry opens
            self.open, self.open_ts = open_, first
        if self.trades == 0 or last >= self.close_ts:  # on a tie the later entry closes
            self.close, self.close_ts = close, last
        self.high = high if self.trades == 0 else max(self.high, high)
        self.low = low if self.trades == 0 else min(self.low, low)
        self.trades += ticks

    def message(self, channel: str, asset: str) -> str | None:
        if self.start is None or self.end is None or self.trades == 0:
            return None
        return candle_message(
            channel,
            asset,
            self.start,
            self.end,
            self.open,
            self.high,
            self.low,
            self.close,
            self.trades,
        )


@dataclass(slots=True)
class _Tracker:
    channel: CandleChannel
    state: CandleState
    subscribers: set[LiveConnection] = field(default_factory=set)
    ready: bool = False
    applied: StreamId = (0, 0)  # the stream entries up to here are in `state`
    message: str | None = None

    def publish(self) -> None:
        self.message = self.state.message(self.channel.name, self.channel.asset)
        if self.message is not None:
            for connection in tuple(self.subscribers):  # one found too slow leaves the set
                connection.coalesce(self.channel.name, self.message)


class CandleBook:
    def __init__(self, url: str, client: aioredis.Redis, db: AsyncEngine | None) -> None:
        self._url = url
        self._client = client  # shared: catch-up reads
        self._db = db
        self._trackers: dict[str, _Tracker] = {}
        self._reader: asyncio.Task[None] | None = None
        self._cursor: StreamId | None = None  # how far the reader has read price_stream
        self._started = asyncio.Event()
        self._loads: set[asyncio.Task[None]] = set()

    # ---- subscriptions -----------------------------------------------------------------------

    def join(self, connection: LiveConnection, channel: CandleChannel) -> None:
        tracker = self._trackers.get(channel.name)
        if tracker is None:
            interval = INTERVALS[channel.interval]
            tracker = self._trackers[channel.name] = _Tracker(channel, CandleState(interval))
            self._start_reader()
            task = asyncio.create_task(self._load(tracker), name=f"candles {channel.name}")
            self._loads.add(task)
            task.add_done_callback(self._loads.discard)
        tracker.subscribers.add(connection)
        if tracker.ready and tracker.message is not None:
            connection.coalesce(channel.name, tracker.message)

    def leave(self, connection: LiveConnection, name: str) -> None:
        tracker = self._trackers.get(name)
        if tracker is not None:
            tracker.subscribers.discard(connection)

    def leave_all(self, connection: LiveConnection) -> None:
        for tracker in self._trackers.values():
            tracker.subscribers.discard(connection)

    # ---- building candles --------------------------------------------------------------------

    async def _load(self, tracker: _Tracker) -> None:
        channel, state = tracker.channel, tracker.state
        try:
            await self._started.wait()
            start = state.interval.floor(datetime.now(EPOCH.tzinfo))
            bars = (
                await bars_between(self._db, channel.asset, start, state.interval.shift(start, 1))
                if self._db is not None
                else []
            )
            for bar in bars:
                state.add_bar(bar, start)
            after = max((bar.last_entry for bar in bars), default=None)
            if after is None:  # nothing written yet: the stream from just before the window
                after = ((start - EPOCH) // timedelta(milliseconds=1) - 60_000, 0)
            after = await self._catch_up(tracker, after)
        except (RedisError, OSError, SQLAlchemyError) as failure:
            log.warning("live candle unavailable", channel=channel.name, error=repr(failure))
            del self._trackers[channel.name]
            for connection in tracker.subscribers:
                connection.control(error(f"{channel.name} is unavailable now; try again"))
                connection.channels.discard(channel.name)
            return
        tracker.applied, tracker.ready = after, True
        tracker.publish()

    async def _catch_up(self, tracker: _Tracker, after: StreamId) -> StreamId:
        """Apply the stream's entries after `after` until the reader's cursor (returned)."""
        while True:
            target = self._cursor
            assert target is not None
            if after >= target:
                return after
            rows = cast(
                list[tuple[bytes, dict[bytes, bytes]]],
                await self._client.xrange(
                    keys.PRICE_STREAM,
                    min=f"({after[0]}-{after[1]}",
                    max=f"{target[0]}-{target[1]}",
                    count=1000,
                ),
            )
            if not rows:
                return target
            for entry_id, fields in rows:
                self._apply(entry_id, fields, [tracker])
            after = stream_id_key(rows[-1][0])

    def _apply(
        self, entry_id: bytes, fields: dict[bytes, bytes], trackers: list[_Tracker]
    ) -> set[int]:
        """One price_stream entry's updates into `trackers`; the indexes of those changed."""
        data = fields.get(b"data")
        if data is None:
            return set()
        try:
            ticks, _ = decode_price_entry(entry_id, data)
        except CodecError:
            return set()
        changed: set[int] = set()
        for tick in ticks:
            for index, tracker in enumerate(trackers):
                if tracker.channel.asset == tick.asset and tracker.state.add(tick.price, tick.ts):
                    changed.add(index)
        return changed

    # ---- the stream reader -------------------------------------------------------------------

    def _start_reader(self) -> None:
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="candles-reader")

    async def _read(self) -> None:
        backoff = Backoff(initial=0.05, maximum=2.0)
        while True:
            # its own connection: one blocking read always in flight
            reader = aioredis.Redis.from_url(self._url, socket_connect_timeout=5.0)
            try:
                if self._cursor is None:
                    newest = cast(
                        list[tuple[bytes, dict[bytes, bytes]]],
                        await reader.xrevrange(keys.PRICE_STREAM, count=1),
                    )
                    self._cursor = stream_id_key(newest[0][0]) if newest else (0, 0)
                    self._started.set()
                while True:
                    cursor = self._cursor
                    found = cast(
                        list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]],
                        await reader.xread(
                            {keys.PRICE_STREAM: f"{cursor[0]}-{cursor[1]}"}, count=500, block=2000
                        ),
                    )
                    backoff.reset()
                    for _, rows in found:
                        for entry_id, fields in rows:
                            self._deliver(entry_id, fields)
                            self._cursor = stream_id_key(entry_id)
            except (RedisError, OSError) as failure:
                log.warning("price stream reader lost; reconnecting", error=repr(failure))
                await asyncio.sleep(backoff.next_delay())
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await reader.aclose()

    def _deliver(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        key = stream_id_key(entry_id)
        trackers = [
            tracker
            for tracker in self._trackers.values()
            if tracker.ready and tracker.applied < key
        ]
        if trackers:
            for index in self._apply(entry_id, fields, trackers):
                trackers[index].publish()

    async def stop(self) -> None:
        tasks = [*self._loads, *([self._reader] if self._reader is not None else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
