"""The one way services get a database engine: asyncpg, orjson for JSONB, a small pool."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from exness.adapters.db.urls import sqlalchemy_url

__all__ = ["create_engine"]


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An AsyncEngine on `url` (TCP or `postgresql://user@/db?host=/socket/dir`).

    `pool_pre_ping` makes a connection that died with a PostgreSQL restart be replaced on its
    next checkout instead of failing a request; `pool_recycle` keeps connections from outliving
    idle timeouts of proxies in between.
    """
    if "poolclass" not in options:  # a NullPool (one-off scripts, migrations) takes no sizes
        options.setdefault("pool_size", 5)
        options.setdefault("max_overflow", 5)
        options.setdefault("pool_timeout", 10)
        options.setdefault("pool_recycle", 1800)
    options.setdefault("pool_pre_ping", True)
    options.setdefault("json_serializer", _json_dumps)
    options.setdefault("json_deserializer", orjson.loads)
    return create_async_engine(sqlalchemy_url(url), **options)
