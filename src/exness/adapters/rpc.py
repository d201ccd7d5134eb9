"""The server's side of request/reply with the engine (ARCHITECTURE §4).

Each server process owns one reply list, `engine_replies:<server id>`, and one background
reader that takes replies in batches (BLMPOP) and resolves the waiting futures by request
id. A request costs one LPUSH on a shared connection pool; no connection is held while
waiting, so thousands of requests can be in flight. A reply that comes after its request
timed out finds no future and is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.codec import CodecError
from exness.codec.commands import decode_reply, encode_command
from exness.domain.messages import Reply
from exness.log import get_logger

__all__ = ["EngineClient", "EngineTimeout", "EngineUnavailable"]

log = get_logger(__name__)

QUEUE_OF = {
    "CREATE_TRADE": keys.TRADE_QUEUE,
    "CLOSE_TRADE": keys.TRADE_QUEUE,
    "INITIALIZE_WALLET": keys.WALLET_QUEUE,
    "GET_USER_BALANCE": keys.WALLET_QUEUE,
    "GET_USDC_BALANCE": keys.WALLET_QUEUE,
    "GET_OPEN_TRADES": keys.WALLET_QUEUE,
}


class EngineTimeout(Exception):
    """The engine did not answer in time (it may still apply the request later)."""


class EngineUnavailable(Exception):
    """The request could not be queued: Redis is unreachable."""


class EngineClient:
    def __init__(
        self,
        client: aioredis.Redis,
        url: str,
        timeout_s: float,
        server_id: str | None = None,
        on_latency: Any = None,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.server_id = server_id or uuid.uuid4().hex
        self.reply_to = keys.reply_key(self.server_id)
        self._url = url
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._on_latency = on_latency  # callback(kind, seconds), for metrics

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read_replies(), name="engine-replies")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for future in self._pending.values():
            future.cancel()

    async def call(self, kind: str, user_id: str, data: dict[str, Any] | None = None) -> Reply:
        request_id = uuid.uuid4().hex
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        started = time.perf_counter()
        try:
            body = encode_command(kind, request_id, user_id, self.reply_to, data)
            try:
                await self.client.lpush(QUEUE_OF[kind], body)
            except (RedisError, OSError) as error:
                raise EngineUnavailable(f"cannot reach Redis: {error}") from error
            try:
                return await asyncio.wait_for(future, self.timeout_s)
            except TimeoutError:
                raise EngineTimeout(
                    f"the engine did not answer within {self.timeout_s:g} s"
                ) from None
        finally:
            self._pending.pop(request_id, None)
            if self._on_latency is not None:
                self._on_latency(kind, time.perf_counter() - started)

    async def _read_replies(self) -> None:
        # A connection of its own: BLMPOP blocks it, which must not starve the shared pool.
        reader = aioredis.Redis.from_url(self._url, single_connection_client=True)
        try:
            while True:
                try:
                    popped = await reader.blmpop(1, 1, self.reply_to, direction="RIGHT", count=512)
                except (RedisError, OSError) as error:
                    log.warning("reading engine replies failed; retrying", error=repr(error))
                    await asyncio.sleep(0.5)
                    continue
                if not popped:
                    continue
                for raw in popped[1]:
                    self._resolve(raw)
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
        if future is not None and not future.done():
            future.set_result(reply)
