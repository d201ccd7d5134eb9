"""The traders' live events over Redis (SPEC §8): written by the engine, read by every server.

Engine side (`LiveEventWriter`): an engine batch's private messages go into the batch's
MULTI/EXEC as one script call per chunk. For each message the script takes the trader's next
number (HINCRBY on `live:seq`), puts `"traderSeq":N` in front, appends it to the trader's log
`live:log:<trader>` (a stream whose ids are `<traderSeq>-<ms>`, so the log is read by number and
trimmed by age without reading the entries) and, once per chunk, publishes the numbered
messages on `live:events`. Numbers are taken from Redis inside the transaction, so they are
exactly as deterministic as the rest of the batch's outputs: a batch whose transaction never
ran left the counters as they were, and recovery re-emits the same messages with the same
numbers.

Retention: a log keeps every message younger than LIVE_RETAIN_MS and the newest
LIVE_RETAIN_EVENTS whatever their age; every 64th message of a trader trims older ones (at
most 128 at a time, more than accrue meanwhile); a log without a new message for
LIVE_LOG_IDLE_S expires whole. The counters are kept, so a client that comes back later learns
it missed something (`resync`) rather than seeing numbers start again.

Server side: `EventLog` reads a trader's messages after a number (to catch a socket up), and
`LiveSubscriber` holds one pub/sub connection per server process on `live:events` and the
`prices` channel, reconnecting with backoff and saying when it is (again) subscribed: pub/sub
may lose what is published while it is away, which the server recovers from the logs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline

from exness.adapters import keys
from exness.adapters.pubsub import Subscription, subscribe
from exness.backoff import Backoff
from exness.log import get_logger

__all__ = ["CHUNK", "EventLog", "LiveEventWriter", "LiveSubscriber", "LogRead"]

log = get_logger(__name__)

CHUNK = 512  # messages per script call: a liquidation cascade is many calls in one MULTI

# KEYS[1] the counters hash, KEYS[1 + i] the log of message i
# ARGV: channel, now (ms), keep (messages), keep (ms), idle expiry (s), then trader_i, body_i
# Returns the number of messages written.
_APPEND = """
local counters = KEYS[1]
local channel, now = ARGV[1], tonumber(ARGV[2])
local keep, cutoff, idle = tonumber(ARGV[3]), now - tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 2, #KEYS do
  local log = KEYS[i]
  local trader, body = ARGV[2 * i + 2], ARGV[2 * i + 3]
  local seq = redis.call('HINCRBY', counters, trader, 1)
  local message = '{"traderSeq":' .. seq .. ',' .. string.sub(body, 2)
  redis.call('XADD', log, seq .. '-' .. now, 'm', message)
  redis.call('EXPIRE', log, idle)
  if seq % 64 == 0 and seq > keep then
    local old = redis.call('XRANGE', log, '-', '(' .. (seq - keep + 1) .. '-0', 'COUNT', 128)
    local drop = nil
    for _, row in ipairs(old) do
      local id = row[1]
      local dash = string.find(id, '-', 1, true)
      if tonumber(string.sub(id, dash + 1)) >= cutoff then break end
      drop = string.sub(id, 1, dash - 1)
    end
    if drop then redis.call('XTRIM', log, 'MINID', (tonumber(drop) + 1) .. '-0') end
  end
  out[#out + 1] = trader
  out[#out + 1] = message
end
redis.call('PUBLISH', channel, table.concat(out, '\\n'))
return #KEYS - 1
"""


class LiveEventWriter:
    """Adds a batch's private messages to the batch's transaction (engine side)."""

    def __init__(
        self,
        client: aioredis.Redis,
        retain_events: int = keys.LIVE_RETAIN_EVENTS,
        retain_ms: int = keys.LIVE_RETAIN_MS,
        idle_s: int = keys.LIVE_LOG_IDLE_S,
    ) -> None:
        self._append = client.register_script(_APPEND)
        self.retain_events = retain_events
        self.retain_ms = retain_ms
        self.idle_s = idle_s

    async def add(self, pipe: Pipeline, messages: list[tuple[str, bytes]], now_ms: int) -> None:
        """Queue the script calls that number, keep and publish `messages` ((trader, body)
        pairs, in order) on `pipe`, a transaction."""
        for start in range(0, len(messages), CHUNK):
            chunk = messages[start : start + CHUNK]
            args: list[Any] = [
                keys.LIVE_CHANNEL,
                now_ms,
                self.retain_events,
                self.retain_ms,
                self.idle_s,
            ]
            for trader, body in chunk:
                args += (trader, body)
            await self._append(  # on a pipeline: queued, not sent
                keys=[keys.LIVE_SEQ, *(keys.live_log_key(trader) for trader, _ in chunk)],
                args=args,
                client=pipe,
            )


@dataclass(frozen=True, slots=True)
class LogRead:
    """What a trader's log holds after a number: the messages (oldest first, at most the
    count asked), the trader's newest number, and whether the log still reaches back to the
    message right after the one asked for."""

    messages: list[str]
    current: int
    complete: bool


class EventLog:
    """Reads the traders' logs (server side)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    async def current(self, trader: str) -> int:
        raw = await self.client.hget(keys.LIVE_SEQ, trader)
        return int(raw) if raw else 0

    async def after(self, trader: str, since: int, count: int = 1000) -> LogRead:
        """The trader's messages numbered after `since`, read with the newest number in one
        transaction."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hget(keys.LIVE_SEQ, trader)
        pipe.xrange(keys.live_log_key(trader), min=f"{since + 1}-0", max="+", count=count)
        raw_current, rows = await pipe.execute()
        current = int(raw_current) if raw_current else 0
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], rows)
        messages = [fields[b"m"].decode() for _, fields in entries]
        if not entries:
            complete = since >= current
        else:
            first = int(entries[0][0].split(b"-", 1)[0])
            complete = first == since + 1
        return LogRead(messages, current, complete)


Handler = Callable[[bytes], None]


class LiveSubscriber:
    """One pub/sub connection per server process: the engine's quotes (`prices`) and the
    traders' events (`live:events`). The messages of each read go to their handlers as the
    bytes arrive (adapters/pubsub.py), then `on_batch` runs once. `on_subscribed` runs (and
    is awaited) each time both subscriptions are in place, first and after every reconnect."""

    def __init__(
        self,
        url: str,
        on_quote: Handler,
        on_events: Handler,
        on_subscribed: Callable[[], Awaitable[None]],
        on_batch: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = url
        self._handlers = {
            keys.PRICE_CHANNEL.encode(): on_quote,
            keys.LIVE_CHANNEL.encode(): on_events,
        }
        self._on_subscribed = on_subscribed
        self._on_batch = on_batch
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    PING_S = 1.0
    SILENT_S = 5.0
    CONNECT_TIMEOUT_S = 5.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="live-subscriber")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.05, maximum=1.0)
        while True:
            subscription = None
            try:
                subscription = await subscribe(
                    self._url,
                    list(self._handlers),
                    self._dispatch,
                    self._on_batch,
                    self.CONNECT_TIMEOUT_S,
                )
                await self._watch(subscription, backoff)
            except (OSError, TimeoutError, ConnectionError) as error:
                log.warning("live subscription lost; reconnecting", error=repr(error))
            finally:
                self.connected.clear()
                if subscription is not None:
                    subscription.close()
            await asyncio.sleep(backoff.next_delay())

    async def _watch(self, subscription: Subscription, backoff: Backoff) -> None:
        """Until the connection fails or falls silent: a ping after PING_S without a word
        from Redis, and nothing at all (pongs included) for SILENT_S means a dead one."""
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        announced = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscription.changed.wait(), self.PING_S)
            subscription.changed.clear()
            if subscription.lost is not None:
                raise ConnectionError(f"the subscription ended: {subscription.lost!r}")
            if subscription.subscribed and not announced:
                announced = True
                backoff.reset()
                self.connected.set()
                await self._on_subscribed()
            now = loop.time()
            if now - subscription.heard_at > self.SILENT_S:
                raise TimeoutError(f"nothing on the subscription for {self.SILENT_S} s")
            if now - subscription.heard_at >= self.PING_S and now - pinged >= self.PING_S:
                subscription.send(b"PING")
                pinged = now

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        try:
            handler(data)
        except Exception as error:  # one bad message must not end the subscription
            log.exception("live message not handled", channel=channel, error=repr(error))
