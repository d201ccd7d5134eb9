"""How the server talks to the engine and reads quotes: two small ports.

The server depends on these Protocols only. `adapters/rpc.py` (EngineClient) and
`adapters/quotes.py` (QuoteBook) implement them over Redis for the running platform;
`adapters/inprocess.py` implements both over a domain `Engine` in the same process, for
route tests that need no services.
"""

from __future__ import annotations

from typing import Protocol

from exness.domain.messages import Command, Quote, Reply

__all__ = ["EnginePort", "EngineTimeout", "EngineUnavailable", "QuotePort"]


class EngineTimeout(Exception):
    """The engine did not answer in time (it may still apply the request later)."""


class EngineUnavailable(Exception):
    """The request could not be delivered to the engine (its bus is unreachable)."""


class EnginePort(Protocol):
    def new_request_id(self) -> str:
        """A request id no other request of this server process has used."""
        ...

    async def send(self, command: Command) -> Reply:
        """Deliver `command` and wait for the engine's answer; raises EngineTimeout or
        EngineUnavailable. The engine stamps the command's time itself."""
        ...


class QuotePort(Protocol):
    async def quote(self, asset: str) -> Quote | None:
        """The engine's latest quote of `asset`, or None when it has none yet."""
        ...
