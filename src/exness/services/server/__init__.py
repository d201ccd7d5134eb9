"""The HTTP server (SPEC §4): `exness server` runs it under uvicorn (uvloop, httptools),
with the connection limits of protocol.py (README, "Security")."""

from __future__ import annotations

import uvicorn

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
    uvicorn.run(
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
    )
