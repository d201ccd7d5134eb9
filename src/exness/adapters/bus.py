"""The engine's side of the Redis bus: journaled intake, batched outputs, waking up.

Intake is one Lua script, so it is atomic: it copies new `price_stream` entries (after the
engine's cursor) and pops waiting commands from `trade_stream` / `user_wallet_stream`,
appending each to the journal stream `engine:journal` in the order the engine will apply
them. A command is therefore always in exactly one place, its queue or the journal: an
engine that dies right after taking it finds it again on restart, and never takes it twice.
The journal entry's id gives the command its time, so replay is deterministic.

Outputs of a batch (replies, `price-ASSET` keys, DB operations, the traders' live events
(adapters/events.py), and the id of the last journal entry applied) are written in one
MULTI/EXEC: after a crash they were either all written or none was, and recovery re-emits
exactly the missing ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.adapters.events import LiveEventWriter
from exness.codec.operations import encode_operations
from exness.codec.stream_ids import stream_id_key
from exness.domain.messages import DbOperation
from exness.log import get_logger

__all__ = ["BatchOutputs", "EngineBus", "InputWaiter", "JournalEntry"]

log = get_logger(__name__)

COMMAND = b"c"
PRICES = b"p"

# KEYS: trade queue, wallet queue, price stream, journal, price cursor
# ARGV: max commands per queue, max price entries
# Order within a batch: prices first (trades fill at the newest price), then wallet commands
# (a wallet opened in the same batch exists before its first trade), then trades.
# Returns {cursor, {journal id, kind, price entry id or "", data}, ...}
_INTAKE = """
local cursor = redis.call('GET', KEYS[5]) or '0-0'
local taken = {}
local entries = redis.call('XRANGE', KEYS[3], '(' .. cursor, '+', 'COUNT', tonumber(ARGV[2]))
for _, entry in ipairs(entries) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'data' then
      local id = redis.call('XADD', KEYS[4], '*', 'k', 'p', 's', entry[1], 'd', fields[i + 1])
      taken[#taken + 1] = {id, 'p', entry[1], fields[i + 1]}
    end
  end
  cursor = entry[1]
end
if #entries > 0 then redis.call('SET', KEYS[5], cursor) end
for _, q in ipairs({2, 1}) do
  local items = redis.call('RPOP', KEYS[q], tonumber(ARGV[1]))
  if items then
    for _, raw in ipairs(items) do
      local id = redis.call('XADD', KEYS[4], '*', 'k', 'c', 'd', raw)
      taken[#taken + 1] = {id, 'c', '', raw}
    end
  end
end
return {cursor, taken}
"""


@dataclass(slots=True)
class JournalEntry:
    id: str
    kind: bytes  # COMMAND or PRICES
    source_id: str  # the price_stream entry id, for PRICES
    data: bytes


@dataclass(slots=True)
class BatchOutputs:
    replies: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    outcomes: dict[str, bytes] = field(default_factory=dict)  # idempotent request id -> reply
    prices: dict[str, bytes] = field(default_factory=dict)
    db_operations: list[DbOperation] = field(default_factory=list)
    live: list[tuple[str, bytes]] = field(default_factory=list)  # (trader, message), in order
    touched: dict[str, None] = field(default_factory=dict)  # traders whose account changed

    def __bool__(self) -> bool:
        return bool(self.replies or self.outcomes or self.prices or self.db_operations or self.live)


class EngineBus:
    def __init__(self, client: aioredis.Redis, live: LiveEventWriter | None = None) -> None:
        self.client = client
        self._intake = client.register_script(_INTAKE)
        self.live = live or LiveEventWriter(client)

    async def take(
        self, max_commands: int, max_price_entries: int
    ) -> tuple[str, list[JournalEntry]]:
        """Move waiting input into the journal; return the price cursor and the new entries."""
        cursor, taken = await self._intake(
            keys=[
                keys.TRADE_QUEUE,
                keys.WALLET_QUEUE,
                keys.PRICE_STREAM,
                keys.JOURNAL,
                keys.PRICE_CURSOR,
            ],
            args=[max_commands, max_price_entries],
        )
        return cursor.decode(), [
            JournalEntry(jid.decode(), kind, source.decode(), data)
            for jid, kind, source, data in taken
        ]

    async def read_journal(self, after: str, count: int) -> list[JournalEntry]:
        """Journal entries strictly after `after` ("0-0" for all), oldest first."""
        # redis-py types replies as bytes | str; without decode_responses they are bytes
        rows = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await self.client.xrange(keys.JOURNAL, min=f"({after}", max="+", count=count),
        )
        return [
            JournalEntry(
                entry_id.decode(), fields[b"k"], fields.get(b"s", b"").decode(), fields[b"d"]
            )
            for entry_id, fields in rows
        ]

    async def _text(self, key: str) -> str | None:
        raw = cast(bytes | None, await self.client.get(key))
        return raw.decode() if raw else None

    async def applied_id(self) -> str | None:
        return await self._text(keys.APPLIED)

    async def journal_floor(self) -> str | None:
        return await self._text(keys.JOURNAL_FLOOR)

    async def price_cursor(self) -> str:
        """The last price_stream entry copied into the journal ("0-0" before any)."""
        return await self._text(keys.PRICE_CURSOR) or "0-0"

    async def write(self, outputs: BatchOutputs, applied_id: str) -> None:
        """Every output of a batch, and how far the journal is applied, atomically."""
        pipe = self.client.pipeline(transaction=True)
        for reply_to, replies in outputs.replies.items():
            pipe.lpush(reply_to, *replies)
            pipe.expire(reply_to, keys.REPLY_TTL_S)
        for request_id, reply in outputs.outcomes.items():
            pipe.set(keys.outcome_key(request_id), reply, ex=keys.OUTCOME_TTL_S)
        if outputs.prices:
            pipe.mset({keys.price_key(asset): body for asset, body in outputs.prices.items()})
            for body in outputs.prices.values():
                pipe.publish(keys.PRICE_CHANNEL, body)
        if outputs.db_operations:  # one entry for the batch, however many operations
            pipe.xadd(keys.DB_OPERATIONS, {"ops": encode_operations(outputs.db_operations)})
        if outputs.live:  # numbered from the traders' counters, kept and published
            await self.live.add(pipe, outputs.live, stream_id_key(applied_id)[0])
        pipe.set(keys.APPLIED, applied_id)
        await pipe.execute()

    async def publish_snapshot(self, body: bytes) -> None:
        await self.client.xadd(keys.SNAPSHOTS, {"data": body})


class InputWaiter:
    """Sleeps until a command queue or the price stream has something for the engine.

    Redis cannot block on lists and a stream in one command, so each source has its own
    connection with one blocking call in flight: `BLMOVE q q RIGHT RIGHT` (which moves the
    oldest element onto itself, changing nothing, and returns as soon as the list is not
    empty) and `XREAD BLOCK` after the engine's cursor. Both are level-triggered: input
    that arrived before the wait began wakes it at once, so no wake-up is lost. A call left
    in flight is reused by the next wait instead of being cancelled (cancelling a blocking
    call would tear down its connection).
    """

    BLOCK_S = 2

    def __init__(self, url: str) -> None:
        self._clients = {
            name: aioredis.Redis.from_url(url, single_connection_client=True)
            for name in (*keys.COMMAND_QUEUES, keys.PRICE_STREAM)
        }
        self._calls: dict[str, asyncio.Task[object]] = {}

    def _blocking_call(self, source: str, price_cursor: str) -> asyncio.Task[object]:
        client = self._clients[source]
        call: Awaitable[object]
        if source == keys.PRICE_STREAM:
            call = client.xread({source: price_cursor}, count=1, block=self.BLOCK_S * 1000)
        else:
            call = client.blmove(source, source, self.BLOCK_S, "RIGHT", "RIGHT")
        return asyncio.ensure_future(call)

    async def wait(
        self, price_cursor: str, timeout: float, stop: asyncio.Event | None = None
    ) -> None:
        """Return when there may be input, after `timeout` seconds, or when `stop` is set."""
        for source in self._clients:
            if source not in self._calls:
                self._calls[source] = self._blocking_call(source, price_cursor)
        waiting: list[asyncio.Future[Any]] = list(self._calls.values())
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stopping is not None:
            waiting.append(stopping)
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if stopping is not None and not stopping.done():
            stopping.cancel()
        for source, task in list(self._calls.items()):
            if task in done:
                del self._calls[source]
                if task.exception() is not None:
                    log.warning(
                        "wait for input failed", source=source, error=repr(task.exception())
                    )
                    await asyncio.sleep(0.1)  # Redis is away; don't spin

    async def close(self) -> None:
        # Let blocking calls in flight end on their own (within BLOCK_S): redis-py can hang
        # on a blocking command cancelled mid-flight.
        calls = list(self._calls.values())
        if calls:
            _, late = await asyncio.wait(calls, timeout=self.BLOCK_S + 1)
            for task in late:
                task.cancel()
        for task in calls:
            with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                await task
        for client in self._clients.values():
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
