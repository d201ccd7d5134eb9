"""The migrations against a real PostgreSQL: schema, seed, idempotence, concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from exness.adapters.db.migrate import run_migrations
from exness.adapters.db.models import Base, SnapshotBase
from exness.adapters.db.session import create_engine
from exness.domain.assets import ASSETS
from tests.conftest import admin_sql, with_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def empty_databases(postgres_admin_url):
    """Two brand-new, unmigrated databases."""
    names = [f"m_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    await admin_sql(postgres_admin_url, *(f'CREATE DATABASE "{name}"' for name in names))
    yield [with_database(postgres_admin_url, name) for name in names]
    await admin_sql(
        postgres_admin_url, *(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names)
    )


async def tables_of(url: str) -> dict[str, set[str]]:
    """Table name -> column names, as PostgreSQL has them."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:

            def read(sync_connection):
                inspector = inspect(sync_connection)
                return {
                    table: {column["name"] for column in inspector.get_columns(table)}
                    for table in inspector.get_table_names()
                }

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def query(url: str, sql: str) -> list:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return list(await connection.execute(text(sql)))
    finally:
        await engine.dispose()


def model_columns(metadata) -> dict[str, set[str]]:
    return {name: {c.name for c in table.columns} for name, table in metadata.tables.items()}


async def test_both_sets_in_one_database_twice_and_concurrently(empty_databases):
    url = empty_databases[0]
    # Three processes starting together, then a fourth later: one migrates, the rest no-op.
    await asyncio.gather(*(run_migrations(url) for _ in range(3)))
    await run_migrations(url, url)

    tables = await tables_of(url)
    expected = {**model_columns(Base.metadata), **model_columns(SnapshotBase.metadata)}
    for name, columns in expected.items():
        assert tables[name] == columns, name
    assert {"alembic_version", "alembic_version_snapshots"} <= set(tables)
    versions = await query(
        url,
        "SELECT (SELECT version_num FROM alembic_version), "
        "(SELECT version_num FROM alembic_version_snapshots)",
    )
    assert versions == [("main_0001", "snap_0001")]

    assets = await query(url, "SELECT symbol, name, decimals, image_url FROM assets ORDER BY id")
    assert assets == [(a.symbol, a.name, a.decimals, a.image_url) for a in ASSETS.values()]


async def test_snapshot_set_in_its_own_database(empty_databases):
    main_url, snapshot_url = empty_databases
    await run_migrations(main_url, snapshot_url)
    await run_migrations(main_url, snapshot_url)

    main_tables, snapshot_tables = await tables_of(main_url), await tables_of(snapshot_url)
    assert "snapshots" not in main_tables
    assert {"users", "assets", "trades", "price_bars", "alembic_version"} <= set(main_tables)
    assert set(snapshot_tables) == {"snapshots", "alembic_version_snapshots"}


async def test_money_columns_are_numeric_and_indexes_exist(database_url):
    columns = await query(
        database_url,
        "SELECT column_name, data_type, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_name = 'trades' "
        "AND column_name IN ('margin', 'pnl', 'open_price', 'close_price', 'liquidation_price') "
        "ORDER BY column_name",
    )
    assert columns == [
        ("close_price", "numeric", 30, 10),
        ("liquidation_price", "numeric", 30, 10),
        ("margin", "numeric", 20, 2),
        ("open_price", "numeric", 30, 10),
        ("pnl", "numeric", 20, 2),
    ]
    indexes = {row[0] for row in await query(database_url, "SELECT indexname FROM pg_indexes")}
    assert {"ix_trades_user_created", "ix_trades_asset_created", "ix_trades_user_closed"} <= indexes
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO users (id, created_at) VALUES ('u', now())"))
            with pytest.raises(IntegrityError, match="trades_trade_type_check"):
                await connection.execute(
                    text(
                        "INSERT INTO trades (order_id, user_id, asset_id, trade_type, margin,"
                        " leverage, open_price, liquidation_price, created_at)"
                        " VALUES ('o', 'u', 1, 'SIDEWAYS', 1, 1, 1, 1, now())"
                    )
                )
            await connection.rollback()
    finally:
        await engine.dispose()
