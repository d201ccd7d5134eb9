"""The traders' live events over real Redis (SPEC §8): the engine service numbers, keeps and
publishes them with its batch; recovery re-emits a lost batch's events identically; the logs
keep what they promise and a reader catches up from them."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time

import orjson
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.events import EventLog, LiveEventWriter, LiveSubscriber
from exness.codec.events import decode_live_batch, trader_seq
from exness.codec.prices import encode_price_updates
from exness.domain import EngineConfig, PriceTick
from exness.services.engine import EngineService
from tests.fakes.wire import wire_command

pytestmark = pytest.mark.integration

REPLIES = "engine_replies:live"
SOL = 150_000_000


@pytest.fixture
async def snapshots(database_url):
    db = create_engine(database_url)
    yield SnapshotStore(db, keep=3)
    await db.dispose()


def service(client, snapshots) -> EngineService:
    return EngineService(client, snapshots, EngineConfig(price_max_age_us=3600 * 10**6))


async def push(client, kind, user, data=None, request_id=None):
    queue = keys.TRADE_QUEUE if "TRADE" in kind or "ORDER" in kind else keys.WALLET_QUEUE
    request_id = request_id or f"{kind}-{time.perf_counter_ns()}"
    await client.lpush(queue, wire_command(kind, request_id, user, REPLIES, data))


async def price(client, units, asset="SOL", bid=None, ask=None):
    ts = time.time_ns() // 1000
    tick = PriceTick(asset, units, ts, bid, ask)
    await client.xadd(keys.PRICE_STREAM, {"data": encode_price_updates([tick])})


def trade(order_id, side="long", margin=1000, leverage=10, **extra):
    return {
        "orderId": order_id,
        "asset": "SOL",
        "type": side,
        "margin": margin,
        "leverage": leverage,
        **extra,
    }


async def logged(client, trader) -> list[dict]:
    rows = await client.xrange(keys.live_log_key(trader))
    return [orjson.loads(fields[b"m"]) for _, fields in rows]


def kinds(messages: list[dict]) -> list[str]:
    return [m["event"] if m["type"] == "order" else m["type"] for m in messages]


class Heard:
    """Everything published on live:events, decoded."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(url)
        self.pubsub = self.client.pubsub()
        self.events: list[tuple[str, str]] = []

    async def __aenter__(self) -> Heard:
        await self.pubsub.subscribe(keys.LIVE_CHANNEL)
        return self

    async def drain(self, quiet_s: float = 0.3) -> list[tuple[str, str]]:
        """Everything heard until nothing came for `quiet_s`."""
        deadline = time.monotonic() + quiet_s
        while time.monotonic() < deadline:
            message = await self.pubsub.get_message(timeout=0.05)
            if message is not None and message["type"] == "message":
                self.events += decode_live_batch(message["data"])
                deadline = time.monotonic() + quiet_s
        return self.events

    async def __aexit__(self, *_: object) -> None:
        await self.pubsub.aclose()
        await self.client.aclose()


async def test_each_trader_gets_their_order_events_then_their_account_numbered_in_order(
    redis_client, redis_url, snapshots
):
    engine = service(redis_client, snapshots)
    await engine.recover()
    async with Heard(redis_url) as heard:
        await price(redis_client, SOL)
        await push(redis_client, "INITIALIZE_WALLET", "alice")
        await push(redis_client, "INITIALIZE_WALLET", "bob")
        await engine.step()
        await push(redis_client, "CREATE_TRADE", "alice", trade("a1", leverage=50))
        await push(redis_client, "CREATE_TRADE", "bob", trade("b1", side="short", leverage=2))
        await push(redis_client, "CREATE_TRADE", "alice", trade("a2", margin=10**9))  # refused
        await engine.step()
        await price(redis_client, SOL * 97 // 100)  # liquidates alice's 50x long
        await engine.step()
        published = await heard.drain()

    alice, bob = await logged(redis_client, "alice"), await logged(redis_client, "bob")
    assert kinds(alice) == ["account", "opened", "account", "closed", "account"]
    assert kinds(bob) == ["account", "opened", "account"]
    assert [m["traderSeq"] for m in alice] == [1, 2, 3, 4, 5]
    assert [m["traderSeq"] for m in bob] == [1, 2, 3]
    assert all(m["channel"] == "account" for m in alice + bob)
    opened, closed = alice[1], alice[3]
    assert opened["orderId"] == "a1" and opened["openPrice"] == 150 and opened["margin"] == 10
    assert closed["reason"] == "liquidation" and closed["liquidated"] is True
    assert closed["status"] == "closed" and closed["pnl"] == -10
    assert alice[2]["usedMargin"] == 1000 and alice[2]["marginLevel"] is not None
    assert alice[4] == {
        "traderSeq": 5,
        "channel": "account",
        "type": "account",
        "balance": 499_000,
        "reserved": 0,
        "usedMargin": 0,
        "unrealizedPnl": 0,
        "equity": 499_000,
        "marginLevel": None,
        "openPositions": 0,
        "pendingOrders": 0,
    }
    # pub/sub carried the same messages, byte for byte, in the same order
    assert [(t, orjson.loads(m)) for t, m in published if t == "alice"] == [
        ("alice", m) for m in alice
    ]
    assert await EventLog(redis_client).current("alice") == 5


async def test_pending_orders_sl_and_tp_become_placed_filled_modified_cancelled_closed(
    redis_client, snapshots
):
    engine = service(redis_client, snapshots)
    await engine.recover()
    await price(redis_client, SOL)
    await push(redis_client, "INITIALIZE_WALLET", "carol")
    await engine.step()
    limit = trade("p1", orderType="limit", triggerPrice=140_000_000, takeProfit=160_000_000)
    await push(redis_client, "CREATE_TRADE", "carol", limit)
    await push(
        redis_client, "CREATE_TRADE", "carol", trade("p2", orderType="stop", triggerPrice=SOL * 2)
    )
    await engine.step()
    await push(redis_client, "MODIFY_TRADE", "carol", {"orderId": "p1", "stopLoss": 135_000_000})
    await push(redis_client, "CANCEL_ORDER", "carol", {"orderId": "p2"})
    await engine.step()
    await price(redis_client, 139_000_000)  # fills p1
    await engine.step()
    await price(redis_client, 161_000_000)  # its take profit
    await engine.step()

    events = [m for m in await logged(redis_client, "carol") if m["type"] == "order"]
    assert [(m["event"], m["orderId"]) for m in events] == [
        ("placed", "p1"),
        ("placed", "p2"),
        ("modified", "p1"),
        ("cancelled", "p2"),
        ("filled", "p1"),
        ("closed", "p1"),
    ]
    assert events[0]["orderType"] == "limit" and events[0]["triggerPrice"] == 140
    assert events[2]["stopLoss"] == 135 and events[2]["takeProfit"] == 160
    assert events[4]["openPrice"] == 139 and events[4]["status"] == "open"
    assert events[5]["reason"] == "tp" and events[5]["closePrice"] == 161


async def test_recovery_re_emits_a_lost_batch_with_the_same_numbers_and_bytes(
    redis_client, redis_url, snapshots
):
    first = service(redis_client, snapshots)
    await first.recover()
    await price(redis_client, SOL)
    await push(redis_client, "INITIALIZE_WALLET", "dave")
    await first.step()
    await push(redis_client, "CREATE_TRADE", "dave", trade("d1"))
    await push(redis_client, "CREATE_TRADE", "dave", trade("d2", side="short"))

    # the first engine applies the batch but dies before its MULTI/EXEC: keep what it meant
    meant: list = []

    async def lost(outputs, applied_id):
        meant.extend(outputs.live)
        raise asyncio.CancelledError  # the process is gone

    first.bus.write = lost  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await first.step()
    assert len(await logged(redis_client, "dave")) == 1  # the wallet's account only

    async with Heard(redis_url) as heard:
        second = service(redis_client, snapshots)
        report = await second.recover()
        published = await heard.drain()
    assert report.re_emitted == 2
    after = await logged(redis_client, "dave")
    assert kinds(after) == ["account", "opened", "opened", "account"]  # one account a batch
    # exactly what the first engine would have sent: the same bytes, numbered from 2 on
    raw = [fields[b"m"] for _, fields in await redis_client.xrange(keys.live_log_key("dave"))]
    assert len(meant) == 3
    assert raw[1:] == [
        b'{"traderSeq":%d,' % (n + 2) + body[1:] for n, (_, body) in enumerate(meant)
    ]
    assert [m.encode() for _, m in published] == raw[1:]


async def test_the_log_keeps_the_newest_and_the_recent_and_trims_the_rest(redis_client):
    async def write(writer, count, now_ms):
        for _ in range(count):
            pipe = redis_client.pipeline(transaction=True)
            await writer.add(pipe, [("erin", b'{"channel":"account","type":"account"}')], now_ms)
            await pipe.execute()

    now = int(time.time() * 1000)
    # everything recent: nothing is trimmed however many there are
    await write(LiveEventWriter(redis_client, retain_events=10, retain_ms=60_000), 200, now)
    assert await redis_client.xlen(keys.live_log_key("erin")) == 200
    # an hour later: the old ones beyond the newest 10 go (in steps of at most 128)
    later = LiveEventWriter(redis_client, retain_events=10, retain_ms=60_000)
    await write(later, 64 * 4, now + 3_600_000)
    kept = await redis_client.xrange(keys.live_log_key("erin"))
    numbers = [int(entry_id.split(b"-")[0]) for entry_id, _ in kept]
    assert numbers == list(range(numbers[0], 457))  # contiguous up to the newest
    assert numbers[0] > 200  # every old one is gone; every recent one is kept
    assert len(numbers) == 256
    assert 0 < await redis_client.ttl(keys.live_log_key("erin")) <= keys.LIVE_LOG_IDLE_S


async def test_a_reader_catches_up_from_the_log_or_learns_it_cannot(redis_client):
    writer = LiveEventWriter(redis_client, retain_events=3, retain_ms=0)
    now = int(time.time() * 1000)
    for n in range(130):
        pipe = redis_client.pipeline(transaction=True)
        await writer.add(pipe, [("fay", orjson.dumps({"channel": "account", "n": n}))], now + n)
        await pipe.execute()
    log = EventLog(redis_client)
    read = await log.after("fay", 127)
    assert read.complete and read.current == 130
    assert [trader_seq(m) for m in read.messages] == [128, 129, 130]
    assert (await log.after("fay", 130)).messages == [] and (await log.after("fay", 130)).complete
    assert not (await log.after("fay", 2)).complete  # trimmed: resync
    assert not (await log.after("nobody-yet", 0)).messages
    assert (await log.after("nobody-yet", 0)).complete  # nothing happened, nothing missed


async def test_the_subscriber_hears_quotes_and_events_and_comes_back(redis_client, redis_url):
    quotes, events, subscribed = [], [], []

    async def on_subscribed():
        subscribed.append(time.monotonic())

    subscriber = LiveSubscriber(redis_url, quotes.append, events.append, on_subscribed)
    subscriber.PING_S, subscriber.SILENT_S = 0.1, 0.5
    await subscriber.start()
    try:
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        await redis_client.publish(keys.PRICE_CHANNEL, b"q1")
        await redis_client.publish(keys.LIVE_CHANNEL, b"e1")
        while len(quotes) + len(events) < 2:
            await asyncio.sleep(0.01)
        # the server drops the subscriber's connection: it resubscribes and says so
        for client in await redis_client.client_list(_type="pubsub"):
            await redis_client.client_kill_filter(_id=client["id"])
        while len(subscribed) < 2:
            await asyncio.sleep(0.01)
        await redis_client.publish(keys.PRICE_CHANNEL, b"q2")
        while len(quotes) < 2:
            await asyncio.sleep(0.01)
    finally:
        await subscriber.stop()
    assert quotes == [b"q1", b"q2"] and events == [b"e1"]


@pytest.fixture
def password_valkey(tmp_path):
    """A Valkey of its own on a TCP port that wants a password."""
    from exness.adapters.embedded import _valkey_binary
    from tests.e2e.processes import free_port

    port = free_port()
    argv = [str(_valkey_binary()), "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--requirepass", "s3cret", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        yield port
    finally:
        server.terminate()
        server.wait(10)


async def test_the_subscriber_signs_in_to_a_redis_with_a_password(password_valkey):
    port = password_valkey
    publisher = aioredis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/0")
    for _ in range(100):  # the server starting
        with contextlib.suppress(RedisConnectionError):
            await publisher.ping()
            break
        await asyncio.sleep(0.05)
    quotes: list[bytes] = []

    async def nothing() -> None:
        return None

    right = LiveSubscriber(f"redis://:s3cret@127.0.0.1:{port}/0", quotes.append, print, nothing)
    wrong = LiveSubscriber(f"redis://:nope@127.0.0.1:{port}/0", quotes.append, print, nothing)
    await right.start()
    await wrong.start()
    try:
        await asyncio.wait_for(right.connected.wait(), 5)
        await publisher.publish(keys.PRICE_CHANNEL, b"q1")
        while not quotes:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert quotes == [b"q1"]  # heard once: the wrong password subscribed to nothing
        assert not wrong.connected.is_set()
    finally:
        await right.stop()
        await wrong.stop()
        await publisher.aclose()
