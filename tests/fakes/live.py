"""A trader event log in memory, shaped like adapters/events.EventLog, for socket tests
without Redis: a test writes numbered messages into it and publishes them to a hub."""

from __future__ import annotations

import orjson

from exness.adapters.events import LogRead
from exness.codec.events import encode_live_batch


class MemoryLog:
    def __init__(self) -> None:
        self.messages: dict[str, list[str]] = {}
        self.trimmed: dict[str, int] = {}  # trader -> how many of the oldest are gone
        self.reads = 0

    def add(self, trader: str, **body: object) -> tuple[str, str]:
        """The trader's next message (an order event unless `type` says otherwise)."""
        mine = self.messages.setdefault(trader, [])
        fields = {"channel": "account", "type": "order", **body}
        message = f'{{"traderSeq":{len(mine) + 1},{orjson.dumps(fields).decode()[1:]}'
        mine.append(message)
        return trader, message

    def trim(self, trader: str, count: int) -> None:
        self.trimmed[trader] = count

    async def current(self, trader: str) -> int:
        self.reads += 1
        return len(self.messages.get(trader, []))

    async def after(self, trader: str, since: int, count: int = 1000) -> LogRead:
        self.reads += 1
        mine = self.messages.get(trader, [])
        first = self.trimmed.get(trader, 0)  # messages[first:] are kept (numbers first+1...)
        start = max(since, first)
        kept = mine[start : start + count]
        complete = since >= len(mine) or since >= first
        return LogRead(kept if complete else [], len(mine), complete)


def batch(*events: tuple[str, str]) -> bytes:
    return encode_live_batch(list(events))
