"""Real stores for integration and e2e tests (ARCHITECTURE §6).

With `TEST_REDIS_URL` / `TEST_DATABASE_URL` set, tests use those servers (the Redis
database is flushed before each test; the PostgreSQL user must be allowed to create
databases). Unset, they start an embedded Valkey and an embedded PostgreSQL once per
session, exactly as `exness up` does on a fresh machine. Each test gets a fresh database,
copied from a migrated template.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis

from exness.adapters.db.urls import asyncpg_dsn
from exness.adapters.embedded import EmbeddedPostgres, EmbeddedValkey

TEMPLATE = "exness_test_template"


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def stores_dir() -> Iterator[Path]:
    # Not under pytest's basetemp: pytest deletes old basetemp folders when another session
    # starts, and a store must not lose its data directory while this session runs.
    path = Path(tempfile.mkdtemp(prefix="exness-test-stores-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server_url(stores_dir: Path) -> Iterator[str]:
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    valkey = EmbeddedValkey(stores_dir / "valkey", tied_to_parent=True)
    yield valkey.start()
    valkey.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(stores_dir: Path) -> Iterator[str]:
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    postgres = EmbeddedPostgres(stores_dir / "pg", durable=False)
    yield postgres.start()
    postgres.stop()


async def admin_sql(admin_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(admin_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def template_database(postgres_admin_url: str) -> str:
    """A database migrated once; each test's database is a copy of it."""
    from exness.adapters.db.migrate import run_migrations

    async def build() -> None:
        await admin_sql(
            postgres_admin_url,
            f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)',
            f'CREATE DATABASE "{TEMPLATE}"',
        )
        url = with_database(postgres_admin_url, TEMPLATE)
        await run_migrations(url, url)

    asyncio.run(build())
    return TEMPLATE


@pytest.fixture
async def database_url(postgres_admin_url: str, template_database: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    await admin_sql(postgres_admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(postgres_admin_url, name)
    await admin_sql(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_url(redis_server_url: str) -> AsyncIterator[str]:
    client = aioredis.Redis.from_url(redis_server_url)
    await client.flushdb()
    await client.aclose()
    yield redis_server_url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    """A Valkey of the test's own, for tests that kill or restart it."""
    valkey = EmbeddedValkey(tmp_path / "valkey", tied_to_parent=True)
    valkey.start()
    yield valkey
    valkey.stop()
