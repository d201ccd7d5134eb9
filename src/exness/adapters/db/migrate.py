"""Apply both migration sets (src/exness/migrations) in code: idempotent, safe to run at once.

Each database is migrated in one transaction that first takes a transaction-level advisory
lock, so when several processes start together one migrates and the others wait, then find
nothing left to do. PostgreSQL DDL is transactional: a failed migration leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from exness.adapters.db.session import create_engine

__all__ = ["MIGRATION_SETS", "alembic_config", "run_migrations"]

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

# set name -> its alembic version table
MIGRATION_SETS = {"main": "alembic_version", "snapshots": "alembic_version_snapshots"}

# pg_advisory_xact_lock key: any constant shared by every process that migrates
_LOCK_KEY = 0x65786E6573735F6D  # "exness_m"


def alembic_config(migration_set: str, connection: Connection | None = None) -> Config:
    """The Alembic configuration of one set, built in code (there is no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS / migration_set))
    config.attributes["version_table"] = MIGRATION_SETS[migration_set]
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, migration_sets: list[str], main_revision: str) -> None:
    for migration_set in migration_sets:
        revision = main_revision if migration_set == "main" else "head"
        command.upgrade(alembic_config(migration_set, connection), revision)


async def _migrate(url: str, migration_sets: list[str], main_revision: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            await connection.run_sync(_upgrade, migration_sets, main_revision)
    finally:
        await engine.dispose()


async def run_migrations(
    database_url: str, snapshot_url: str | None = None, *, main_revision: str = "head"
) -> None:
    """Bring DATABASE_URL to the head of "main" (or to `main_revision`, for tests of a
    migration on existing data) and SNAPSHOT_URL (default: the same) to the head of
    "snapshots"."""
    snapshot_url = snapshot_url or database_url
    if snapshot_url == database_url:
        await _migrate(database_url, ["main", "snapshots"], main_revision)
    else:
        await _migrate(database_url, ["main"], main_revision)
        await _migrate(snapshot_url, ["snapshots"], main_revision)
