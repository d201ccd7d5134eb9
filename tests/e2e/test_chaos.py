"""Chaos (issue #5, #10): a steady stream of trades over HTTP while every service, and Valkey
itself, is killed with SIGKILL at random moments and restarted. Afterwards every
acknowledged open and close is in the engine and in the database exactly once, with the
acknowledged terms, and the database agrees with the engine to the cent.

Beside the classic traders (market opens and closes, no Idempotency-Key), broker traders use
SPEC §7 under the same kills: market opens with stop loss and take profit near the price,
limit and stop orders that fill as the simulated price walks, modify, cancel, partial and
whole closes. Every one of their requests carries an Idempotency-Key and is retried with the
same key and body until it has a definite answer (not a 5xx, not "in flight", not a broken
connection), so each was applied exactly once or not at all, and the test knows which. Their
balances are then recomputed to the cent from those answers and from the database rows of the
positions that stop loss, take profit or liquidation closed, and compared with the engine.

Valkey runs with `appendfsync always` here: a write it acknowledged is on disk, so killing
it loses nothing (README, "Durability", says what `everysec` risks instead).
"""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from unittest import mock

import httpx
import orjson
import pytest
import redis

from exness.adapters import keys
from exness.adapters.embedded import EmbeddedValkey
from exness.codec.replies import decode_reply
from exness.domain.assets import ASSETS
from exness.services.reconcile import reconcile
from exness.settings import get_settings
from tests.e2e.api import db_fetch, open_session
from tests.e2e.conftest import run
from tests.e2e.processes import Services, free_port, wait_until
from tests.fakes.wire import wire_command

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TRADERS = 12
CLIENTS = 6
BROKER_CLIENTS = 3  # each with traders of its own, so a trader's requests are sequential
BROKER_TRADERS_EACH = 2
LOAD_S = float(os.environ.get("CHAOS_LOAD_S", "20"))
VICTIMS = ("engine", "dbprocessor", "server", "poller", "valkey")


@dataclass
class Ledger:
    """What the platform acknowledged to the traders (HTTP 200), and what it did not."""

    opened: dict[str, dict] = field(default_factory=dict)
    closed: dict[str, dict] = field(default_factory=dict)
    open_by_trader: dict[str, list[str]] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def trade_forever(api: str, tokens: dict[str, str], ledger: Ledger, stop: threading.Event, seed):
    rng = random.Random(seed)
    with httpx.Client(base_url=api, timeout=10) as client:
        while not stop.is_set():
            trader = rng.choice(list(tokens))
            headers = {"authorization": f"Bearer {tokens[trader]}"}
            with ledger.lock:
                mine = ledger.open_by_trader.setdefault(trader, [])
                order_id = (
                    mine.pop(rng.randrange(len(mine))) if mine and rng.random() < 0.45 else None
                )
            try:
                if order_id is None:
                    body = {
                        "asset": rng.choice(("SOL", "ETH", "BTC")),
                        "type": rng.choice(("long", "short")),
                        "margin": rng.randint(100, 2_000),
                        "leverage": rng.randint(1, 50),
                        "slippage": 10_000,
                    }
                    response = client.post("/api/v1/trade/create", json=body, headers=headers)
                    if response.status_code == 200:
                        answer = json.loads(response.text, parse_float=Decimal)
                        with ledger.lock:
                            ledger.opened[answer["orderId"]] = {**body, **answer, "user": trader}
                            ledger.open_by_trader[trader].append(answer["orderId"])
                else:
                    response = client.post(
                        "/api/v1/trade/close", json={"orderId": order_id}, headers=headers
                    )
                    if response.status_code == 200:
                        answer = json.loads(response.text, parse_float=Decimal)
                        with ledger.lock:
                            ledger.closed[order_id] = answer
                    elif response.status_code != 409:  # 409: liquidated meanwhile, settled
                        with ledger.lock:  # unknown outcome: maybe closed, maybe not
                            ledger.open_by_trader[trader].append(order_id)
                outcome = str(response.status_code)
            except httpx.HTTPError as error:
                outcome = type(error).__name__
                if order_id is not None:
                    with ledger.lock:
                        ledger.open_by_trader[trader].append(order_id)
                time.sleep(0.05)
            with ledger.lock:
                ledger.outcomes[outcome] += 1


# ---- broker traders: SPEC §7 with an Idempotency-Key on every request ----------------------


@dataclass
class BrokerBook:
    """One broker trader's definite answers (each request applied exactly once or not at all)
    and the client's view of its orders."""

    user: str
    opened: dict[str, dict] = field(default_factory=dict)  # market opens: id -> body + answer
    placed: dict[str, int] = field(default_factory=dict)  # pending placements: id -> margin
    cancelled: set[str] = field(default_factory=set)
    returned: int = 0  # cents back from acknowledged closes (part + pnl) and cancels
    charged: int = 0  # cents taken by acknowledged opens and placements
    closed: set[str] = field(default_factory=set)  # closed whole by an acknowledged close
    partly: set[str] = field(default_factory=set)  # had an acknowledged partial close
    levels: dict[str, tuple] = field(default_factory=dict)  # last acknowledged SL/TP
    plain: list[str] = field(default_factory=list)  # open, no SL/TP, 1-2x: partial closes
    protected: list[str] = field(default_factory=list)  # may be closed by SL/TP/liquidation
    pending: list[str] = field(default_factory=list)
    sides: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (asset, side)


def units(value: Decimal, asset: str) -> int:
    return int(value.scaleb(ASSETS[asset].decimals))


def definite(client: httpx.Client, path: str, body: dict, headers: dict, counts: Counter):
    """POST with a new Idempotency-Key, retried with the same key and body until the answer
    is definite: not a broken connection, not a 5xx, not 409 "in flight"."""
    headers = {**headers, "Idempotency-Key": f"chaos-{uuid.uuid4()}"}
    give_up = time.monotonic() + 90
    while time.monotonic() < give_up:
        try:
            response = client.post(path, json=body, headers=headers)
        except httpx.HTTPError as error:
            counts[type(error).__name__] += 1
        else:
            code = response.json().get("code") if response.status_code >= 400 else None
            counts[f"{path} {response.status_code}"] += 1
            if response.status_code < 500 and code != "IDEMPOTENCY_IN_FLIGHT":
                return response
        time.sleep(0.1)
    raise AssertionError(f"no definite answer to {path} {body} in 90 s")


def broker_forever(api: str, books: list[BrokerBook], tokens: dict, stop, seed, counts):
    rng = random.Random(1000 + seed)
    with httpx.Client(base_url=api, timeout=10) as client:
        while not stop.is_set():
            book = rng.choice(books)
            headers = {"authorization": f"Bearer {tokens[book.user]}"}
            try:
                listed = client.get("/api/v1/quotes").json()["quotes"]
            except (httpx.HTTPError, ValueError, KeyError):
                time.sleep(0.05)
                continue
            quotes = {
                q["asset"]: (
                    units(Decimal(str(q["bid"])), q["asset"]),
                    units(Decimal(str(q["ask"])), q["asset"]),
                )
                for q in listed
                if q["bid"] is not None
            }
            if len(quotes) == len(ASSETS):
                broker_step(client, book, headers, quotes, rng, counts)


def broker_step(client, book: BrokerBook, headers, quotes: dict, rng, counts) -> None:
    def near(price: int, low: float, high: float, up: bool) -> int:
        move = max(1, int(price * rng.uniform(low, high)))
        return price + move if up else price - move

    def post(path: str, body: dict) -> httpx.Response:
        return definite(client, f"/api/v1{path}", body, headers, counts)

    def protection(asset: str, side: str) -> tuple[int, int]:
        """A stop loss and a take profit a few basis points either side of where a
        position of `side` is valued now (the bid for a long, the ask for a short)."""
        bid, ask = quotes[asset]
        here = bid if side == "long" else ask
        stop_loss = near(here, 0.0001, 0.0006, side == "short")
        return stop_loss, near(here, 0.0001, 0.0006, side == "long")

    def opened(body: dict, answer: httpx.Response, pool: list[str]) -> None:
        order = exact_json(answer)
        book.opened[order["orderId"]] = {**body, **order, "cents": body["margin"]}
        book.sides[order["orderId"]] = (body["asset"], body["type"])
        book.charged += body["margin"]
        pool.append(order["orderId"])

    asset, side = rng.choice(list(quotes)), rng.choice(("long", "short"))
    roll = rng.random()
    if roll < 0.22:  # market, with a stop loss and a take profit close to the price
        stop_loss, take_profit = protection(asset, side)
        body = {
            "asset": asset,
            "type": side,
            "margin": rng.randint(100, 1500),
            "leverage": rng.randint(5, 50),
            "slippage": 10_000,
            "stopLoss": stop_loss,
            "takeProfit": take_profit,
        }
        answer = post("/trade/create", body)
        if answer.status_code == 200:
            opened(body, answer, book.protected)
    elif roll < 0.37:  # market, plain and far from liquidation: for partial closes
        body = {
            "asset": asset,
            "type": side,
            "margin": rng.randint(300, 1500),
            "leverage": rng.randint(1, 2),
            "slippage": 10_000,
        }
        answer = post("/trade/create", body)
        if answer.status_code == 200:
            opened(body, answer, book.plain)
    elif roll < 0.52:  # a limit or stop order near the price, maybe with a take profit
        kind = rng.choice(("limit", "stop"))
        bid, ask = quotes[asset]
        reference = ask if side == "long" else bid  # what its fill watches
        below = (side == "long") == (kind == "limit")
        trigger = near(reference, 0.00005, 0.0004, not below)
        body = {
            "asset": asset,
            "type": side,
            "orderType": kind,
            "triggerPrice": trigger,
            "margin": rng.randint(100, 1500),
            "leverage": rng.randint(5, 50),
        }
        if rng.random() < 0.5:
            body["takeProfit"] = near(trigger, 0.0002, 0.0008, side == "long")
        answer = post("/trade/create", body)
        if answer.status_code == 200:
            order_id = exact_json(answer)["orderId"]
            book.placed[order_id] = body["margin"]
            book.sides[order_id] = (asset, side)
            book.charged += body["margin"]
            book.pending.append(order_id)
    elif roll < 0.62 and book.pending:  # cancel one (it may have filled meanwhile)
        order_id = book.pending.pop(rng.randrange(len(book.pending)))
        answer = post("/order/cancel", {"orderId": order_id})
        if answer.status_code == 200:
            book.cancelled.add(order_id)
            book.returned += book.placed[order_id]
        else:
            assert answer.status_code == 409, answer.text  # it filled: a position now
            book.protected.append(order_id)
    elif roll < 0.72 and (book.protected or book.pending):  # new SL/TP: set, clear or keep
        order_id = rng.choice(book.protected + book.pending)
        stop_loss, take_profit = protection(*book.sides[order_id])
        body: dict = {"orderId": order_id}
        if rng.random() < 0.7:
            body["stopLoss"] = stop_loss
        if rng.random() < 0.5 or len(body) == 1:
            body["takeProfit"] = None if rng.random() < 0.3 else take_profit
        answer = post("/trade/modify", body)
        if answer.status_code == 200:
            changed = exact_json(answer)
            book.levels[order_id] = (changed["stopLoss"], changed["takeProfit"])
        else:  # 400: a level on the wrong side (the price moved, or a pending order's trigger
            # is the reference); 409: a tick closed it first
            assert answer.status_code in (400, 409), answer.text
    elif roll < 0.87 and book.plain:  # close a part
        order_id = rng.choice(book.plain)
        remaining = int(margin_left(book, order_id) * 100)
        if remaining < 2:
            return
        answer = post(
            "/trade/close", {"orderId": order_id, "margin": rng.randint(1, remaining - 1)}
        )
        assert answer.status_code == 200, answer.text  # plain positions close only by hand
        closed = exact_json(answer)
        book.returned += int((closed["closedMargin"] + closed["pnl"]) * 100)
        book.partly.add(order_id)
        book.opened[order_id]["remaining"] = closed["remainingMargin"]
    elif book.plain or book.protected:  # close one whole
        pool = rng.choice([p for p in (book.plain, book.protected) if p])
        order_id = pool.pop(rng.randrange(len(pool)))
        answer = post("/trade/close", {"orderId": order_id})
        if answer.status_code == 200:
            closed = exact_json(answer)
            book.returned += int((closed["closedMargin"] + closed["pnl"]) * 100)
            book.closed.add(order_id)
        else:  # a stop loss, take profit or liquidation got there first
            assert answer.status_code == 409 and pool is book.protected, answer.text


def broker_report(book: BrokerBook, rows: dict, balance: int, expected: int) -> str:
    """What to look at when a broker trader's money disagrees: the book and every row."""
    lines = [
        f"{book.user}: engine {balance}, expected {expected} ({balance - expected:+} cents);"
        f" charged {book.charged}, returned {book.returned}",
        f"closed by hand {sorted(book.closed)}, partly {sorted(book.partly)}, "
        f"cancelled {sorted(book.cancelled)}",
    ]
    for order_id, row in sorted(rows.items()):
        if row["user_id"] == book.user:
            fields = ("status", "order_type", "margin", "open_margin", "pnl", "close_reason")
            lines.append(f"  {order_id}: " + ", ".join(f"{f}={row.get(f)}" for f in fields))
    return "\n".join(lines)


def exact_json(response: httpx.Response) -> dict:
    return json.loads(response.text, parse_float=Decimal)


def margin_left(book: BrokerBook, order_id: str) -> Decimal:
    """The margin (USD) a plain position still has, as its last answer said."""
    order = book.opened[order_id]
    return Decimal(order.get("remaining", Decimal(order["cents"]) / 100))


def check_broker(client: redis.Redis, database_url: str, books: list[BrokerBook]) -> None:
    """Each broker trader's engine state is what their definite answers say, to the cent."""
    rows = {r["order_id"]: r for r in db_fetch(database_url, "SELECT * FROM trades")}
    for book in books:
        open_now = {
            item.position.order_id: item.position
            for item in ask_engine(client, "GET_OPEN_TRADES", book.user).positions
        }
        pending_now = {
            o.order_id for o in ask_engine(client, "GET_PENDING_ORDERS", book.user).orders
        }
        # every acknowledged placement is pending, filled (a position, open or closed since),
        # or cancelled by an acknowledged cancel
        assert pending_now <= set(book.placed) - book.cancelled, book.user
        assert not (book.cancelled & (pending_now | set(open_now))), book.user
        filled = set(book.placed) - book.cancelled - pending_now
        # every acknowledged open and fill is in the database with its terms
        for order_id in set(book.opened) | filled:
            row = rows.get(order_id)
            assert row is not None, f"acknowledged {order_id} is missing from the database"
            assert row["user_id"] == book.user
            if order_id in book.opened:
                acked = book.opened[order_id]
                assert row["leverage"] == acked["leverage"]
                assert row["open_price"] == acked["openPrice"]
        # every acknowledged cancel is a cancelled row; every partly closed order has its
        # closes, one row each, and what the engine still holds open is what the row says
        for order_id in book.cancelled:
            assert rows[order_id]["status"] == "cancelled", order_id
        closes = Counter(
            r["order_id"] for r in db_fetch(database_url, "SELECT order_id FROM trade_closes")
        )
        for order_id in book.partly:
            assert closes[order_id] >= 1, order_id
            if order_id in open_now:
                assert rows[order_id]["status"] == "open", order_id
                held = Decimal(open_now[order_id].margin) / 100
                assert rows[order_id]["open_margin"] == held, order_id
        # nothing open that the trader did not open; nothing closed by hand still open
        assert set(open_now) <= set(book.opened) | filled, book.user
        assert not (book.closed & set(open_now)), book.user
        # plain positions close only by hand: what is left is what the last answer said
        for order_id in book.plain:
            assert order_id in open_now, (book.user, order_id)
            expected = margin_left(book, order_id)
            assert Decimal(open_now[order_id].margin) / 100 == expected, order_id
        # the last acknowledged stop loss / take profit of what is still open or pending
        for order_id, (stop_loss, take_profit) in book.levels.items():
            if order_id in open_now:
                position = open_now[order_id]
                asset = position.asset
                shown = tuple(
                    None if level is None else Decimal(level).scaleb(-ASSETS[asset].decimals)
                    for level in (position.stop_loss, position.take_profit)
                )
                assert shown == (stop_loss, take_profit), (order_id, shown)
        # Money, to the cent: what was charged and returned by definite answers, and what
        # the positions closed by a tick (never partly closed: only plain ones are) returned
        # as their database rows say.
        by_ticks = 0
        for order_id in (set(book.opened) | filled) - set(open_now) - book.closed:
            assert order_id not in book.partly, order_id
            row = rows[order_id]
            assert row["closed_at"] is not None, order_id
            by_ticks += int((row["margin"] + row["pnl"]) * 100)  # 0 for a liquidation
        expected = 500_000 - book.charged + book.returned + by_ticks
        balance = ask_engine(client, "GET_USDC_BALANCE", book.user).balance
        assert balance == expected, broker_report(book, rows, balance, expected)


def wreak_havoc(services: Services, valkey: EmbeddedValkey, stop: threading.Event, log: list):
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(10**6)))
    print(f"chaos seed {seed} (CHAOS_SEED={seed} replays this order of kills)")
    rng = random.Random(seed)
    # every victim once, in a random order, early enough to fit the load; then at random
    victims = rng.sample(VICTIMS, len(VICTIMS)) + rng.choices(VICTIMS, k=10)
    for victim in victims:
        if stop.wait(rng.uniform(0.8, 2.0)):
            return
        if victim == "valkey":
            valkey.kill()
            time.sleep(rng.uniform(0.1, 0.6))
            valkey.start()
        else:
            services[victim].kill()
            time.sleep(rng.uniform(0.1, 0.6))
            services[victim].start()
        log.append(victim)


def ask_engine(client: redis.Redis, kind: str, user: str, data: dict | None = None):
    reply_to = f"engine_replies:chaos-{uuid.uuid4().hex}"
    request_id = uuid.uuid4().hex
    queue = keys.TRADE_QUEUE if "TRADE" in kind else keys.WALLET_QUEUE
    client.lpush(queue, wire_command(kind, request_id, user, reply_to, data))
    popped = client.brpop([reply_to], timeout=30)
    assert popped is not None, f"the engine did not answer {kind}"
    reply = decode_reply(popped[1])
    assert reply.ok, reply
    return reply.result


def prices_applied(client: redis.Redis) -> bool:
    """The engine has taken every price entry into its journal and applied the journal."""
    last = client.xinfo_stream(keys.PRICE_STREAM)["last-generated-id"]
    journal = client.xinfo_stream(keys.JOURNAL)["last-generated-id"]
    return client.get(keys.PRICE_CURSOR) == last and client.get(keys.APPLIED) == journal


def quiet(client: redis.Redis) -> bool:
    """The DB processor has written everything the engine emitted."""
    pending = client.xpending(keys.DB_OPERATIONS, keys.DBPROCESSOR_GROUP)["pending"]
    return client.xlen(keys.DB_OPERATIONS) == 0 and pending == 0


def test_nothing_acknowledged_is_lost_or_applied_twice_under_kill_9(
    tmp_path: Path, database_url: str
):
    # not tied to this process: the thread that restarts it ends before the test does
    valkey = EmbeddedValkey(tmp_path / "valkey", appendfsync="always")
    redis_url = valkey.start()
    port = free_port()
    secret = secrets.token_urlsafe(40)
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "SNAPSHOT_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PRICE_FEED": "sim",
        "JWT_SECRET": secret,
        "EXNESS_HOME": str(tmp_path / "home"),
        "SNAPSHOT_INTERVAL_S": "1",
        # keep every snapshot, so the journal (trimmed behind the oldest) stays checkable
        "SNAPSHOTS_KEPT": "100000",
        "RATE_LIMIT_PER_MINUTE": "0",
        "RATE_LIMIT_PER_TRADER_PER_MINUTE": "0",
        "ENGINE_RPC_TIMEOUT_S": "3",
    }
    api = f"http://127.0.0.1:{port}"
    services = Services(env, tmp_path)
    client = redis.Redis.from_url(redis_url, socket_timeout=40)
    try:
        services.start("dbprocessor", "engine", "poller", "server")
        tokens = {}
        brokers = [f"chaos-broker-{n}" for n in range(BROKER_CLIENTS * BROKER_TRADERS_EACH)]
        for user in [f"chaos-trader-{n}" for n in range(TRADERS)] + brokers:
            ask_engine(client, "INITIALIZE_WALLET", user, {"email": f"{user}@example.com"})
            tokens[user] = open_session(redis_url, secret, user, f"{user}@example.com")
        classic = {user: token for user, token in tokens.items() if user not in brokers}
        books = [BrokerBook(user) for user in brokers]
        wait_until(
            lambda: (
                httpx.get(f"{api}/health", timeout=2).json()["feed"]["ok"] if _up(api) else False
            ),
            60,
            "a healthy stack with prices",
            every=0.1,
        )

        ledger, stop, killed = Ledger(), threading.Event(), []
        broker_counts: Counter = Counter()
        workers = [
            threading.Thread(target=trade_forever, args=(api, classic, ledger, stop, seed))
            for seed in range(CLIENTS)
        ] + [
            threading.Thread(
                target=broker_forever,
                args=(api, books[n::BROKER_CLIENTS], tokens, stop, n, broker_counts),
            )
            for n in range(BROKER_CLIENTS)
        ]
        havoc = threading.Thread(target=wreak_havoc, args=(services, valkey, stop, killed))
        for thread in [*workers, havoc]:
            thread.start()
        time.sleep(LOAD_S)
        stop.set()
        for thread in [*workers, havoc]:
            thread.join(120)  # a broker client finishes its request: until a definite answer
        print(f"killed: {killed}; outcomes: {dict(ledger.outcomes)}")
        print(f"broker outcomes: {dict(broker_counts)}")
        assert not any(thread.is_alive() for thread in workers), "a client is stuck"
        assert set(killed) == set(VICTIMS), killed
        assert len(ledger.opened) > 50 and ledger.closed, ledger.outcomes
        # the broker traders did a bit of everything
        assert sum(len(b.opened) for b in books) > 20, broker_counts
        assert any(b.cancelled for b in books) and any(b.partly for b in books), broker_counts
        assert any(b.levels for b in books), broker_counts

        for service in services.by_name.values():
            if not service.running:
                service.start()
        wait_until(lambda: _up(api), 60, "the server after the chaos")
        # No more prices, so nothing moves while the checks read the engine and the rows: a
        # stop loss firing between two reads would look like money from nowhere.
        services["poller"].stop()
        wait_until(lambda: prices_applied(client), 60, "the engine to take the last prices")
        wait_until(lambda: quiet(client), 60, "the DB processor to drain")
        check(client, database_url, ledger, classic)
        check_broker(client, database_url, books)
        settings = get_settings(**{k.lower(): v for k, v in env.items()})
        with mock.patch("exness.services.reconcile._MAX_LISTED", 10**9):  # list them all
            report = run(reconcile(settings, settings.stores()))
        print(report.summary())
        assert report.ok, report.summary()
        assert report.rows >= len(ledger.opened)
        no_request_twice(client)
    finally:
        services.stop_all()
        client.close()
        valkey.stop()
        print(services.report())


def _up(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def check(client: redis.Redis, database_url: str, ledger: Ledger, tokens: dict[str, str]) -> None:
    rows = {r["order_id"]: r for r in db_fetch(database_url, "SELECT * FROM trades")}
    for order_id, acked in ledger.opened.items():
        row = rows.get(order_id)
        assert row is not None, f"acknowledged open {order_id} is missing from the database"
        assert row["user_id"] == acked["user"]
        assert row["margin"] == acked["margin"]  # USD, as the answer showed it
        assert row["leverage"] == acked["leverage"]
        assert row["open_price"] == acked["openPrice"]
    for order_id, acked in ledger.closed.items():
        row = rows[order_id]
        assert row["closed_at"] is not None and not row["liquidated"], order_id
        assert row["pnl"] == acked["pnl"], (order_id, row["pnl"], acked["pnl"])
        assert row["close_price"] == acked["closePrice"]
    # The live engine agrees with the rows, trader by trader, to the cent.
    for trader in tokens:
        mine = [r for r in rows.values() if r["user_id"] == trader]
        open_margin = sum((r["margin"] for r in mine if r["closed_at"] is None), Decimal(0))
        realized = sum(
            (r["pnl"] for r in mine if r["closed_at"] is not None and not r["liquidated"]),
            Decimal(0),
        )
        lost = sum((r["margin"] for r in mine if r["liquidated"]), Decimal(0))
        expected = Decimal(5000) - open_margin + realized - lost
        balance = ask_engine(client, "GET_USDC_BALANCE", trader).balance
        assert Decimal(balance) / 100 == expected, (trader, balance, expected)
        positions = ask_engine(client, "GET_OPEN_TRADES", trader).positions
        live = {item.position.order_id for item in positions}
        assert live == {r["order_id"] for r in mine if r["closed_at"] is None}, trader


def no_request_twice(client: redis.Redis) -> None:
    """The journal holds each request once: nothing taken from a queue was taken twice. (A
    request retried with its Idempotency-Key is sent again with the same request id and a
    new deadline: each sending is one request.)"""
    seen: Counter = Counter()
    for _, fields in client.xrange(keys.JOURNAL):
        if fields[b"k"] == b"c":
            command = orjson.loads(fields[b"d"])
            seen[command.get("requestId"), command.get("deadline")] += 1
    assert seen and max(seen.values()) == 1, seen.most_common(3)
