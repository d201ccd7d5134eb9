"""The engine and quote ports over a domain `Engine` in this process: no Redis, no services.

For route tests (the FastAPI app through `httpx.ASGITransport`) and anything else that wants
the real trading rules without the bus. Commands are applied at once, stamped with the
clock's time; DB operations are kept in `operations` for a test to inspect.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from exness.domain.engine import Engine
from exness.domain.messages import (
    Command,
    DbOperation,
    PriceTick,
    Quote,
    Reply,
    db_operations,
)

__all__ = ["InProcessEngine"]


def _now_us() -> int:
    return time.time_ns() // 1000


class InProcessEngine:
    def __init__(self, engine: Engine | None = None, clock: Callable[[], int] = _now_us) -> None:
        self.engine = engine or Engine()
        self.clock = clock
        self.operations: list[DbOperation] = []
        self._ids = itertools.count()

    def new_request_id(self) -> str:
        return f"inprocess-{next(self._ids)}"

    async def send(self, command: Command) -> Reply:
        command.ts = self.clock()
        events = self.engine.apply(command)
        reply = events[0]
        assert isinstance(reply, Reply)  # the engine answers first
        self.operations += db_operations(events)
        return reply

    async def quote(self, asset: str) -> Quote | None:
        return self.engine.quote(asset)

    def price(self, tick: PriceTick) -> None:
        """A price from the feed, as the engine service would apply it."""
        self.operations += db_operations(self.engine.on_price(tick))
