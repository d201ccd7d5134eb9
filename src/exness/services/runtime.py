"""What every service process shares: an event loop (uvloop), signal handling, status keys."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis
import uvloop

from exness.adapters.keys import STATUS_TTL_S

__all__ = ["StopSignal", "consumer_name", "publish_status", "run_service"]


class StopSignal:
    """Set by SIGTERM or SIGINT; services finish their batch and exit when it is set."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.event.set)

    @property
    def is_set(self) -> bool:
        return self.event.is_set()

    async def wait(self, timeout: float) -> bool:
        """Sleep up to `timeout` seconds, waking early on a stop; True if stopping."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
        except TimeoutError:
            return False
        return True


def run_service(main: Callable[[StopSignal], Awaitable[None]]) -> None:
    """Run `main(stop)` on uvloop until it returns (after a signal, or on its own)."""

    async def runner() -> None:
        stop = StopSignal()
        stop.install()
        await main(stop)

    uvloop.run(runner())


def consumer_name(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def publish_status(client: aioredis.Redis, key: str, **fields: object) -> None:
    """A small JSON status that expires when the service stops refreshing it."""
    body = {"pid": os.getpid(), "at": time.time_ns() // 1000, **fields}
    await client.set(key, orjson.dumps(body), ex=STATUS_TTL_S)
