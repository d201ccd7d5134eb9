"""The engine service against real Redis and PostgreSQL: intake, batches, recovery."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from exness.adapters import keys
from exness.adapters.bus import EngineBus, InputWaiter
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.forked_snapshot import ForkedSnapshot
from exness.codec.operations import decode_operations
from exness.codec.prices import decode_price_key, encode_price_updates
from exness.codec.replies import decode_reply
from exness.codec.snapshot import decode_snapshot, decode_state
from exness.domain import (
    Balance,
    EngineConfig,
    PriceTick,
    TradeOpened,
    UserCreated,
    WalletOpened,
)
from exness.services.engine import EngineService, RecoveryError
from exness.services.runtime import StopSignal
from tests.fakes.wire import wire_command

pytestmark = pytest.mark.integration

REPLIES = "engine_replies:test"
SOL = 150_000_000


@pytest.fixture
async def snapshots(database_url):
    db = create_engine(database_url)
    yield SnapshotStore(db, keep=3)
    await db.dispose()


def service(client, snapshots, **options) -> EngineService:
    return EngineService(client, snapshots, EngineConfig(price_max_age_us=3600 * 10**6), **options)


async def push(client, kind, request_id, user, data=None, queue=None):
    queue = queue or (keys.TRADE_QUEUE if "TRADE" in kind else keys.WALLET_QUEUE)
    await client.lpush(queue, wire_command(kind, request_id, user, REPLIES, data))


async def price(client, asset="SOL", units=SOL):
    ts = time.time_ns() // 1000
    await client.xadd(
        keys.PRICE_STREAM, {"data": encode_price_updates([PriceTick(asset, units, ts)])}
    )


def trade(order_id, side="long", margin=1000, leverage=10, quote=None):
    data = {
        "orderId": order_id,
        "asset": "SOL",
        "type": side,
        "margin": margin,
        "leverage": leverage,
    }
    if quote is not None:
        data["price"] = quote
    return data


async def replies(client) -> dict[str, dict]:
    raw = await client.lrange(REPLIES, 0, -1)
    return {r.request_id: r for r in map(decode_reply, raw)}


async def db_operations(client) -> list:
    """Every operation the engine emitted, in order (it writes one `ops` entry per batch)."""
    return [
        operation
        for _, fields in await client.xrange(keys.DB_OPERATIONS)
        for operation in decode_operations(fields[b"ops"])
    ]


async def test_intake_moves_input_into_the_journal_atomically_and_in_order(redis_client):
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))
    await push(redis_client, "CREATE_TRADE", "t2", "alice", trade("o2"))
    bus = EngineBus(redis_client)
    cursor, entries = await bus.take(100, 100)
    assert [e.kind for e in entries] == [b"p", b"c", b"c", b"c"]
    commands = [orjson.loads(e.data)["requestId"] for e in entries if e.kind == b"c"]
    assert commands == ["w1", "t1", "t2"]  # each queue oldest first; wallets before trades
    assert await redis_client.llen(keys.TRADE_QUEUE) == 0
    assert await redis_client.llen(keys.WALLET_QUEUE) == 0
    assert await redis_client.xlen(keys.JOURNAL) == 4
    assert cursor == (await redis_client.get(keys.PRICE_CURSOR)).decode()
    assert await bus.take(100, 100) == (cursor, [])


async def test_a_batch_is_answered_and_its_outputs_written(redis_client, snapshots):
    engine = service(redis_client, snapshots)
    await engine.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice", {"email": "a@x.io"})
    await engine.step()
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1", quote=SOL))
    await push(redis_client, "CREATE_TRADE", "t2", "alice", trade("o2", margin=10**9))
    await engine.step()
    await push(redis_client, "GET_USDC_BALANCE", "b1", "alice")
    await engine.step()

    answered = await replies(redis_client)
    assert answered["w1"].result == WalletOpened(500_000, created=True)
    assert answered["t1"].ok and answered["t1"].result.position.open_price == SOL
    assert answered["t2"].code == "INSUFFICIENT_BALANCE"
    assert answered["b1"].result == Balance(499_000)
    assert 0 < await redis_client.ttl(REPLIES) <= keys.REPLY_TTL_S

    operations = await db_operations(redis_client)
    assert [type(op) for op in operations] == [UserCreated, TradeOpened]
    assert decode_price_key(await redis_client.get(keys.price_key("SOL"))).price == SOL
    assert (await redis_client.get(keys.APPLIED)).decode() == engine.applied_id


async def test_bad_entries_are_skipped_and_answered_when_possible(redis_client, snapshots):
    engine = service(redis_client, snapshots)
    await engine.recover()
    await redis_client.lpush(keys.TRADE_QUEUE, b"{not json")
    await redis_client.lpush(
        keys.TRADE_QUEUE,
        orjson.dumps(
            {"type": "CREATE_TRADE", "requestId": "bad", "userId": "u", "replyTo": REPLIES}
        ),
    )
    await redis_client.xadd(keys.PRICE_STREAM, {"data": b"garbage"})
    await redis_client.xadd(keys.PRICE_STREAM, {"data": b'{"price_updates":[{"asset":"XRP"}]}'})
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    assert await engine.step() == 5
    answered = await replies(redis_client)
    assert answered["bad"].code == "INVALID_COMMAND"
    assert answered["w1"].ok


async def test_recovery_rebuilds_the_state_and_sends_nothing_twice(redis_client, snapshots):
    first = service(redis_client, snapshots)
    await first.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))
    await first.step()
    await first.step()
    before = first.engine.state()
    sent = await redis_client.llen(REPLIES)
    operations = await redis_client.xlen(keys.DB_OPERATIONS)

    second = service(redis_client, snapshots)  # the first "crashed" without a snapshot
    report = await second.recover()
    assert report.replayed == 3 and report.re_emitted == 0
    assert second.engine.state() == before
    assert await redis_client.llen(REPLIES) == sent
    assert await redis_client.xlen(keys.DB_OPERATIONS) == operations


async def test_input_taken_by_an_engine_that_died_is_applied_and_answered_on_restart(
    redis_client, snapshots
):
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))
    # an engine took the batch into its journal and died before applying it
    await EngineBus(redis_client).take(100, 100)
    assert await redis_client.llen(REPLIES) == 0

    engine = service(redis_client, snapshots)
    report = await engine.recover()
    assert report.re_emitted == 3
    answered = await replies(redis_client)
    assert answered["w1"].ok and answered["t1"].ok
    assert [type(op) for op in await db_operations(redis_client)] == [UserCreated, TradeOpened]
    assert decode_price_key(await redis_client.get(keys.price_key("SOL"))).price == SOL


async def test_recovery_starts_from_the_newest_snapshot(redis_client, snapshots):
    first = service(redis_client, snapshots)
    await first.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await first.step()
    await first.snapshot()
    [(_, fields)] = await redis_client.xrange(keys.SNAPSHOTS)
    await snapshots.save_published(fields[b"data"])  # what the DB processor does
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))
    await first.step()

    second = service(redis_client, snapshots)
    report = await second.recover()
    assert report.snapshot_journal_id == first._snapshot_id
    assert report.replayed == 1
    assert second.engine.state() == first.engine.state()


async def test_a_forked_snapshot_holds_the_state_at_the_fork_while_the_loop_goes_on(
    redis_url, redis_client, snapshots
):
    forked = ForkedSnapshot(redis_url)
    first = service(redis_client, snapshots, forked=forked)
    await first.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await first.step()
    at_fork, journal_id = first.engine.state(), first.applied_id
    await first.periodic_snapshot()
    assert forked.running
    assert not forked.start(first.engine, journal_id)  # one child at a time
    # the parent goes on while the child encodes: none of this is in the snapshot
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))
    await first.step()
    assert first.engine.state() != at_fork

    done = forked.wait(30)
    assert done is not None and done.published and done.journal_id == journal_id
    [(_, fields)] = await redis_client.xrange(keys.SNAPSHOTS)
    entry = decode_snapshot(fields[b"data"])
    assert entry.journal_id == journal_id
    assert decode_state(entry.state) == at_fork


async def test_a_forked_snapshot_is_noted_once_reaped_and_not_taken_twice(
    redis_url, redis_client, snapshots
):
    first = service(redis_client, snapshots, forked=ForkedSnapshot(redis_url))
    await first.recover()
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await first.step()
    await first.periodic_snapshot()
    first._reap_snapshot(timeout_s=30)
    assert first._snapshot_id == first.applied_id
    await first.periodic_snapshot()  # nothing applied since: no second child
    assert not first.forked.running
    assert await redis_client.xlen(keys.SNAPSHOTS) == 1

    await snapshots.save_published((await redis_client.xrange(keys.SNAPSHOTS))[0][1][b"data"])
    second = service(redis_client, snapshots)
    assert (await second.recover()).snapshot_journal_id == first.applied_id
    assert second.engine.state() == first.engine.state()


async def test_a_snapshot_child_that_cannot_reach_redis_is_reported_and_retried(
    redis_client, snapshots
):
    unreachable = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    first = service(redis_client, snapshots, forked=ForkedSnapshot(unreachable))
    await first.recover()
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await first.step()
    await first.periodic_snapshot()
    done = first.forked.wait(30)
    assert done is not None and not done.published
    assert first._snapshot_id == "0-0"  # not taken: the next interval tries again
    assert first.forked.start(first.engine, first.applied_id)
    first.forked.wait(30)


async def test_recovery_refuses_a_journal_trimmed_past_the_snapshot(redis_client, snapshots):
    await redis_client.set(keys.JOURNAL_FLOOR, "99999999999999-0")
    with pytest.raises(RecoveryError):
        await service(redis_client, snapshots).recover()


async def test_a_crossing_price_liquidates_within_the_batch(redis_client, snapshots):
    engine = service(redis_client, snapshots)
    await engine.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1", leverage=50))
    await engine.step()
    await engine.step()
    # one entry, the crossing in the middle: the engine must see it, not just the last price
    ts = time.time_ns() // 1000
    ticks = [PriceTick("SOL", p, ts + i) for i, p in enumerate((SOL, SOL * 97 // 100, SOL))]
    await redis_client.xadd(keys.PRICE_STREAM, {"data": encode_price_updates(ticks)})
    await engine.step()
    assert (await db_operations(redis_client))[-1].liquidated


async def wait_for_replies(client, count: int) -> None:
    while await client.llen(REPLIES) < count:
        await asyncio.sleep(0.005)


async def test_the_running_loop_wakes_for_commands_and_prices_and_stops_cleanly(
    redis_client, redis_url, snapshots
):
    waiter = InputWaiter(redis_url)
    engine = service(redis_client, snapshots, waiter=waiter)
    await engine.recover()
    stop = StopSignal()
    running = asyncio.create_task(engine.run(stop))
    try:
        await asyncio.sleep(0.2)  # idle: blocked in the waiter
        for n in range(3):
            await push(redis_client, "INITIALIZE_WALLET", f"w{n}", f"user{n}")
            await asyncio.wait_for(wait_for_replies(redis_client, n + 1), 10)
        await price(redis_client)
        while await redis_client.get(keys.price_key("SOL")) is None:
            await asyncio.sleep(0.005)
    finally:
        stop.event.set()
        await asyncio.wait_for(running, 5)
        await waiter.close()


async def test_input_taken_by_an_intake_whose_answer_was_lost_is_applied_first(
    redis_client, snapshots
):
    """Redis ran the intake script (the commands moved into the journal) and the answer never
    arrived: the running engine must apply them, in journal order, before anything taken
    later, as a restart would; else a close of an order opened in the lost batch is refused
    live but applied on replay, and the engine disagrees with what it answered."""
    engine = service(redis_client, snapshots)
    await engine.recover()
    await price(redis_client)
    await push(redis_client, "INITIALIZE_WALLET", "w1", "alice")
    await engine.step()
    await push(redis_client, "CREATE_TRADE", "t1", "alice", trade("o1"))

    real_take = engine.bus.take
    lost = []

    async def take_and_lose_the_answer(*args):
        taken = await real_take(*args)
        if not lost:
            lost.append(taken)
            raise ConnectionError("the answer never arrived")
        return taken

    engine.bus.take = take_and_lose_the_answer
    stop = StopSignal()
    running = asyncio.create_task(engine.run(stop))
    try:
        while not lost:  # the first batch (t1) went into the journal, unseen
            await asyncio.sleep(0.005)
        await push(redis_client, "CLOSE_TRADE", "c1", "alice", {"orderId": "o1"})
        await asyncio.wait_for(wait_for_replies(redis_client, 3), 10)
    finally:
        stop.event.set()
        await asyncio.wait_for(running, 5)
    answered = await replies(redis_client)
    assert answered["t1"].ok and answered["c1"].ok, answered
    assert engine.engine.position("o1") is None and engine.engine.balance("alice") == 500_000
    restarted = service(redis_client, snapshots)
    await restarted.recover()
    assert restarted.engine.state() == engine.engine.state()
