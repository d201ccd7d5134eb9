"""Where the server keeps what an `Idempotency-Key` was answered (SPEC §7.5), per trader.

For each (trader, key) there is a record, a hash under `idempotency:<trader>:<sha256(key)>`
kept 24 h, and, while an attempt is being answered, a lock beside it:

- `fp`: the fingerprint of the first request made with the key (method, path, body); a
  request with another one is refused (422), whether the first is answered or in flight.
- `answer`: the status and body of the first answer worth keeping (every one but a 5xx);
  once there, every retry gets it back and nothing is applied again.
- `gen`: which engine request id the key stands for now (see `engine_request_id`). It moves
  on only when the engine refused the current one for good without applying it and the
  refusal is not an outcome (a stale price, 503): the engine remembers that refusal under
  the request id, so a retry must use a new id to be applied.
- the lock (`…:lock`, SET NX with a time-out a bit over the engine's): one attempt at a
  time; another one meanwhile is refused (409, try again), never applied a second time.

`begin` and `finish` are each one Lua script, so each is atomic and one round trip. A retry
of a key whose earlier attempt left no answer (a 504, a server that died) also reads the
engine's outcome of the request id (`engine:outcome:<request id>`, written by the engine
with its reply): if the engine did apply it, that is the answer, and nothing is sent again.
Otherwise the command is sent again with the same request id: the engine either applies it
(its earlier copies were refused as late, or never arrived) or answers it from its memory of
request ids, never twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from exness.adapters import keys
from exness.codec import CodecError
from exness.codec.replies import decode_reply
from exness.domain.messages import Reply

__all__ = [
    "ANSWER_TTL_S",
    "Begun",
    "Claim",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "engine_request_id",
    "key_digest",
]

ANSWER_TTL_S = 24 * 3600
MAX_REQUEST_ID = 128  # the engine's codec takes ids up to this length

State = Literal["first", "retry", "replay", "mismatch", "busy"]


def key_digest(key: str) -> str:
    """The key as it is stored: its SHA-256, so a key's text never reaches Redis or the engine."""
    return hashlib.sha256(key.encode()).hexdigest()


def engine_request_id(user_id: str, digest: str, generation: int) -> str:
    """The engine request id of (trader, key): the same for every attempt, so the engine's
    dedupe by request id makes a retry never a second application; prefixed so the engine
    keeps its outcome (keys.IDEMPOTENT_PREFIX)."""
    base = f"{keys.IDEMPOTENT_PREFIX}{user_id}:{digest}"
    if len(base) > MAX_REQUEST_ID - 12:  # a very long user id: hash it in, keep it unique
        both = hashlib.sha256(f"{user_id}\x00{digest}".encode()).hexdigest()
        base = f"{keys.IDEMPOTENT_PREFIX}{both}"
    return base if generation == 0 else f"{base}:{generation}"


@dataclass(frozen=True, slots=True)
class Claim:
    """One attempt's hold on (trader, key): finish() releases it."""

    record: str  # the record's Redis key
    token: str  # what the lock holds, so only this attempt releases it


@dataclass(frozen=True, slots=True)
class Begun:
    """What `begin` found: `first` (no attempt before) or `retry` (earlier attempts left no
    answer) — go ahead under `claim`, with the engine request id of `generation`; `replay`
    (the kept `answer`); `mismatch` (the key was used with another request); `busy` (an
    attempt is in flight)."""

    state: State
    claim: Claim | None = None
    generation: int = 0
    answer: bytes | None = None


class IdempotencyStore(Protocol):
    async def begin(
        self, user_id: str, digest: str, fingerprint: str, lock_ttl_s: float
    ) -> Begun: ...

    async def outcome(self, request_id: str) -> Reply | None:
        """The engine's answer to `request_id`, if it was taken (idempotent ids only)."""
        ...

    async def finish(self, claim: Claim, answer: bytes | None, renew: bool) -> None:
        """Keep `answer` (None: keep nothing, the next attempt tries again), move to a new
        engine request id if `renew`, and release the claim."""
        ...


def record_key(user_id: str, digest: str) -> str:
    return f"{keys.IDEMPOTENCY_PREFIX}{user_id}:{digest}"


# KEYS: record, lock. ARGV: fingerprint, token, lock ttl (ms), record ttl (s).
_BEGIN = """
local fp = redis.call('HGET', KEYS[1], 'fp')
if fp and fp ~= ARGV[1] then return {'mismatch'} end
local answer = redis.call('HGET', KEYS[1], 'answer')
if answer then return {'replay', answer} end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then return {'busy'} end
if fp then return {'retry', redis.call('HGET', KEYS[1], 'gen') or '0'} end
redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'gen', '0')
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'first', '0'}
"""

# KEYS: record, lock. ARGV: token, answer ('' for none), renew ('1'/'0'), record ttl (s).
_FINISH = """
if ARGV[2] ~= '' then
  redis.call('HSETNX', KEYS[1], 'answer', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  if ARGV[3] == '1' and ARGV[2] == '' then redis.call('HINCRBY', KEYS[1], 'gen', 1) end
  redis.call('DEL', KEYS[2])
end
return 1
"""
_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_BEGIN, _FINISH)}


class RedisIdempotencyStore:
    """The store in Redis: shared by every server process, and it survives their restarts.

    The scripts called in one turn of the event loop leave in one pipeline (as the engine
    client's commands do): under load a round trip, and its system calls, serve many
    requests instead of one each."""

    def __init__(self, client: aioredis.Redis, answer_ttl_s: int = ANSWER_TTL_S) -> None:
        self._client = client
        self._ttl = answer_ttl_s
        self._waiting: list[tuple[str, list[Any], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def begin(self, user_id: str, digest: str, fingerprint: str, lock_ttl_s: float) -> Begun:
        record = record_key(user_id, digest)
        token = uuid.uuid4().hex
        found = await self._call(
            _BEGIN,
            [record, record + ":lock", fingerprint, token, int(lock_ttl_s * 1000), self._ttl],
        )
        state = found[0].decode()
        if state == "replay":
            return Begun("replay", answer=found[1])
        if state in ("mismatch", "busy"):
            return Begun(state)
        return Begun(state, Claim(record, token), int(found[1]))

    async def outcome(self, request_id: str) -> Reply | None:
        raw = await self._client.get(keys.outcome_key(request_id))
        if raw is None:
            return None
        try:
            return decode_reply(raw)
        except CodecError:
            return None

    async def finish(self, claim: Claim, answer: bytes | None, renew: bool) -> None:
        lock = claim.record + ":lock"
        await self._call(
            _FINISH, [claim.record, lock, claim.token, answer or b"", int(renew), self._ttl]
        )

    async def _call(self, script: str, keys_and_args: list[Any]) -> Any:
        """Run `script` (2 keys, then its arguments) with the others of this loop turn."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((script, keys_and_args, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        self._flushing = None
        try:
            results = await self._run(batch)
        except (RedisError, OSError) as error:
            results = [error] * len(batch)
        for (_, _, future), result in zip(batch, results, strict=True):
            if future.done():  # its request was cancelled
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _run(self, batch: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> list[Any]:
        results = await self._pipeline(batch)
        # A Redis that restarted has forgotten the scripts: load them, run those again.
        unknown = [n for n, result in enumerate(results) if isinstance(result, NoScriptError)]
        if unknown:
            for script in {batch[n][0] for n in unknown}:
                await self._client.script_load(script)
            again = await self._pipeline([batch[n] for n in unknown])
            for n, result in zip(unknown, again, strict=True):
                results[n] = result
        return results

    async def _pipeline(self, batch: list[tuple[str, list[Any], asyncio.Future[Any]]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for script, keys_and_args, _ in batch:
                pipe.evalsha(_SHA[script], 2, *keys_and_args)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            return results


@dataclass
class _Record:
    fingerprint: str
    generation: int = 0
    answer: bytes | None = None
    lock: tuple[str, float] | None = None  # (token, expires at, monotonic)


@dataclass
class MemoryIdempotencyStore:
    """The same rules in this process's memory, for route tests (tests/routes). `outcomes`
    stands for the engine's outcome keys: a test puts there what the engine would have."""

    records: dict[str, _Record] = field(default_factory=dict)
    outcomes: dict[str, Reply] = field(default_factory=dict)

    async def begin(self, user_id: str, digest: str, fingerprint: str, lock_ttl_s: float) -> Begun:
        key = record_key(user_id, digest)
        record = self.records.get(key)
        if record is not None and record.fingerprint != fingerprint:
            return Begun("mismatch")
        if record is not None and record.answer is not None:
            return Begun("replay", answer=record.answer)
        now = time.monotonic()
        if record is not None and record.lock is not None and record.lock[1] > now:
            return Begun("busy")
        token = uuid.uuid4().hex
        state: State = "retry" if record is not None else "first"
        if record is None:
            record = self.records[key] = _Record(fingerprint)
        record.lock = (token, now + lock_ttl_s)
        return Begun(state, Claim(key, token), record.generation)

    async def outcome(self, request_id: str) -> Reply | None:
        return self.outcomes.get(request_id)

    async def finish(self, claim: Claim, answer: bytes | None, renew: bool) -> None:
        record = self.records[claim.record]
        if answer is not None and record.answer is None:
            record.answer = answer
        if record.lock is not None and record.lock[0] == claim.token:
            if renew and answer is None:
                record.generation += 1
            record.lock = None
