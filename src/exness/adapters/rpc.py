"""The server's side of request/reply with the engine (ARCHITECTURE §4).

Each server process owns one reply list, `engine_replies:<server id>`, and one background
reader that takes replies in batches (BLMPOP) and resolves the waiting futures by request
id. Requests made in the same turn of the event loop are pushed together, one LPUSH per
queue; no connection is held while waiting, so thousands of requests can be in flight.
A reply that comes after its request timed out finds no future and is dropped.

Every command carries a deadline: its send time plus the time-out, less DEADLINE_MARGIN. The
engine refuses unapplied (DEADLINE_EXCEEDED) a command it takes after its deadline, so when
this client gives up and the server answers 504, the engine has either refused the command
or will, or took it at least the margin before the 504 (its reply delayed past it): never a
surprise application long after the trader was told "timed out". The margin is there
(a) so that the engine's answer to a command taken just in time, or its refusal of one taken
late, still reaches the server before the time-out, rather than crossing a 504, and (b) for
the small difference between this process's clock and the engine's (the journal entry's
time, from Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.adapters.engine_port import EngineTimeout, EngineUnavailable
from exness.backoff import Backoff
from exness.codec import CodecError
from exness.codec.commands import encode_command, queue_of, wire_name
from exness.codec.replies import decode_reply
from exness.domain.messages import Command, Reply
from exness.log import get_logger

__all__ = ["EngineClient"]

log = get_logger(__name__)

LatencyObserver = Callable[[str, float], None]  # (the command's wire name, seconds)

DEADLINE_MARGIN_S = 0.25  # at most; a fifth of a shorter time-out
LATE = "DEADLINE_EXCEEDED"


def now_us() -> int:
    return time.time_ns() // 1000


class EngineClient:
    """The engine port (adapters/engine_port.py) over Redis."""

    BLOCK_S = 1  # how long the reply reader blocks in one BLMPOP

    def __init__(
        self,
        client: aioredis.Redis,
        url: str,
        timeout_s: float,
        server_id: str | None = None,
        on_latency: LatencyObserver | None = None,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.server_id = server_id or uuid.uuid4().hex
        self.reply_to = keys.reply_key(self.server_id)
        self._url = url
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._on_latency = on_latency
        self._ids = itertools.count()
        # Requests made in the same turn of the event loop leave in one LPUSH per queue.
        self._outbox: dict[str, list[tuple[bytes, asyncio.Future[Reply]]]] = {}
        self._flushing: asyncio.Task[None] | None = None
        # (deadline, request id), oldest first: every request has the same time-out
        self._deadlines: deque[tuple[float, str]] = deque()
        self._expiring: asyncio.Task[None] | None = None
        self._stopping = False
        margin = min(DEADLINE_MARGIN_S, timeout_s / 5)
        self._deadline_after_us = int((timeout_s - margin) * 1_000_000)
        # the deadline each idempotent request (keys.IDEMPOTENT_PREFIX) was sent with: such an
        # id is sent again on a retry, and an older copy's refusal must not answer the new one
        self._idempotent_deadlines: dict[str, int] = {}

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_replies(), name="engine-replies")

    async def stop(self) -> None:
        # The reader is not cancelled in the middle of BLMPOP: redis-py can hang on a blocking
        # command cancelled mid-flight. It sees the flag within BLOCK_S and returns.
        self._stopping = True
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), self.BLOCK_S + 2)
            except TimeoutError:
                self._reader.cancel()
        if self._expiring is not None:
            self._expiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiring
        for future in self._pending.values():
            future.cancel()

    def new_request_id(self) -> str:
        # Unique without a syscall: this server's random id and a counter.
        return f"{self.server_id}-{next(self._ids)}"

    async def send(self, command: Command) -> Reply:
        request_id = command.request_id
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        started = time.perf_counter()
        if command.deadline is None:
            command.deadline = now_us() + self._deadline_after_us
        if request_id.startswith(keys.IDEMPOTENT_PREFIX):
            self._idempotent_deadlines[request_id] = command.deadline
        self._pending[request_id] = future
        self._deadlines.append((started + self.timeout_s, request_id))
        try:
            body = encode_command(command, self.reply_to)
            self._outbox.setdefault(queue_of(command), []).append((body, future))
            if self._flushing is None:
                self._flushing = asyncio.create_task(self._flush())
            if self._expiring is None:
                self._expiring = asyncio.create_task(self._expire())
            return await future
        finally:
            self._pending.pop(request_id, None)
            self._idempotent_deadlines.pop(request_id, None)
            if self._on_latency is not None:
                self._on_latency(wire_name(command), time.perf_counter() - started)

    async def _expire(self) -> None:
        """Fail requests the engine left unanswered past the time-out. One task for all of
        them, instead of a timer per request (`asyncio.wait_for`), which costs more than the
        rest of a request's bookkeeping."""
        deadlines = self._deadlines
        try:
            while deadlines:
                await asyncio.sleep(min(0.05, self.timeout_s / 10))
                now = time.perf_counter()
                while deadlines and deadlines[0][0] <= now:
                    _, request_id = deadlines.popleft()
                    future = self._pending.get(request_id)
                    if future is not None and not future.done():
                        future.set_exception(
                            EngineTimeout(f"the engine did not answer within {self.timeout_s:g} s")
                        )
        finally:
            self._expiring = None

    async def _flush(self) -> None:
        """Push everything queued so far: one round trip for however many requests."""
        outbox, self._outbox = self._outbox, {}
        self._flushing = None
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for queue, items in outbox.items():
                    pipe.lpush(queue, *(body for body, _ in items))
                await pipe.execute()
        except (RedisError, OSError) as error:
            failure = EngineUnavailable(f"cannot reach Redis: {error}")
            for items in outbox.values():
                for _, future in items:
                    if not future.done():
                        future.set_exception(failure)

    async def _read_replies(self) -> None:
        # A connection of its own: BLMPOP blocks it, which must not starve the shared pool.
        reader = aioredis.Redis.from_url(self._url, single_connection_client=True)
        backoff = Backoff(initial=0.05, maximum=1.0)
        try:
            while not self._stopping:
                try:
                    popped = await reader.blmpop(
                        self.BLOCK_S, 1, self.reply_to, direction="RIGHT", count=512
                    )
                    backoff.reset()
                except (RedisError, OSError) as error:
                    log.warning("reading engine replies failed; retrying", error=repr(error))
                    await asyncio.sleep(backoff.next_delay())
                    continue
                if not popped:
                    continue
                for raw in popped[1]:
                    self._resolve(cast(bytes, raw))  # without decode_responses: bytes
        finally:
            with contextlib.suppress(RedisError, OSError):
                await reader.aclose()

    def _resolve(self, raw: bytes) -> None:
        try:
            reply = decode_reply(raw)
        except CodecError as error:
            log.warning("bad reply from the engine", error=str(error))
            return
        future = self._pending.get(reply.request_id)
        if future is None or future.done():
            return
        if reply.code == LATE:
            deadline = self._idempotent_deadlines.get(reply.request_id)
            if deadline is not None and now_us() < deadline:
                return  # an earlier copy of a retried request, refused: not this copy's answer
        future.set_result(reply)
