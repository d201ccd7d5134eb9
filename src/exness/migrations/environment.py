"""What both migration sets' env.py do: run on the connection they are given, or on a URL.

`run_migrations()` hands Alembic a live (sync-facing) connection through
`config.attributes["connection"]`, inside `AsyncConnection.run_sync`, so the async driver
is used without a second event loop. Run by the `alembic` command line instead, env.py
connects itself to `sqlalchemy.url` from the ini, or else to DATABASE_URL / SNAPSHOT_URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

__all__ = ["run"]


def _configure_and_run(connection: Connection, version_table: str, metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=version_table,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url(snapshot_set: bool) -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from exness.settings import get_settings

    settings = get_settings()
    url = settings.snapshot_url if snapshot_set else settings.database_url
    if url is None:
        raise RuntimeError("set DATABASE_URL (and SNAPSHOT_URL) to run the migrations")
    return url


async def _run_online(url: str, version_table: str, metadata: MetaData) -> None:
    from exness.adapters.db.session import create_engine

    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_configure_and_run, version_table, metadata)
    finally:
        await engine.dispose()


def run(default_version_table: str, metadata: MetaData, snapshot_set: bool = False) -> None:
    config = context.config
    version_table = config.attributes.get("version_table", default_version_table)
    if context.is_offline_mode():
        context.configure(
            url=_url(snapshot_set),
            target_metadata=metadata,
            version_table=version_table,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection, version_table, metadata)
    else:
        asyncio.run(_run_online(_url(snapshot_set), version_table, metadata))
