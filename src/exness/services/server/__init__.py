"""The HTTP server (SPEC §4): `exness server` runs it under uvicorn (uvloop, httptools)."""

from __future__ import annotations

import uvicorn

from exness.services.server.live.transport import LiveWebSocketProtocol
from exness.settings import Settings

__all__ = ["main"]


def main(settings: Settings) -> None:
    settings.stores()  # fail now, with the setting's name, rather than in every worker
    uvicorn.run(
        "exness.services.server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        backlog=4096,
        # GET /api/v1/ws (SPEC §8): frames up to 64 KB (a larger one closes the socket, 1009);
        # a ping every WS_PING_INTERVAL_S, and a socket whose pong has not come within
        # WS_IDLE_TIMEOUT_S of its last one is closed; no compression (small frames, and
        # deflating each frame for each socket would cost more CPU than the bytes it saves).
        ws=LiveWebSocketProtocol,
        ws_max_size=64 * 1024,
        ws_ping_interval=settings.ws_ping_interval_s,
        ws_ping_timeout=settings.ws_idle_timeout_s - settings.ws_ping_interval_s,
        ws_per_message_deflate=False,
    )
