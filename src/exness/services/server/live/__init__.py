"""Live updates over WebSocket (SPEC §8): `GET /api/v1/ws`.

- protocol.py   what a client frame asks, the server's control answers, flood budgets (pure)
- outbox.py     one socket's waiting frames: control, private in order, quotes coalesced (pure)
- connection.py one socket: requests, the sender task, the private feed and its catch-up
- hub.py        the process's fan-out from the Redis subscription to the sockets
- candles.py    the current candle of each candle channel, from price_stream
- endpoint.py   the handshake (Origin, session) and the frame loop
"""

from __future__ import annotations

from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from exness.services.server.live.endpoint import live_socket
from exness.services.server.live.hub import LiveHub, LiveLimits, live_updates

__all__ = ["PATH", "LiveHub", "LiveLimits", "live_route", "live_updates"]

PATH = "/api/v1/ws"


class _LiveApp:
    """The route's ASGI app (an object, so Starlette does not wrap it as an endpoint)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await live_socket(scope, receive, send)


def live_route() -> WebSocketRoute:
    return WebSocketRoute(PATH, _LiveApp())
