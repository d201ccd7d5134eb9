"""Stores for benchmarks: BENCH_REDIS_URL / BENCH_DATABASE_URL if set, else embedded ones
(the same code `exness up` uses), in a temporary directory, migrated."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import psutil

from exness.adapters.db.migrate import run_migrations
from exness.adapters.embedded import EmbeddedPostgres, EmbeddedValkey
from exness.settings import Settings

BACKGROUND_NICE: int = Settings.model_fields["background_nice"].default


class Stores(NamedTuple):
    redis_url: str
    database_url: str
    valkey_dir: Path | None  # where an embedded store keeps its pid file, if we started it
    postgres_dir: Path | None

    def pids(self) -> list[int]:
        """The processes of the embedded stores (Valkey; PostgreSQL's postmaster and every
        backend and worker under it), for CPU accounting; [] for external stores."""
        pids: list[int] = []
        for pid_file in (
            self.valkey_dir and self.valkey_dir / "valkey.pid",
            self.postgres_dir and self.postgres_dir / "postmaster.pid",
        ):
            if pid_file is None or not pid_file.exists():
                continue
            pid = int(pid_file.read_text().split()[0])
            with contextlib.suppress(psutil.Error):
                pids += [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
        return pids


@contextlib.contextmanager
def stores(appendfsync: str = "everysec") -> Iterator[Stores]:
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
                postgres.start(nice=BACKGROUND_NICE)  # as `make run` has it
                database_url = postgres.ensure_database("exness")
            asyncio.run(run_migrations(database_url, database_url))
            yield Stores(
                redis_url,
                database_url,
                valkey.data_dir if valkey else None,
                postgres.data_dir if postgres else None,
            )
        finally:
            if postgres is not None:
                postgres.stop()
            if valkey is not None:
                valkey.stop()
