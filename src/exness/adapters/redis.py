"""Redis connections (redis-py with hiredis), configured the same way for every service."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

__all__ = ["connect"]


def connect(url: str, **options: Any) -> aioredis.Redis:
    """A client on `url`; bytes in and out (the codecs decode), TCP keepalive on."""
    if not url.startswith("unix://"):  # a unix socket connection refuses the keepalive option
        options.setdefault("socket_keepalive", True)
    options.setdefault("health_check_interval", 30)
    # A Redis that vanished must surface as an error to retry, not hang a service forever;
    # blocking reads through these clients block for at most a few seconds.
    options.setdefault("socket_connect_timeout", 5.0)
    options.setdefault("socket_timeout", 15.0)
    return aioredis.Redis.from_url(url, **options)
