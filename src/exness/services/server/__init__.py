"""The HTTP server (SPEC §4): `exness server` runs it under uvicorn (uvloop, httptools),
with the connection limits of protocol.py (README, "Security"), and with SERVER_WORKERS > 1
a listening socket per worker (listen.py)."""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from exness.services.server.listen import reuse_port_socket
from exness.services.server.live.transport import LiveWebSocketProtocol
from exness.services.server.protocol import (
    GuardedHttpToolsProtocol,
    ServerLimits,
    raise_open_files_limit,
)
from exness.settings import Settings

__all__ = ["main"]


def main(settings: Settings) -> None:
    settings.stores()  # fail now, with the setting's name, rather than in every worker
    raise_open_files_limit()  # the workers inherit it
    GuardedHttpToolsProtocol.configure(ServerLimits.from_settings(settings))  # checks it fits
    config = uvicorn.Config(
        "exness.services.server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.server_workers,
        loop="uvloop",
        http=GuardedHttpToolsProtocol,
        access_log=False,
        log_level="warning",
        # Forwarding headers are read by our own middleware (clientip.py), from the proxies
        # in FORWARDED_ALLOW_IPS only; uvicorn's would trust 127.0.0.1 by default.
        proxy_headers=False,
        server_header=False,
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
    if config.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    # a listening socket per worker (listen.py); uvicorn's supervisor restarts dead workers
    Multiprocess(config, sockets=[reuse_port_socket(config)]).run()
