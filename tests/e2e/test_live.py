"""Live updates end to end (SPEC §8): the services as processes, prices from the fake
Backpack feed, trades over HTTP and, for what the HTTP routes of this branch cannot do yet
(limit orders, stop loss, take profit, modify), engine commands over Redis as the server
sends them (`Bus`). After the §7 routes merge, `_alices_orders` can place them over HTTP.

A trader sees their fill, SL, TP and liquidation events in order and never another's; a
reconnect with `since` gets exactly what it missed; a cross-origin cookie socket is refused;
a stalled reader is closed (1013) while another client keeps receiving on time; a socket
that answers no ping is closed; a server killed with SIGKILL loses no event; signing out
closes the session's sockets on every server process."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections import Counter

import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.api import module_stack, set_price, sign_up
from tests.e2e.conftest import Stack
from tests.e2e.live import LiveClient, RawSocket, trader_id
from tests.e2e.processes import Service, free_port, wait_until
from tests.e2e.test_services import Bus
from tests.fakes.wire import wire_command

pytestmark = pytest.mark.e2e

stack = module_stack(
    "live",
    10,
    PRICE_MAX_AGE_S="3600",
    WS_PING_INTERVAL_S="0.5",
    WS_IDLE_TIMEOUT_S="5",
    WS_MAX_PENDING="100000",  # slowness by time only here
    WS_SLOW_AFTER_S="1",  # before the keepalive gives up on the stalled reader (5 s)
)


async def price(stack: Stack, mid: str) -> None:
    await asyncio.to_thread(set_price, stack, "SOL", mid)


def command(bus: Bus, kind: str, user: str, **data: object) -> dict:
    reply = bus.ask(kind, user, data)
    assert reply["ok"], reply
    return reply


def seq_numbers(client: LiveClient) -> list[int]:
    return [m["traderSeq"] for m in client.private()]


async def test_a_trader_sees_fills_sl_tp_and_liquidation_in_order_and_never_anothers(
    stack: Stack,
):
    alice, bob = await asyncio.gather(
        asyncio.to_thread(sign_up, stack), asyncio.to_thread(sign_up, stack)
    )
    bus = Bus(stack.env["REDIS_URL"])
    await price(stack, "150")
    # alice by her cookie from the platform's own page; bob by a first `auth` frame
    mine = await LiveClient.open(stack.api, cookie=alice.token, origin=stack.api)
    theirs = await LiveClient.open(stack.api)
    await theirs.send(op="auth", token=bob.token)
    await theirs.wait_for(lambda m: m.get("type") == "authenticated")
    await mine.subscribe("account", "quotes")
    await theirs.subscribe("account")
    me = trader_id(alice.token)

    o1 = (await asyncio.to_thread(alice.open, "SOL", "long", 1000, 10))["orderId"]
    command(bus, "CREATE_TRADE", me, orderId="o2-" + me, asset="SOL", type="long", margin=500,
            leverage=50)  # fmt: skip
    command(bus, "CREATE_TRADE", me, orderId="p1-" + me, asset="SOL", type="long", margin=1000,
            leverage=10, orderType="limit", triggerPrice=140_000_000, stopLoss=135_000_000,
            takeProfit=160_000_000)  # fmt: skip
    b1 = (await asyncio.to_thread(bob.open, "SOL", "short", 700, 5))["orderId"]
    await price(stack, "146")  # o2 (50x, liquidation at 147) is liquidated
    await price(stack, "139")  # p1 fills at 139
    await price(stack, "161")  # p1's take profit
    command(bus, "MODIFY_TRADE", me, orderId=o1, stopLoss=145_000_000)
    await price(stack, "144")  # o1's stop loss

    await mine.wait_for(lambda m: m.get("event") == "closed" and m.get("orderId") == o1)
    events = [(m["event"], m["orderId"], m.get("reason")) for m in mine.orders()]
    assert events == [
        ("opened", o1, None),
        ("opened", "o2-" + me, None),
        ("placed", "p1-" + me, None),
        ("closed", "o2-" + me, "liquidation"),
        ("filled", "p1-" + me, None),
        ("closed", "p1-" + me, "tp"),
        ("modified", o1, None),
        ("closed", o1, "sl"),
    ]
    # every change of her state is followed by her account; numbers run on without a gap
    await mine.wait_for(lambda m: m.get("type") == "account" and m["openPositions"] == 0)
    assert [m["type"] for m in mine.private()] == ["order", "account"] * 8
    assert seq_numbers(mine) == list(range(2, 18))  # 1 was her new wallet's account
    final = mine.private()[-1]
    assert final["openPositions"] == 0 and final["pendingOrders"] == 0
    assert final["balance"] == await asyncio.to_thread(alice.balance)
    # the socket's seq counts every data message on it, quotes included
    numbered = [m["seq"] for m in mine.messages if "seq" in m]
    assert numbered == list(range(1, len(numbered) + 1))
    assert any(m.get("channel") == "quotes" for m in mine.messages)
    # bob saw his own trade, and nothing of alice's; alice nothing of his
    await theirs.wait_for(lambda m: m.get("orderId") == b1)
    assert {m["orderId"] for m in theirs.orders()} == {b1}
    assert b1 not in {m["orderId"] for m in mine.orders()}
    await mine.close()
    await theirs.close()


async def test_a_reconnect_with_since_gets_exactly_what_it_missed(stack: Stack):
    carol = await asyncio.to_thread(sign_up, stack)
    await price(stack, "150")
    first = await LiveClient.open(stack.api, token=carol.token)
    await first.subscribe("account")
    kept = (await asyncio.to_thread(carol.open, "SOL", "long", 1000, 5))["orderId"]
    await first.wait_for(lambda m: m.get("type") == "account")
    since = first.last_trader_seq()
    await first.close()

    missed = [(await asyncio.to_thread(carol.open, "SOL", "short", 300, 2))["orderId"]]
    missed.append((await asyncio.to_thread(carol.close, kept))["orderId"])

    second = await LiveClient.open(stack.api, token=carol.token)
    await second.subscribe("account", since=since)
    await second.wait_for(lambda m: m.get("orderId") == kept and m.get("event") == "closed")
    live = (await asyncio.to_thread(carol.open, "SOL", "long", 200, 3))["orderId"]
    await second.wait_for(lambda m: m.get("orderId") == live)
    await second.wait_for(lambda m: m.get("type") == "account" and m["traderSeq"] >= since + 6)
    assert seq_numbers(second) == list(range(since + 1, since + 7))
    assert [(m["event"], m["orderId"]) for m in second.orders()] == [
        ("opened", missed[0]),
        ("closed", kept),
        ("opened", live),
    ]
    await second.close()


async def test_a_cookie_socket_from_another_origin_is_refused(stack: Stack):
    dave = await asyncio.to_thread(sign_up, stack)
    with pytest.raises(InvalidStatus) as refused:
        await LiveClient.open(stack.api, cookie=dave.token, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    # from the web terminal's configured origin it is fine
    client = await LiveClient.open(stack.api, cookie=dave.token, origin=stack.env["FRONTEND_URL"])
    await client.subscribe("account")
    await client.close()


async def test_a_stalled_reader_is_closed_while_another_client_keeps_receiving(stack: Stack):
    slow, quick = await asyncio.gather(
        asyncio.to_thread(sign_up, stack), asyncio.to_thread(sign_up, stack)
    )
    bus = Bus(stack.env["REDIS_URL"])
    await price(stack, "150")
    stalled = RawSocket(stack.api, receive_buffer=4096, Authorization=f"Bearer {slow.token}")
    assert stalled.status == 101
    stalled.send(op="subscribe", channels=["account", "quotes"])
    watcher = await LiveClient.open(stack.api, token=quick.token)
    await watcher.subscribe("account", "quotes")

    # the stalled trader's events pile up (1,500 trades: more than the buffers on the way
    # hold, about 0.5 MB with the server's fixed send buffer), quotes keep coming
    slow_id = trader_id(slow.token)

    def flood() -> None:
        pipe = bus.redis.pipeline(transaction=False)
        for n in range(1500):
            data = {"orderId": f"s{n}-{uuid.uuid4().hex}", "asset": "SOL", "type": "long",
                    "margin": 100, "leverage": 2}  # fmt: skip
            pipe.lpush("trade_stream", wire_command("CREATE_TRADE", f"r{n}", slow_id, None, data))
        pipe.execute()

    await asyncio.to_thread(flood)
    quoting = time.time()
    for n in range(40):  # 4 s of quotes, one every 100 ms
        await asyncio.to_thread(stack.feed.quote, "SOL_USDC", f"150.{n:02d}", "0.01")
        await asyncio.sleep(0.1)
    order = (await asyncio.to_thread(quick.open, "SOL", "long", 1000, 10))["orderId"]
    await watcher.wait_for(lambda m: m.get("orderId") == order)

    # the watcher got the quotes on time: each within half a second of the feed sending it
    quotes = [
        m for m in watcher.messages if m.get("channel") == "quotes" and m["ts"] > quoting * 1e6
    ]
    assert len(quotes) >= 20 and quotes[-1]["price"] == 150.39
    late = [m["_at"] - m["ts"] / 1e6 for m in quotes]
    assert max(late) < 0.5, late
    # and the stalled one, reading at last, finds the reason it was let go
    code, reason, frames = await asyncio.to_thread(stalled.until_closed)
    stalled.close()
    assert code == 1013, (code, reason, frames)
    assert "too slow: a private event waited" in reason
    assert frames < 3000  # it was let go with events still unsent (it resumes with since)
    await watcher.close()


async def test_a_socket_that_answers_no_ping_is_closed_and_one_that_does_is_kept(stack: Stack):
    silent = RawSocket(stack.api)
    assert silent.status == 101
    alive = await LiveClient.open(stack.api)
    started = time.monotonic()
    code, reason, _ = await asyncio.to_thread(silent.until_closed, 10)
    silent.close()
    assert 3 < time.monotonic() - started < 7  # WS_IDLE_TIMEOUT_S is 5
    assert code in (1011, None), (code, reason)
    await asyncio.sleep(max(0.0, 6 - (time.monotonic() - started)))
    await alive.send(op="ping")
    await alive.wait_for(lambda m: m.get("type") == "pong")
    assert alive.closed is None
    await alive.close()


@pytest.fixture
def second_server(stack: Stack):
    """Another server process on its own port, beside the stack's."""
    port = free_port()
    env = {**stack.services.env, "PORT": str(port), "BACKEND_URL": f"http://127.0.0.1:{port}"}
    argv = [sys.executable, "-m", "exness", "server"]
    service = Service("server-2", env, stack.services.log_dir, argv)
    service.start()
    api = f"http://127.0.0.1:{port}"
    wait_until(lambda: _healthy(api), 30, "the second server")
    yield api
    service.stop()


def _healthy(api: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


async def test_a_server_killed_mid_stream_loses_no_event_for_its_clients(
    stack: Stack, second_server: str
):
    erin = await asyncio.to_thread(sign_up, stack)
    await price(stack, "150")
    client = await LiveClient.open(stack.api, token=erin.token)
    await client.subscribe("account", since=0)  # from her first event, her wallet's
    opened: list[str] = []

    async def trade(api: str) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=api, headers=erin.headers, timeout=20) as http:
            for n in range(40):
                body = {"asset": "SOL", "type": "long", "margin": 100 + n, "leverage": 2,
                        "slippage": 100}  # fmt: skip
                answer = await http.post("/api/v1/trade/create", json=body)
                assert answer.status_code == 200, answer.text
                opened.append(answer.json()["orderId"])
                await asyncio.sleep(0.02)

    trading = asyncio.create_task(trade(second_server))  # HTTP through the other server
    await client.wait_for(lambda m: m.get("type") == "order")
    stack.services["server"].kill()  # SIGKILL: its sockets drop mid-stream
    await client.wait_closed()
    since = client.last_trader_seq()
    assert since is not None
    resumed = await LiveClient.open(second_server, token=erin.token)
    await resumed.subscribe("account", since=since)
    await trading
    await resumed.wait_for(lambda m: m.get("orderId") == opened[-1])
    newest = int(Bus(stack.env["REDIS_URL"]).redis.hget("live:seq", trader_id(erin.token)))
    await resumed.wait_for(lambda m: m.get("traderSeq") == newest)
    stack.services["server"].start()  # for the next tests of the module
    wait_until(lambda: _healthy(stack.api), 30, "the restarted server")

    both = client.private() + resumed.private()
    numbers = [m["traderSeq"] for m in both]
    assert numbers == list(range(1, newest + 1))  # every event once, in order, none missing
    assert newest >= 41
    seen = Counter(m["orderId"] for m in client.orders() + resumed.orders())
    assert seen == Counter(opened)
    await resumed.close()


async def test_signing_out_closes_the_sessions_sockets_on_every_server_process(
    stack: Stack, second_server: str
):
    """A sign-out on one process closes that session's sockets on every process (1008) by
    the time it answers; another trader's socket is untouched."""
    fay, gus = await asyncio.gather(
        asyncio.to_thread(sign_up, stack), asyncio.to_thread(sign_up, stack)
    )
    here = await LiveClient.open(stack.api, token=fay.token)
    there = await LiveClient.open(second_server, token=fay.token)
    other = await LiveClient.open(second_server, token=gus.token)
    for client in (here, there, other):
        await client.subscribe("account")
    answer = await asyncio.to_thread(fay.post, "/logout")
    assert answer.status_code == 200, answer.text
    for client in (here, there):
        closed = await client.wait_closed(timeout=5)
        assert (closed.rcvd.code, closed.rcvd.reason) == (1008, "signed out: sign in again")
    await other.send(op="ping")
    await other.wait_for(lambda m: m.get("type") == "pong")
    assert other.closed is None
    # and the token no longer opens a private channel
    again = await LiveClient.open(second_server, token=fay.token)
    await again.send(op="subscribe", channels=["account"])
    refused = await again.wait_for(lambda m: m.get("type") == "error")
    assert "private" in refused["message"]
    for client in (other, again):
        await client.close()


async def test_the_live_candle_is_the_one_klines_returns(stack: Stack):
    await price(stack, "150")
    client = await LiveClient.open(stack.api)
    await client.subscribe("candles:SOL:1m", "candles:SOL:1h")
    for mid in ("151.5", "148.25", "150.75"):
        await price(stack, mid)
    last = await client.wait_for(
        lambda m: m.get("channel") == "candles:SOL:1m" and m["close"] == "150.750000"
    )
    hourly = await client.wait_for(
        lambda m: m.get("channel") == "candles:SOL:1h" and m["close"] == "150.750000"
    )
    assert float(hourly["high"]) >= 151.5 and float(hourly["low"]) <= 148.25

    def klines(interval: str) -> dict | None:
        import httpx

        candles = httpx.get(
            f"{stack.api}/api/v1/klines", params={"asset": "SOL", "interval": interval}
        ).json()
        return next((c for c in candles if c["start"] == last["start"]), None)

    # once the DB processor has written the same updates, /klines says the same, field for field
    stored = await asyncio.to_thread(
        wait_until,
        lambda: (c := klines("1m")) is not None and c["trades"] == last["trades"] and c,
        20,
        "the candle in /klines",
    )
    assert {k: v for k, v in last.items() if k not in ("seq", "channel", "_at")} == stored
    await client.close()
