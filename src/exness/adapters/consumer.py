"""A reliable reader of Redis streams through a consumer group (beside bus.py, the engine's).

What the DB processor needs from Redis, and nothing of what it writes:
- `read()`: this consumer's own pending entries first (delivered before a failure or a
  restart, or claimed), then new ones, blocking up to `block_ms`;
- `claim()`: take over entries a dead consumer left pending longer than `claim_min_idle_ms`
  (XAUTOCLAIM), a bounded number per call;
- `acknowledge()`: after the caller's commit, atomically: dead letters, XACK of everything,
  XDEL of the acked entries of the streams only this group reads, and anything else the
  caller adds to the same transaction (the journal trim);
- `backlog()`: pending and undelivered entries, for a status.

Nothing is acked before the caller says so, so an entry is either written and acked or read
again: at-least-once delivery, made exactly-once by idempotent writes downstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from exness.adapters import keys
from exness.log import get_logger

__all__ = ["DeadLetter", "StreamConsumer", "StreamEntry", "ensure_group", "parse_read"]

log = get_logger(__name__)

DEAD_LETTERS_MAXLEN = 100_000
CLAIM_ROUNDS = 100  # a huge backlog is taken over a little at a time

# A batch's acks (and deletes) in one command, atomic like MULTI/EXEC, which costs redis-py about
# twice as much (a reply per command). KEYS: the streams. ARGV: the group, then for each stream
# 1 to also delete its acked entries or 0, their number, their ids.
ACK_SCRIPT = """
local group, at = ARGV[1], 2
for _, stream in ipairs(KEYS) do
    local delete, first = ARGV[at] == '1', at + 2
    local last = at + 1 + tonumber(ARGV[at + 1])
    for from = first, last, 1000 do -- unpack() takes a few thousand values at most
        local to = math.min(from + 999, last)
        redis.call('XACK', stream, group, unpack(ARGV, from, to))
        if delete then
            redis.call('XDEL', stream, unpack(ARGV, from, to))
        end
    end
    at = last + 1
end
return 1
"""


@dataclass(slots=True)
class StreamEntry:
    stream: str
    entry_id: str
    fields: dict[bytes, bytes]


@dataclass(slots=True)
class DeadLetter:
    """Something of an entry an operator must look at: the entry's data, or (`data`) a part
    of it, and why it was refused."""

    entry: StreamEntry
    error: str
    data: bytes | None = None

    def letter_data(self) -> bytes:
        fields = self.entry.fields
        return self.data or fields.get(b"data") or _all_fields(fields)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _all_fields(fields: dict[bytes, bytes]) -> bytes:
    """An entry without a `data` field, whole, as JSON (bytes that are not UTF-8 replaced)."""
    return orjson.dumps(
        {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    )


def parse_read(response: Any) -> list[StreamEntry]:
    """XREADGROUP's answer (RESP2 list or RESP3 map) as entries, in the order given."""
    items = response.items() if isinstance(response, dict) else (response or [])
    entries: list[StreamEntry] = []
    for stream, messages in items:
        for message in messages:
            if isinstance(messages, dict):  # RESP3 may map ids to fields
                entry_id, fields = message, messages[message]
            else:
                entry_id, fields = message
            entries.append(StreamEntry(_text(stream), _text(entry_id), fields or {}))
    return entries


async def ensure_group(client: aioredis.Redis, stream: str, group: str, start: str = "0") -> None:
    """Create a consumer group (and the stream) unless it exists."""
    try:
        await client.xgroup_create(stream, group, id=start, mkstream=True)
    except ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


class StreamConsumer:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        group: str,
        consumer: str,
        streams: Sequence[str],
        owned: Sequence[str] = (),
        batch_size: int = 500,
        block_ms: int = 1000,
        claim_min_idle_ms: int = 30_000,
    ) -> None:
        self.redis = redis
        self.group = group
        self.consumer = consumer
        self.streams = tuple(streams)
        self.owned = frozenset(owned)  # only this group reads them: acked entries are deleted
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_min_idle_ms = claim_min_idle_ms
        self._backlog = True  # first re-read this consumer's own pending entries

    async def ensure_groups(self, starts: dict[str, str] | None = None) -> None:
        for stream in self.streams:
            await ensure_group(self.redis, stream, self.group, (starts or {}).get(stream, "0"))

    def read_backlog_again(self) -> None:
        """After a failure: the entries delivered but not acked are read again, first."""
        self._backlog = True

    async def read(self) -> list[StreamEntry]:
        if self._backlog:
            answer = await self.redis.xreadgroup(
                self.group, self.consumer, dict.fromkeys(self.streams, "0"), count=self.batch_size
            )
            entries = parse_read(answer)
            if entries:
                return entries
            self._backlog = False
        answer = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            dict.fromkeys(self.streams, ">"),
            count=self.batch_size,
            block=self.block_ms,
        )
        return parse_read(answer)

    async def claim(self) -> int:
        """Take over the entries other consumers left pending longer than the minimum idle."""
        claimed = 0
        for stream in self.streams:
            start = "0-0"
            for _ in range(CLAIM_ROUNDS):
                answer = await self.redis.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    self.claim_min_idle_ms,
                    start_id=start,
                    count=self.batch_size,
                )  # not JUSTID: redis-py then drops the cursor from the answer
                next_start, entries = answer[0], answer[1]
                claimed += len(entries)
                start = _text(next_start)
                if start == "0-0":
                    break
        if claimed:
            self._backlog = True
            log.info("claimed pending entries", entries=claimed)
        return claimed

    def _ack_call(self, entries: Sequence[StreamEntry]) -> tuple[Any, ...]:
        by_stream: dict[str, list[str]] = {stream: [] for stream in self.streams}
        for entry in entries:
            by_stream[entry.stream].append(entry.entry_id)
        arguments: list[str | int] = [self.group]
        for stream, ids in by_stream.items():
            arguments += (int(stream in self.owned), len(ids), *ids)
        return (ACK_SCRIPT, len(self.streams), *self.streams, *arguments)

    async def acknowledge(
        self,
        entries: Sequence[StreamEntry],
        letters: Sequence[DeadLetter] = (),
        also: Callable[[Pipeline], None] | None = None,
    ) -> None:
        """After the caller's commit: dead letters, acks, deletes and `also`, atomically."""
        for letter in letters:
            entry = letter.entry
            log.error(
                "entry dead-lettered", stream=entry.stream, entry=entry.entry_id, error=letter.error
            )
        ack = self._ack_call(entries)
        if not letters and also is None:  # the usual batch: acks only, one call
            await self.redis.eval(*ack)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for letter in letters:
                pipe.xadd(
                    keys.DEAD_LETTERS,
                    {
                        "stream": letter.entry.stream,
                        "id": letter.entry.entry_id,
                        "data": letter.letter_data(),
                        "error": letter.error,
                        "consumer": self.consumer,
                        "at": str(time.time_ns() // 1000),
                    },
                    maxlen=DEAD_LETTERS_MAXLEN,
                    approximate=True,
                )
            pipe.eval(*ack)
            if also is not None:
                also(pipe)
            await pipe.execute()

    async def backlog(self) -> tuple[int, int | None]:
        """Entries delivered but not acked, and entries not yet delivered (None when this
        Redis cannot tell)."""
        pending = 0
        lag: int | None = 0
        for stream in self.streams:
            for group in await self.redis.xinfo_groups(stream):
                if _text(group.get("name") or b"") != self.group:
                    continue
                pending += int(group.get("pending") or 0)
                group_lag = group.get("lag")
                lag = None if lag is None or group_lag is None else lag + int(group_lag)
        return pending, lag
