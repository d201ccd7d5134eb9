"""The HTTP server (SPEC §4): `exness server` runs it under uvicorn (uvloop, httptools)."""

from __future__ import annotations

import uvicorn

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
    )
