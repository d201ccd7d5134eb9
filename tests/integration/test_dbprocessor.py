"""The DB processor in-process against real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text

from exness.adapters import keys
from exness.adapters.db.migrate import run_migrations
from exness.adapters.db.rows import us_to_datetime
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.codec.operations import encode_operation, encode_operations
from exness.codec.prices import encode_price_updates
from exness.codec.snapshot import SnapshotEntry, encode_snapshot, encode_state
from exness.domain import Engine
from exness.domain.messages import (
    InitializeWallet,
    PriceTick,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.positions import Position
from exness.services.dbprocessor import DbProcessor
from exness.services.runtime import StopSignal
from tests.conftest import admin_sql, with_database

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000_000
MINUTE = 60_000_000


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def processor(client, db, **options) -> DbProcessor:
    options.setdefault("consumer", "live")
    options.setdefault("block_ms", 50)
    return DbProcessor(client, db, SnapshotStore(db, keep=2), **options)


async def drain(service: DbProcessor) -> None:
    for _ in range(20):
        if await service.run_once() == 0:
            return
    raise AssertionError("the processor never ran out of entries")


def held(order_id: str, user: str = "alice", margin: int = 777) -> Position:
    return Position(order_id, user, "SOL", "long", margin, 10, 201_470_000, 181_323_000, T0)


async def add_operation(client, operation) -> str:
    return (await client.xadd(keys.DB_OPERATIONS, {"data": encode_operation(operation)})).decode()


async def add_ops(client, *operations) -> str:
    """One entry of several operations, as the engine writes them."""
    entry = {"ops": encode_operations(list(operations))}
    return (await client.xadd(keys.DB_OPERATIONS, entry)).decode()


async def add_prices(client, *ticks: tuple[int, int]) -> None:
    updates = [PriceTick("SOL", price, ts) for price, ts in ticks]
    await client.xadd(keys.PRICE_STREAM, {"data": encode_price_updates(updates)})


async def fetch(db, sql: str, **params) -> list:
    async with db.connect() as connection:
        return list(await connection.execute(text(sql), params))


async def pending(client, stream: str) -> int:
    return (await client.xpending(stream, keys.DBPROCESSOR_GROUP))["pending"]


async def test_operations_snapshots_and_prices_end_to_end(redis_client, db):
    client = redis_client
    await add_operation(client, UserCreated("alice", "a@x.io", 500_000, T0))
    for n in range(3):
        await add_operation(client, TradeOpened(held(f"o{n}")))
    await add_operation(
        client, TradeClosed(held("o1"), held("o1").margin, 202_000_000, 20, "manual", T0 + 1)
    )
    await add_prices(client, (201_000_000, T0 + 1), (202_500_000, T0 + 2))
    await add_prices(client, (200_000_000, T0 + 3), (201_000_000, T0 + MINUTE))
    for n in range(1, 21):
        await client.xadd(keys.JOURNAL, {"data": b"{}"}, id=f"{n}-0")
    state = encode_state(Engine().state())
    for journal_id in ("5-0", "15-0", "10-0"):  # keep=2: "5-0" is pruned
        entry = SnapshotEntry(journal_id, T0, state)
        await client.xadd(keys.SNAPSHOTS, {"data": encode_snapshot(entry)})

    service = processor(client, db, batch_size=3)  # several batches
    await drain(service)

    trades = await fetch(db, "SELECT order_id, margin, open_price, pnl, closed_at FROM trades")
    assert {row.order_id for row in trades} == {"o0", "o1", "o2"}
    closed = next(row for row in trades if row.order_id == "o1")
    assert (closed.margin, closed.open_price, closed.pnl) == (
        Decimal("7.77"),
        Decimal("201.470000"),
        Decimal("0.20"),
    )
    assert await fetch(db, "SELECT email FROM users") == [("a@x.io",)]
    bars = await fetch(db, "SELECT open, high, low, close, ticks FROM price_bars ORDER BY bucket")
    assert [tuple(row) for row in bars] == [
        (Decimal(201), Decimal("202.5"), Decimal(200), Decimal(200), 3),
        (Decimal(201), Decimal(201), Decimal(201), Decimal(201), 1),
    ]
    # acked, deleted from the engine's streams, kept in price_stream (the engine reads it)
    for stream in (keys.DB_OPERATIONS, keys.SNAPSHOTS, keys.PRICE_STREAM):
        assert await pending(client, stream) == 0
    assert await client.xlen(keys.DB_OPERATIONS) == 0
    assert await client.xlen(keys.SNAPSHOTS) == 0
    assert await client.xlen(keys.PRICE_STREAM) == 2
    # the journal is trimmed to the oldest kept snapshot
    assert (await SnapshotStore(db).latest()).journal_id == "15-0"
    assert (await client.xrange(keys.JOURNAL, count=1))[0][0] == b"10-0"
    assert await client.xlen(keys.JOURNAL) == 11
    assert await client.get(keys.JOURNAL_FLOOR) == b"10-0"
    status = await service.status()
    assert (status["pending"], status["lag"], status["deadLettered"]) == (0, 0, 0)
    assert status["written"] == 5 + 2 + 3


async def test_entries_a_dead_consumer_left_pending_are_written_once(redis_client, db):
    client = redis_client
    service = processor(client, db, claim_min_idle_ms=0)
    await service.setup()
    await add_operation(client, UserCreated("bob", None, 500_000, T0))
    await add_operation(client, TradeOpened(held("o1", "bob")))
    await add_prices(client, (201_000_000, T0), (203_000_000, T0 + 1))
    # The dead consumer wrote the batch (it crashed before acking): the same rows again.
    dead = processor(client, db, consumer="dead")
    entries = await dead.streams.read()
    assert len(entries) == 3
    await dead._write_main(
        [op for _, op in dead._decode(entries).operations],
        [p for _, p in dead._decode(entries).prices],
    )
    await dead.close()
    assert await pending(client, keys.DB_OPERATIONS) == 2

    await drain(service)
    assert service.claimed == 3
    assert await fetch(db, "SELECT order_id, user_id FROM trades") == [("o1", "bob")]
    assert await fetch(db, "SELECT ticks, high FROM price_bars") == [(2, Decimal(203))]
    for stream in (keys.DB_OPERATIONS, keys.PRICE_STREAM):
        assert await pending(client, stream) == 0


async def test_a_poison_entry_is_dead_lettered_and_the_rest_written(redis_client, db):
    client = redis_client
    good = [
        await add_operation(client, UserCreated("carol", "c@x.io", 500_000, T0)),
        await add_operation(client, TradeOpened(held("o1", "carol"))),
    ]
    garbage = (await client.xadd(keys.DB_OPERATIONS, {"data": b"not json"})).decode()
    unknown_op = (
        await client.xadd(keys.DB_OPERATIONS, {"data": orjson.dumps({"op": "trade_exploded"})})
    ).decode()
    # Decode fine, but cannot be written: the email is carol's; there is no such asset.
    taken = await add_operation(client, UserCreated("mallory", "c@x.io", 500_000, T0))
    doge = Position("o2", "carol", "DOGE", "long", 100, 2, 1_000, 500, T0)
    unknown_asset = await add_operation(client, TradeOpened(doge))
    good.append(
        await add_operation(
            client,
            TradeClosed(
                held("o1", "carol"), held("o1", "carol").margin, 202_000_000, 5, "manual", T0
            ),
        )
    )
    bad_price = (await client.xadd(keys.PRICE_STREAM, {"data": b"{}"})).decode()
    no_data = (await client.xadd(keys.SNAPSHOTS, {"blob": b"\xff\xfe"})).decode()
    await add_prices(client, (201_000_000, T0))

    service = processor(client, db)
    await drain(service)

    letters = {
        (fields[b"stream"].decode(), fields[b"id"].decode()): fields
        for _, fields in await client.xrange(keys.DEAD_LETTERS)
    }
    operations = keys.DB_OPERATIONS
    assert set(letters) == {
        (operations, garbage),
        (operations, unknown_op),
        (operations, taken),
        (operations, unknown_asset),
        (keys.PRICE_STREAM, bad_price),
        (keys.SNAPSHOTS, no_data),
    }
    assert letters[operations, garbage][b"data"] == b"not json"
    assert b"trade_exploded" in letters[operations, unknown_op][b"error"]
    assert b"users_email_key" in letters[operations, taken][b"error"]
    assert b"unknown asset 'DOGE'" in letters[operations, unknown_asset][b"error"]
    assert letters[keys.PRICE_STREAM, bad_price][b"data"] == b"{}"
    assert orjson.loads(letters[keys.SNAPSHOTS, no_data][b"data"]) == {"blob": "\ufffd\ufffd"}
    rows = await fetch(db, "SELECT order_id, pnl FROM trades")
    assert rows == [("o1", Decimal("0.05"))]
    assert await fetch(db, "SELECT ticks FROM price_bars") == [(1,)]
    assert await pending(client, keys.DB_OPERATIONS) == 0
    assert await client.xlen(keys.DB_OPERATIONS) == 0
    assert await fetch(db, "SELECT id, email FROM users") == [("carol", "c@x.io")]
    assert service.dead_lettered == 6
    assert await client.xlen(keys.SNAPSHOTS) == 0


async def test_an_ops_entry_dead_letters_only_its_bad_operations(redis_client, db):
    client = redis_client
    created = UserCreated("gina", "g@x.io", 500_000, T0)
    opened = TradeOpened(held("o1", "gina"))
    broken = {"op": "trade_opened", "orderId": "o2"}  # no user, asset, prices...
    taken = UserCreated("mallory", "g@x.io", 500_000, T0)  # decodes, but the email is gina's
    closed = TradeClosed(
        held("o1", "gina"), held("o1", "gina").margin, 202_000_000, 5, "manual", T0 + 1
    )
    bodies = [orjson.loads(encode_operation(op)) for op in (created, opened)]
    bodies += [
        broken,
        orjson.loads(encode_operation(taken)),
        orjson.loads(encode_operation(closed)),
    ]
    entry = (await client.xadd(keys.DB_OPERATIONS, {"ops": orjson.dumps(bodies)})).decode()

    service = processor(client, db)
    await drain(service)

    letters = [fields for _, fields in await client.xrange(keys.DEAD_LETTERS)]
    assert [(f[b"stream"].decode(), f[b"id"].decode()) for f in letters] == [
        (keys.DB_OPERATIONS, entry)
    ] * 2
    # each letter holds the one operation, not the whole entry
    assert orjson.loads(letters[0][b"data"]) == broken
    assert letters[0][b"error"].startswith(b"operation 2: bad DB operation")
    assert orjson.loads(letters[1][b"data"]) == orjson.loads(encode_operation(taken))
    assert b"users_email_key" in letters[1][b"error"]
    assert await fetch(db, "SELECT order_id, pnl FROM trades") == [("o1", Decimal("0.05"))]
    assert await fetch(db, "SELECT id, email FROM users") == [("gina", "g@x.io")]
    assert (service.written, service.dead_lettered) == (3, 2)
    assert await pending(client, keys.DB_OPERATIONS) == 0
    assert await client.xlen(keys.DB_OPERATIONS) == 0


@pytest.mark.parametrize("batch_size", [1, 500], ids=["entry by entry", "one batch"])
async def test_ops_entries_converge_whatever_the_order_and_repetition(redis_client, db, batch_size):
    client = redis_client
    opened, opened2 = TradeOpened(held("o1", "hana")), TradeOpened(held("o2", "hana"))
    closed = TradeClosed(
        held("o1", "hana"), held("o1", "hana").margin, 202_000_000, 5, "manual", T0 + 1
    )
    liquidated = TradeClosed(
        held("o2", "hana"), held("o2", "hana").margin, 181_000_000, -777, "liquidation", T0 + 2
    )
    created = UserCreated("hana", "h@x.io", 500_000, T0 - 5)
    late = UserCreated("hana", None, 500_000, T0 + 9)  # no email, later: changes nothing
    await add_ops(client, closed, liquidated, opened)  # closed before opened, trades before user
    await add_ops(client, opened, opened2, closed, late)  # repeated across entries
    await add_ops(client, created, opened, closed, created)
    await add_ops(client)  # an engine batch without DB operations

    service = processor(client, db, batch_size=batch_size)
    await drain(service)

    rows = await fetch(
        db,
        "SELECT order_id, margin, open_price, close_price, pnl, liquidated, closed_at "
        "FROM trades ORDER BY order_id",
    )
    assert [tuple(row) for row in rows] == [
        ("o1", Decimal("7.77"), Decimal("201.47"), Decimal(202), Decimal("0.05"), False,
         us_to_datetime(T0 + 1)),
        ("o2", Decimal("7.77"), Decimal("201.47"), Decimal(181), Decimal("-7.77"), True,
         us_to_datetime(T0 + 2)),
    ]  # fmt: skip
    assert await fetch(db, "SELECT id, email, created_at FROM users") == [
        ("hana", "h@x.io", us_to_datetime(T0 - 5))
    ]
    assert (service.written, service.dead_lettered) == (11, 0)
    assert await client.xlen(keys.DB_OPERATIONS) == 0


async def test_thousands_of_entries_are_acked_and_deleted_in_one_batch(redis_client, db):
    client = redis_client
    pipe = client.pipeline(transaction=False)
    for n in range(2_500):  # more ids than the ack script hands to one XACK
        pipe.xadd(keys.DB_OPERATIONS, {"ops": encode_operations([TradeOpened(held(f"o{n}"))])})
    await pipe.execute()
    service = processor(client, db, batch_size=5_000)
    assert await service.run_once() == 2_500
    await service.close()
    assert await pending(client, keys.DB_OPERATIONS) == 0
    assert await client.xlen(keys.DB_OPERATIONS) == 0
    assert await fetch(db, "SELECT count(*) FROM trades") == [(2_500,)]


async def test_nothing_is_acked_while_the_database_is_unavailable(redis_client, postgres_admin_url):
    """A database without its tables refuses every write: entries stay pending, the loop backs
    off, and once the database is migrated everything is written."""
    name = f"late_{uuid.uuid4().hex[:12]}"
    await admin_sql(postgres_admin_url, f'CREATE DATABASE "{name}"')
    url = with_database(postgres_admin_url, name)
    db = create_engine(url)
    stop = StopSignal()
    service = processor(redis_client, db, status_interval_s=0)
    task = asyncio.create_task(service.run(stop))
    try:
        await add_operation(redis_client, UserCreated("dave", None, 500_000, T0))
        await add_operation(redis_client, TradeOpened(held("o1", "dave")))

        async def both_pending() -> bool:
            try:
                return await pending(redis_client, keys.DB_OPERATIONS) == 2
            except aioredis.ResponseError as error:  # the service has not made its group yet
                if "NOGROUP" not in str(error):
                    raise
                return False

        await wait_for(both_pending)
        await asyncio.sleep(0.5)  # a few failed attempts
        assert await both_pending()
        assert "does not exist" in service.last_error
        status = orjson.loads(await redis_client.get(keys.DBPROCESSOR_STATUS))
        assert status["lastError"] and status["pending"] == 2

        await run_migrations(url)

        async def written() -> bool:
            return bool(await fetch(db, "SELECT 1 FROM trades"))

        await wait_for(written, timeout=15)
        await wait_for(lambda: service.written == 2)
        assert await pending(redis_client, keys.DB_OPERATIONS) == 0
    finally:
        stop.event.set()
        await asyncio.wait_for(task, 5)
        await db.dispose()
        await admin_sql(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_it_survives_a_redis_restart_and_stops_on_signal(own_valkey, db):
    client = aioredis.Redis.from_url(own_valkey.url, socket_timeout=2)
    stop = StopSignal()
    service = processor(client, db, block_ms=200)
    task = asyncio.create_task(service.run(stop))
    try:
        await add_operation(client, UserCreated("erin", None, 500_000, T0))
        await wait_for(lambda: service.written == 1)

        await asyncio.to_thread(own_valkey.stop)
        await wait_for(lambda: service.last_error is not None)
        await asyncio.to_thread(own_valkey.start)  # AOF: groups and pending entries are kept

        await add_operation(client, TradeOpened(held("o1", "erin")))
        await wait_for(lambda: service.written == 2, timeout=15)
        assert await fetch(db, "SELECT user_id FROM trades") == [("erin",)]
    finally:
        stop.event.set()
        started = time.monotonic()
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 2  # a blocked read is short; the loop notices
        await client.aclose()


async def test_it_survives_postgres_dropping_its_connections(redis_client, db, database_url):
    """What a PostgreSQL restart does to a pool: every connection is cut."""
    stop = StopSignal()
    service = processor(redis_client, db)
    task = asyncio.create_task(service.run(stop))
    try:
        await add_operation(redis_client, UserCreated("frank", None, 500_000, T0))
        await wait_for(lambda: service.written == 1)
        admin = create_engine(database_url)
        try:
            await fetch(
                admin,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
        finally:
            await admin.dispose()
        await add_operation(redis_client, TradeOpened(held("o1", "frank")))
        await wait_for(lambda: service.written == 2)
        assert await fetch(db, "SELECT user_id FROM trades") == [("frank",)]
        assert await pending(redis_client, keys.DB_OPERATIONS) == 0
    finally:
        stop.event.set()
        await asyncio.wait_for(task, 5)


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_a_snapshot_postgresql_refuses_for_its_content_is_dead_lettered(redis_client, db):
    """JSONB refuses a NUL character (SQLSTATE 22P05). SQLAlchemy raises that as a plain
    DBAPIError; it is still the data's fault, so it is dead-lettered, not retried forever."""
    engine = Engine()
    engine.apply(InitializeWallet("w1", "nul\u0000user", ts=T0))
    entry = SnapshotEntry("5-0", T0, encode_state(engine.state()))
    refused = (await redis_client.xadd(keys.SNAPSHOTS, {"data": encode_snapshot(entry)})).decode()
    await add_operation(redis_client, UserCreated("dave", "d@x.io", 500_000, T0))

    service = processor(redis_client, db)
    await drain(service)

    [(_, letter)] = await redis_client.xrange(keys.DEAD_LETTERS)
    assert (letter[b"stream"].decode(), letter[b"id"].decode()) == (keys.SNAPSHOTS, refused)
    assert await pending(redis_client, keys.SNAPSHOTS) == 0
    assert await fetch(db, "SELECT id FROM users") == [("dave",)]


async def test_a_busy_stream_is_written_in_paced_batches_a_quiet_one_at_once(redis_client, db):
    """With a batch interval, entries arriving faster than it share a transaction (the batches
    are about the interval apart), while the first entry after a quiet spell is written at
    once, not an interval later."""
    stop = StopSignal()
    service = processor(redis_client, db, batch_interval_s=0.25)
    task = asyncio.create_task(service.run(stop))
    try:
        await add_operation(redis_client, UserCreated("pace", None, 500_000, T0))
        await wait_for(lambda: service.written == 1)
        await asyncio.sleep(0.4)  # quiet: longer than the interval
        started = time.monotonic()
        await add_operation(redis_client, TradeOpened(held("p0", "pace")))
        await wait_for(lambda: service.written == 2)
        assert time.monotonic() - started < 0.2  # written at once
        batches = service.batches
        for n in range(1, 41):  # 40 entries over ~1 s, one every 25 ms
            await add_operation(redis_client, TradeOpened(held(f"p{n}", "pace")))
            await asyncio.sleep(0.025)
        await wait_for(lambda: service.written == 42)
        assert service.batches - batches <= 7, service.batches - batches  # ~1 s / 0.25 s
        rows = await fetch(db, "SELECT count(*) AS n FROM trades WHERE user_id = 'pace'")
        assert rows[0].n == 41
    finally:
        stop.event.set()
        await asyncio.wait_for(task, 5)


async def test_a_published_snapshot_without_a_part_or_journal_id_is_dead_lettered(redis_client, db):
    """PostgreSQL splits the published JSON itself: a snapshot without one of its parts or with
    a journal id that is no stream id is refused as data, dead-lettered, and the rest goes on."""
    state = encode_state(Engine().state())
    no_balances = {key: value for key, value in state.items() if key != "balances"}
    bodies = [
        orjson.dumps({"v": 1, "journalId": "7-0", "createdAt": T0, "state": no_balances}),
        orjson.dumps({"v": 1, "journalId": "not-an-id", "createdAt": T0, "state": state}),
        b"{not json",
        encode_snapshot(SnapshotEntry("8", T0, state)),  # a bare <ms> is an id: 8-0
    ]
    refused = [
        (await redis_client.xadd(keys.SNAPSHOTS, {"data": body})).decode() for body in bodies[:3]
    ]
    await redis_client.xadd(keys.SNAPSHOTS, {"data": bodies[3]})

    service = processor(redis_client, db)
    await drain(service)

    letters = await redis_client.xrange(keys.DEAD_LETTERS)
    assert [letter[b"id"].decode() for _, letter in letters] == refused
    assert await pending(redis_client, keys.SNAPSHOTS) == 0
    assert await redis_client.xlen(keys.SNAPSHOTS) == 0
    assert (await SnapshotStore(db).latest()) == SnapshotEntry("8", T0, state)
    rows = await fetch(db, "SELECT journal_ms, journal_seq, open_positions FROM snapshots")
    assert [tuple(row) for row in rows] == [(8, 0, 0)]


async def test_a_snapshot_being_saved_holds_back_no_trade(redis_client, db):
    """Snapshots have a loop of their own: while one waits on the snapshot table (locked here,
    as a save of tens of MB would keep it busy), trades are still written at once."""
    stop = StopSignal()
    service = processor(redis_client, db, batch_interval_s=0.05)
    task = asyncio.create_task(service.run(stop))
    try:
        await add_operation(redis_client, UserCreated("snap", None, 500_000, T0))
        await wait_for(lambda: service.written == 1)
        async with db.connect() as locker:
            await locker.execute(text("LOCK TABLE snapshots IN ACCESS EXCLUSIVE MODE"))
            entry = SnapshotEntry("30-0", T0, encode_state(Engine().state()))
            await redis_client.xadd(keys.SNAPSHOTS, {"data": encode_snapshot(entry)})
            await wait_for(lambda: pending(redis_client, keys.SNAPSHOTS))  # being saved
            for n in range(3):
                await add_operation(redis_client, TradeOpened(held(f"s{n}", "snap")))
            await wait_for(lambda: service.written == 4)
            rows = await fetch(db, "SELECT count(*) AS n FROM trades WHERE user_id = 'snap'")
            assert rows[0].n == 3
            assert await pending(redis_client, keys.SNAPSHOTS) == 1  # still waiting
            await locker.rollback()
        await wait_for(lambda: service.written == 5)
        assert (await SnapshotStore(db).latest()).journal_id == "30-0"
        assert await pending(redis_client, keys.SNAPSHOTS) == 0
    finally:
        stop.event.set()
        await asyncio.wait_for(task, 5)
