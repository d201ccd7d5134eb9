"""Stores for benchmarks: BENCH_REDIS_URL / BENCH_DATABASE_URL if set, else embedded ones
(the same code `exness up` uses), in a temporary directory, migrated."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from exness.adapters.db.migrate import run_migrations
from exness.adapters.embedded import EmbeddedPostgres, EmbeddedValkey


@contextlib.contextmanager
def stores(appendfsync: str = "everysec") -> Iterator[tuple[str, str]]:
    with tempfile.TemporaryDirectory(prefix="exness-bench-") as scratch:
        home = Path(scratch)
        valkey = postgres = None
        redis_url = os.environ.get("BENCH_REDIS_URL")
        database_url = os.environ.get("BENCH_DATABASE_URL")
        try:
            if redis_url is None:
                valkey = EmbeddedValkey(home / "valkey", appendfsync)
                redis_url = valkey.start()
            if database_url is None:
                postgres = EmbeddedPostgres(home / "postgres")
                postgres.start()
                database_url = postgres.ensure_database("exness")
            asyncio.run(run_migrations(database_url, database_url))
            yield redis_url, database_url
        finally:
            if postgres is not None:
                postgres.stop()
            if valkey is not None:
                valkey.stop()
