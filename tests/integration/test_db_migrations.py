"""The migrations against a real PostgreSQL: schema, seed, idempotence, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from exness.adapters.db.migrate import alembic_config, run_migrations
from exness.adapters.db.models import Base, SnapshotBase
from exness.adapters.db.session import create_engine
from exness.adapters.db.writer import DbWriter
from exness.domain.assets import ASSETS
from exness.domain.messages import TradeClosed
from exness.domain.positions import Position
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
    return {
        name: {item[0] for item in items if item[0] != "index"}
        for name, items in (await schema_of(url)).items()
    }


async def schema_of(url: str) -> dict[str, set[tuple]]:
    """Table name -> {(column, type, nullable)} and {("index", name, columns, unique)}, as
    PostgreSQL has them."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:

            def read(sync_connection):
                inspector = inspect(sync_connection)
                found = {}
                for table in inspector.get_table_names():
                    found[table] = {
                        (c["name"], c["type"].compile(dialect=postgresql.dialect()), c["nullable"])
                        for c in inspector.get_columns(table)
                    } | {
                        ("index", i["name"], tuple(i["column_names"]), bool(i["unique"]))
                        for i in inspector.get_indexes(table)
                    }
                return found

            return await connection.run_sync(read)
    finally:
        await engine.dispose()


def model_schema(metadata) -> dict[str, set[tuple]]:
    """The same as the models describe it (a primary key is never nullable; unique columns
    have their own constraint's index, which the inspector lists as indexes only sometimes,
    so indexes are those declared with Index)."""
    found = {}
    for name, table in metadata.tables.items():
        found[name] = {
            (c.name, str(c.type.compile(dialect=postgresql.dialect())), bool(c.nullable))
            for c in table.columns
        } | {
            ("index", i.name, tuple(c.name for c in i.columns), bool(i.unique))
            for i in table.indexes
        }
    return found


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
    assert versions == [("main_0002", "snap_0001")]

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
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_name IN ('trades', 'trade_closes') "
        "AND data_type = 'numeric' ORDER BY table_name, column_name",
    )
    money, price = ("numeric", 20, 2), ("numeric", 30, 10)
    assert [(row[0], row[1], tuple(row[2:])) for row in columns] == [
        ("trade_closes", "close_price", price),
        ("trade_closes", "margin", money),
        ("trade_closes", "margin_before", money),
        ("trade_closes", "pnl", money),
        ("trades", "close_price", price),
        ("trades", "last_close_margin", money),
        ("trades", "liquidation_price", price),
        ("trades", "margin", money),
        ("trades", "open_margin", money),
        ("trades", "open_price", price),
        ("trades", "pnl", money),
        ("trades", "stop_loss", price),
        ("trades", "take_profit", price),
        ("trades", "trigger_price", price),
    ]
    indexes = {row[0] for row in await query(database_url, "SELECT indexname FROM pg_indexes")}
    assert {
        "ix_trades_user_created",
        "ix_trades_asset_created",
        "ix_trades_user_closed",
        "ix_trades_user_pending",
        "trade_closes_pkey",
    } <= indexes
    insert = (
        "INSERT INTO trades (order_id, user_id, asset_id, trade_type, order_type, margin,"
        " open_margin, leverage, open_price, liquidation_price, close_reason, created_at)"
        " VALUES ('o', 'u', 1, {}, {}, 1, 1, 1, 1, 1, {}, now())"
    )
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        for values, constraint in (
            (("'SIDEWAYS'", "'market'", "NULL"), "trades_trade_type_check"),
            (("'LONG'", "'iceberg'", "NULL"), "trades_order_type_check"),
            (("'LONG'", "'market'", "'margin call'"), "trades_close_reason_check"),
        ):
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO users (id, created_at) VALUES ('u', now())")
                )
                with pytest.raises(IntegrityError, match=constraint):
                    await connection.execute(text(insert.format(*values)))
                await connection.rollback()
    finally:
        await engine.dispose()


async def test_the_models_describe_the_migrated_schema_exactly(database_url):
    """Column types, nullability and indexes, not only names."""
    found = await schema_of(database_url)
    for name, described in {
        **model_schema(Base.metadata),
        **model_schema(SnapshotBase.metadata),
    }.items():
        # the inspector also lists the indexes of unique constraints, which the models declare
        # with unique=True on the column instead
        migrated = {i for i in found[name] if i[0] != "index" or i[1].startswith("ix_")}
        assert migrated == described, name


async def test_existing_trades_migrate_to_orders_with_their_closes(empty_databases):
    """A database at main_0001 with an open, a closed and a liquidated trade: after the
    upgrade each is a market order with its status, margin held and one close row per close;
    and the writer carries on from there (a partial close, a redelivered old close)."""
    url = empty_databases[0]
    await run_migrations(url, main_revision="main_0001")
    assert await query(url, "SELECT version_num FROM alembic_version") == [("main_0001",)]
    await query_all(
        url,
        "INSERT INTO users (id, email, created_at) VALUES ('u', 'u@x.io', '2024-01-01Z')",
        "INSERT INTO trades (order_id, user_id, asset_id, trade_type, margin, leverage,"
        " open_price, liquidation_price, close_price, pnl, liquidated, created_at, closed_at)"
        " VALUES"
        " ('open', 'u', 1, 'LONG', 10.00, 10, 200, 180, NULL, NULL, false,"
        "  '2024-01-02Z', NULL),"
        " ('closed', 'u', 3, 'SHORT', 25.50, 5, 65000.1234, 78000.1481, 64000.0000, 1.97,"
        "  false, '2024-01-03Z', '2024-01-03 01:00Z'),"
        " ('liquidated', 'u', 2, 'LONG', 3.00, 50, 3000, 2940, 2939.5, -3.00, true,"
        "  '2024-01-04Z', '2024-01-04 00:05Z')",
    )
    await run_migrations(url)

    trades = {
        row.order_id: row
        for row in await query(
            url,
            "SELECT order_id, status, order_type, margin, open_margin, pnl, close_price,"
            " close_reason, last_close_margin, liquidated, opened_at = created_at AS opened,"
            " stop_loss, take_profit, trigger_price FROM trades",
        )
    }
    D = Decimal
    assert {k: tuple(v)[1:10] for k, v in trades.items()} == {
        "open": ("open", "market", D("10.00"), D("10.00"), None, None, None, None, False),
        "closed": (
            "closed", "market", D("25.50"), D("0.00"), D("1.97"), D("64000.0000000000"),
            "manual", D("25.50"), False,
        ),
        "liquidated": (
            "closed", "market", D("3.00"), D("0.00"), D("-3.00"), D("2939.5000000000"),
            "liquidation", D("3.00"), True,
        ),
    }  # fmt: skip
    assert all(row.opened for row in trades.values())
    assert all(row[11:] == (None, None, None) for row in trades.values())
    closes = await query(
        url,
        "SELECT order_id, margin_before, margin, close_price, pnl, reason,"
        " closed_at = (SELECT closed_at FROM trades t WHERE t.order_id = c.order_id)"
        " FROM trade_closes c ORDER BY order_id",
    )
    assert [tuple(row) for row in closes] == [
        ("closed", D("25.50"), D("25.50"), D("64000.0000000000"), D("1.97"), "manual", True),
        ("liquidated", D("3.00"), D("3.00"), D("2939.5000000000"), D("-3.00"), "liquidation", True),
    ]

    engine = create_engine(url, poolclass=NullPool)
    try:
        writer = DbWriter(engine)
        held = Position("open", "u", "SOL", "long", 1_000, 10, 200_000_000, 180_000_000, 1)
        old = Position("closed", "u", "BTC", "short", 2_550, 5, 650_001_234, 780_001_481, 1)
        await writer.write(
            [
                TradeClosed(held, 400, 210_000_000, 200, "manual", 2),
                TradeClosed(old, 2_550, 640_000_000, 197, "manual", 3),  # redelivered
            ]
        )
    finally:
        await engine.dispose()
    rows = await query(
        url, "SELECT order_id, status, open_margin, pnl FROM trades ORDER BY order_id"
    )
    assert [tuple(row) for row in rows] == [
        ("closed", "closed", D("0.00"), D("1.97")),
        ("liquidated", "closed", D("0.00"), D("-3.00")),
        ("open", "open", D("6.00"), D("2.00")),
    ]
    assert await query(url, "SELECT count(*) FROM trade_closes") == [(3,)]


async def test_the_upgrade_can_be_undone(empty_databases):
    url = empty_databases[0]
    await run_migrations(url)
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(
                lambda sync: command.downgrade(alembic_config("main", sync), "main_0001")
            )
    finally:
        await engine.dispose()
    tables = await tables_of(url)
    assert "trade_closes" not in tables and "status" not in tables["trades"]
    await run_migrations(url)
    assert await query(url, "SELECT version_num FROM alembic_version") == [("main_0002",)]


async def query_all(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
