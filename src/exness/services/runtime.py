"""What every service process shares: an event loop (uvloop), signal handling, status keys."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis
import uvloop

from exness.adapters.keys import STATUS_TTL_S

__all__ = ["StopSignal", "consumer_name", "publish_status", "run_service", "tune_gc"]


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


def tune_gc(young: int = 50_000) -> None:
    """Call once the long-lived state is built: freeze it out of the cyclic collector's way
    and collect the young generation less often. The services allocate mostly short-lived,
    acyclic objects (reference counting frees them); the default threshold (700) spends
    time rescanning the same large heaps for cycles that are rarely there."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(young, 20, 100)


def consumer_name(service: str) -> str:
    return f"{service}-{socket.gethostname()}-{os.getpid()}"


async def publish_status(client: aioredis.Redis, key: str, **fields: object) -> None:
    """A small JSON status that expires when the service stops refreshing it."""
    body = {"pid": os.getpid(), "at": time.time_ns() // 1000, **fields}
    await client.set(key, orjson.dumps(body), ex=STATUS_TTL_S)
