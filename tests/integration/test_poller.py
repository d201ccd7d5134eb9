"""The poller against real Redis and a local Backpack (tests/fakes/backpack_server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from exness.adapters import keys
from exness.adapters.backpack import BackpackClient
from exness.adapters.sim_feed import SimFeed
from exness.backoff import Backoff
from exness.codec.prices import decode_price_entry
from exness.domain.messages import PriceTick
from exness.services.poller import Poller
from exness.services.runtime import StopSignal
from tests.fakes.backpack_server import FakeBackpack

pytestmark = pytest.mark.integration

E = 1_727_000_000_000_000
ROOT = Path(__file__).resolve().parents[2]


# ---- helpers ------------------------------------------------------------------------------------


async def eventually(condition: Callable[[], Awaitable[object]], timeout: float = 3.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = await condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        await asyncio.sleep(0.01)


async def entries(client) -> list[list[PriceTick]]:
    """Every price_stream entry, decoded, oldest first."""
    decoded = []
    for entry_id, fields in await client.xrange(keys.PRICE_STREAM):
        ticks, problems = decode_price_entry(entry_id, fields[b"data"])
        assert problems == []
        decoded.append(ticks)
    return decoded


async def flat(client) -> list[PriceTick]:
    return [tick for entry in await entries(client) for tick in entry]


async def status(client) -> dict:
    raw = await client.get(keys.FEED_STATUS)
    return orjson.loads(raw) if raw else {}


def fast_client(url: str, **options) -> BackpackClient:
    options.setdefault("backoff", Backoff(initial=0.01, maximum=0.05))
    options.setdefault("healthy_after", 0.5)
    options.setdefault("read_timeout", 10.0)
    options.setdefault("close_timeout", 0.2)
    return BackpackClient(url, **options)


@contextlib.asynccontextmanager
async def running(poller: Poller) -> AsyncIterator[Poller]:
    stop = StopSignal()
    task = asyncio.create_task(poller.run(stop))
    try:
        yield poller
    finally:
        stop.event.set()
        await asyncio.wait_for(task, 5)


def tick(asset: str, price: int, bid: int, ask: int, ts: int = E) -> PriceTick:
    return PriceTick(asset, price, ts, bid, ask)


@pytest.fixture
async def backpack() -> AsyncIterator[FakeBackpack]:
    async with FakeBackpack() as server:
        yield server


# ---- the Backpack feed into price_stream ------------------------------------------------------


@pytest.mark.parametrize("numbers_as_strings", [False, True])
async def test_a_quote_reaches_price_stream_exactly(
    redis_client, backpack: FakeBackpack, numbers_as_strings
):
    client = fast_client(backpack.url)
    async with running(Poller(redis_client, client, status_interval=0.05)):
        await backpack.wait_subscribed()
        await backpack.publish("SOL_USDC", "150.10", "150.1200015", E, numbers_as_strings)
        got = await eventually(lambda: entries(redis_client))
        # ask 150.1200015 has 7 decimals: 150.120002 (half to even); mid 150.110001
        assert got == [[tick("SOL", 150_110_001, 150_100_000, 150_120_002)]]
        feed = await eventually(lambda: status(redis_client))
        assert feed["source"] == "backpack" and feed["connected"] is True
        assert feed["reconnects"] == 0


async def test_quotes_of_one_window_are_one_entry_all_of_them_in_order(
    redis_client, backpack: FakeBackpack
):
    async with running(Poller(redis_client, fast_client(backpack.url), flush_interval=0.25)):
        await backpack.wait_subscribed()
        await backpack.publish("BTC_USDC", "60000", "60000.2", E)  # primer
        await eventually(lambda: entries(redis_client))
        # right after a flush: the burst lands in one window, a dip that lasts a few ms included
        burst = [
            ("SOL_USDC", "150.10", "150.12"),
            ("ETH_USDC", "3000.01", "3000.03"),
            ("SOL_USDC", "120.00", "120.02"),  # the crossing
            ("BTC_USDC", "60001", "60001.4"),
            ("SOL_USDC", "150.10", "150.12"),
        ]
        for number, (market, bid, ask) in enumerate(burst, 1):
            await backpack.publish(market, bid, ask, E + number)
        got = await eventually(lambda: _two(redis_client))
    assert got[1] == [
        tick("SOL", 150_110_000, 150_100_000, 150_120_000, E + 1),
        tick("ETH", 3_000_020_000, 3_000_010_000, 3_000_030_000, E + 2),
        tick("SOL", 120_010_000, 120_000_000, 120_020_000, E + 3),
        tick("BTC", 600_012_000, 600_010_000, 600_014_000, E + 4),
        tick("SOL", 150_110_000, 150_100_000, 150_120_000, E + 5),
    ]


async def _two(client) -> list[list[PriceTick]] | None:
    got = await entries(client)
    return got if len(got) >= 2 and len(got[1]) >= 5 else None


@pytest.mark.parametrize("abrupt", [False, True], ids=["close-frame", "reset"])
async def test_reconnects_resubscribes_and_quotes_flow_again(
    redis_client, backpack: FakeBackpack, abrupt
):
    client = fast_client(backpack.url)
    async with running(Poller(redis_client, client)):
        first = await backpack.wait_subscribed()
        await backpack.publish("SOL_USDC", "150.10", "150.12", E)
        await eventually(lambda: flat(redis_client))
        assert await backpack.drop_connections(abrupt=abrupt) == 1
        second = await backpack.wait_subscribed(after=first.id)
        await backpack.publish("ETH_USDC", "3000.01", "3000.03", E + 1)
        got = await eventually(lambda: _at_least(redis_client, 2))
    assert [t.asset for t in got] == ["SOL", "ETH"]
    assert client.reconnects == 1 and client.stats.connections == 2
    assert second.requests == [
        {
            "method": "SUBSCRIBE",
            "params": ["bookTicker.SOL_USDC", "bookTicker.ETH_USDC", "bookTicker.BTC_USDC"],
        }
    ]


async def _at_least(client, count: int) -> list[PriceTick] | None:
    got = await flat(client)
    return got if len(got) >= count else None


async def test_error_frames_and_junk_are_ignored(redis_client, backpack: FakeBackpack):
    # DOGE_USDC is not a stream Backpack has: the fake answers 4006, as Backpack does
    client = fast_client(backpack.url, markets=["SOL_USDC", "ETH_USDC", "BTC_USDC", "DOGE_USDC"])
    async with running(Poller(redis_client, client)):
        connection = await backpack.wait_subscribed()
        await eventually(_true_after(lambda: client.stats.errors == 1))
        for frame in (
            "junk",
            b"\x00\x01binary",
            "[]",
            '{"stream":"depth.SOL_USDC","data":{"e":"depth"}}',
            '{"id":null,"error":{"code":4006,"message":"Invalid stream"}}',
            orjson.dumps(FakeBackpack.book_ticker("SOL_USDC", "150.13", "150.12")).decode(),
            orjson.dumps(FakeBackpack.book_ticker("SOL_USDC", "0", "150.12")).decode(),
        ):
            await backpack.send_raw(frame)
        await backpack.publish("SOL_USDC", "150.10", "150.12", E)
        got = await eventually(lambda: flat(redis_client))
        await asyncio.sleep(0.15)
        assert (
            await flat(redis_client) == got == [tick("SOL", 150_110_000, 150_100_000, 150_120_000)]
        )
    assert client.stats.errors == 2
    assert client.stats.ignored == 6
    assert client.reconnects == 0 and backpack.connections == [connection]  # never dropped


def _true_after(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def condition() -> bool:
        return check()

    return condition


async def test_while_the_feed_is_down_nothing_is_appended_and_status_says_so(
    redis_client, backpack: FakeBackpack
):
    client = fast_client(backpack.url)
    async with running(Poller(redis_client, client, status_interval=0.05)):
        first = await backpack.wait_subscribed()
        await backpack.publish("SOL_USDC", "150.10", "150.12", E)
        await eventually(lambda: flat(redis_client))
        await eventually(lambda: _status_is(redis_client, connected=True))

        backpack.refuse = True
        await backpack.drop_connections()
        down = await eventually(lambda: _status_is(redis_client, connected=False))
        assert down["source"] == "backpack" and down["last_tick_at"] is not None
        length = await redis_client.xlen(keys.PRICE_STREAM)
        await asyncio.sleep(0.3)  # many retries (refused) and flushes later
        assert await redis_client.xlen(keys.PRICE_STREAM) == length == 1
        assert client.reconnects >= 3

        backpack.refuse = False
        await backpack.wait_subscribed(after=first.id)
        await eventually(lambda: _status_is(redis_client, connected=True))
        await backpack.publish("SOL_USDC", "150.20", "150.22", E + 1)
        assert [t.price for t in await eventually(lambda: _at_least(redis_client, 2))] == [
            150_110_000,
            150_210_000,
        ]


async def _status_is(client, connected: bool) -> dict | None:
    feed = await status(client)
    return feed if feed and feed["connected"] is connected else None


async def test_pings_are_answered(backpack: FakeBackpack):
    client = fast_client(backpack.url, ping_interval=None)
    ticks = asyncio.create_task(anext(aiter(client.ticks())))  # connected, idle, never a quote
    try:
        await backpack.wait_subscribed()
        latencies = await backpack.ping(timeout=1.0)
        assert len(latencies) == 1 and latencies[0] < 1.0
    finally:
        ticks.cancel()
        await asyncio.gather(ticks, return_exceptions=True)
    assert not client.connected


async def test_a_silent_feed_is_reconnected(backpack: FakeBackpack):
    client = fast_client(backpack.url, read_timeout=0.1)
    ticks = asyncio.create_task(anext(aiter(client.ticks())))
    try:
        first = await backpack.wait_subscribed()
        await backpack.wait_subscribed(after=first.id, timeout=2.0)
        assert "no quote for 0.1 s" in (client.stats.last_error or "")
    finally:
        ticks.cancel()
        await asyncio.gather(ticks, return_exceptions=True)


async def test_a_hung_peer_is_noticed_by_our_pings(backpack: FakeBackpack):
    client = fast_client(backpack.url, ping_interval=0.05, ping_timeout=0.1, read_timeout=None)
    ticks = asyncio.create_task(anext(aiter(client.ticks())))
    try:
        first = await backpack.wait_subscribed()
        assert backpack.freeze() == 1
        await backpack.wait_subscribed(after=first.id, timeout=2.0)
        assert client.reconnects >= 1
    finally:
        ticks.cancel()
        await asyncio.gather(ticks, return_exceptions=True)


async def test_backoff_doubles_with_jitter_up_to_the_maximum():
    import random

    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    for attempt, delay in enumerate(delays):
        ceiling = min(30.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.delay(10_000) <= 30.0


# ---- the batching loop on its own ---------------------------------------------------------------


class QueueSource:
    """A feed the test drives: ticks put in the queue come out of `ticks()`."""

    name = "test"

    def __init__(self) -> None:
        self.queue: asyncio.Queue[PriceTick] = asyncio.Queue()
        self.connected = True
        self.reconnects = 0
        self.last_tick_at: int | None = None

    async def ticks(self) -> AsyncIterator[PriceTick]:
        while True:
            yield await self.queue.get()


class FlakyRedis:
    """The real client, except that writes fail while `down` (as when Redis restarts)."""

    def __init__(self, client) -> None:
        self.client = client
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise RedisConnectionError("Connection refused (test)")

    async def xadd(self, *args, **kwargs):
        self._check()
        return await self.client.xadd(*args, **kwargs)

    async def set(self, *args, **kwargs):
        self._check()
        return await self.client.set(*args, **kwargs)

    def pipeline(self, *args, **kwargs):
        self._check()
        return self.client.pipeline(*args, **kwargs)


def sol(number: int) -> PriceTick:
    return tick("SOL", 150_000_000 + number, 149_999_000 + number, 150_001_000 + number, E + number)


async def test_redis_down_updates_wait_in_order_and_are_written_when_it_is_back(redis_client):
    source, flaky = QueueSource(), FlakyRedis(redis_client)
    poller = Poller(flaky, source, flush_interval=0.02, retry_initial=0.01, retry_max=0.03)
    async with running(poller):
        flaky.down = True
        for number in range(30):
            source.queue.put_nowait(sol(number))
            await asyncio.sleep(0.004)  # spread over several windows
        await asyncio.sleep(0.1)
        assert await redis_client.xlen(keys.PRICE_STREAM) == 0
        assert not poller.redis_ok and poller.buffered == 30
        flaky.down = False
        got = await eventually(lambda: _at_least(redis_client, 30))
    assert got == [sol(number) for number in range(30)]
    assert len(await entries(redis_client)) > 1 and poller.dropped == 0 and poller.redis_ok


async def test_the_buffer_is_bounded_and_keeps_the_newest(redis_client):
    source, flaky = QueueSource(), FlakyRedis(redis_client)
    poller = Poller(flaky, source, flush_interval=0.01, max_buffered=5, retry_initial=0.01)
    async with running(poller):
        flaky.down = True
        for number in range(20):
            source.queue.put_nowait(sol(number))
            await asyncio.sleep(0.015)  # about one window each
        await asyncio.sleep(0.05)
        flaky.down = False
        await eventually(lambda: _true_after(lambda: poller.buffered == 0)())
    got = await flat(redis_client)
    assert 0 < len(got) <= 5 and poller.dropped == 20 - len(got)
    assert got == [sol(number) for number in range(20 - len(got), 20)]  # the newest, in order


async def test_stopping_flushes_what_arrived(redis_client):
    source = QueueSource()
    async with running(Poller(redis_client, source, flush_interval=5.0)):
        await asyncio.sleep(0.02)
        for number in range(3):
            source.queue.put_nowait(sol(number))
        await asyncio.sleep(0.02)
    assert await flat(redis_client) == [sol(0), sol(1), sol(2)]
    assert (await status(redis_client))["connected"] is False


async def test_the_simulation_feeds_every_asset(redis_client):
    async with running(Poller(redis_client, SimFeed(9, interval=0.05), status_interval=0.05)):
        got = await eventually(lambda: _at_least(redis_client, 12))
        feed = await eventually(lambda: status(redis_client))
    assert {t.asset for t in got} == {"SOL", "ETH", "BTC"}
    assert all(t.bid < t.price < t.ask for t in got)
    assert feed["source"] == "sim" and feed["connected"] is True


# ---- as processes: `exness poller` against `python -m tests.fakes.backpack_server` -------------


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


async def test_poller_process_against_the_fake_backpack_process(redis_client, redis_url, tmp_path):
    fake = subprocess.Popen(  # noqa: ASYNC220 - started once, then awaited in threads
        [sys.executable, "-m", "tests.fakes.backpack_server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    poller = None
    try:
        assert fake.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(fake.stdout.readline), 10)
        addresses = json.loads(line)
        env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "PRICE_FEED": "backpack",
            "BACKPACK_WS_URL": addresses["url"],
            "EXNESS_HOME": str(tmp_path),
        }
        log = (tmp_path / "poller.log").open("wb")
        poller = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "exness", "poller"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        control = addresses["control"]

        async def subscribed() -> bool:
            state = await asyncio.to_thread(
                lambda: json.loads(urllib.request.urlopen(f"{control}/state", timeout=5).read())
            )
            return any(len(c["subscriptions"]) == 3 for c in state["connections"] if c["open"])

        await eventually(subscribed, timeout=10)
        quote = {"market": "ETH_USDC", "bid": "3000.01", "ask": "3000.03", "E": E}
        assert (await asyncio.to_thread(_post, f"{control}/publish", quote)) == {"sent": 1}
        got = await eventually(lambda: flat(redis_client), timeout=5)
        assert got == [tick("ETH", 3_000_020_000, 3_000_010_000, 3_000_030_000)]
        assert (await eventually(lambda: status(redis_client)))["connected"] is True

        poller.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(poller.wait, 10) == 0
        assert (await status(redis_client))["connected"] is False
    finally:
        for process in (poller, fake):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.to_thread(process.wait, 5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    assert fake.returncode == 0


async def test_with_no_batch_window_each_quote_is_written_on_arrival_in_order(
    redis_client, backpack: FakeBackpack
):
    """PRICE_BATCH_MS=0: nothing waits for a window, and nothing is lost or reordered."""
    async with running(Poller(redis_client, fast_client(backpack.url), flush_interval=0)):
        await backpack.wait_subscribed()
        await backpack.publish("SOL_USDC", "150.00", "150.02", E)
        first = await eventually(lambda: entries(redis_client))
        assert first == [[tick("SOL", 150_010_000, 150_000_000, 150_020_000)]]
        for n in range(1, 40):
            await backpack.publish("SOL_USDC", f"{150 + n}.00", f"{150 + n}.02", E + n)
        got = await eventually(lambda: _at_least(redis_client, 40))
        assert [t.bid for t in got] == [(150 + n) * 1_000_000 for n in range(40)]
