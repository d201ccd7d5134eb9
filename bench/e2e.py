"""The whole platform under load, through HTTP (issue #6).

1. Start the platform: embedded Valkey and PostgreSQL, a local Backpack-protocol feed
   (tests/fakes/backpack_server.py) quoting SOL/ETH/BTC every 100 ms, the four services as
   processes, mail going to an SMTP sink.
2. Sign in the traders through the real mail flow: sign up, take the link from the mail,
   follow it, keep the session token.
3. Trades: one keep-alive connection per trader (64), each opening and closing positions
   (two opens per close) as fast as answers come, for a fixed time, measured by a load
   generator in its own process (bench/loadgen.py). Then the same server's GET /health
   with the same connections: the stack's ceiling, and the ratio of the two.
4. Tick to liquidation: one position at 100x, then a quote through its liquidation price
   from the feed; the time until the engine's liquidation event (its DB operation on
   db_operations_queue) and until the `trades` row says liquidated; many rounds.
5. The trade mix of step 3 with an Idempotency-Key on every open and close (SPEC §7.5) and
   without, in four short passes (keyed, plain, plain, keyed): what the idempotent path
   costs.

Figures: e2e_trade_open_per_s, e2e_trade_open_p50_ms, e2e_trade_open_p99_ms, e2e_trades_per_s,
e2e_health_per_s, e2e_vs_health_ratio, e2e_cpu_us_per_trade (the CPU time of every process of
the platform — server workers, engine, DB processor, poller, Valkey, PostgreSQL, not the load
generator nor the fake feed — read from /proc over the measured window, divided by the trades
done in it), e2e_idempotent_open_per_s / _p50_ms / _p99_ms / _cpu_us_per_trade and the same
e2e_unkeyed_* from the passes of step 5, and their difference e2e_idempotency_cpu_us_per_trade,
tick_to_liquidation_p50_ms / _p99_ms (engine event) and tick_to_db_liquidation_p50_ms /
_p99_ms (trades row), with the platform's default settings, so tick_to_liquidation_p99_ms is
also written as tick_to_liquidation_p99_ms_default; tick_to_liquidation_p99_ms_batch100 is the
same with the poller on a 100 ms batch window, for comparison.

Settings of the run (printed): RATE_LIMIT_PER_MINUTE=0 and RATE_LIMIT_PER_TRADER_PER_MINUTE=0
(one client IP sends everything, each trader far more than a person would),
SERVER_WORKERS=2 (BENCH_SERVER_WORKERS), PRICE_BATCH_MS the default (0) unless
BENCH_PRICE_BATCH_MS says otherwise. Run: `make bench` or `.venv/bin/python -m bench e2e`
(BENCH_SECONDS, BENCH_CLIENTS, BENCH_LIQUIDATIONS).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import psutil
import redis
from aiosmtpd.controller import Controller
from tests.e2e.conftest import FakeFeed, Mailbox, stack_env
from tests.e2e.processes import Services, free_port, wait_until

from bench.loadgen import Plan, run_generator
from bench.results import median, percentile, record, show
from bench.stores import Stores, stores
from exness.adapters import keys
from exness.adapters.db.urls import asyncpg_dsn
from exness.codec.prices import decode_price_key
from exness.services.server.views import price

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "64"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
WORKERS = os.environ.get("BENCH_SERVER_WORKERS", "2")  # the better of 1 and 2 on 2 cores
PRICE_BATCH_MS = os.environ.get("BENCH_PRICE_BATCH_MS")  # None: the platform's default
LIQUIDATION_ROUNDS = int(os.environ.get("BENCH_LIQUIDATIONS", "100"))
IDEMPOTENCY_PASS_S = float(os.environ.get("BENCH_IDEMPOTENCY_PASS_S", "8"))
MIDS = {"SOL_USDC": Decimal("150"), "ETH_USDC": Decimal("3000"), "BTC_USDC": Decimal("60000")}


class Quoter(threading.Thread):
    """Keeps prices fresh and moving a little, as a live feed would."""

    def __init__(self, feed: FakeFeed) -> None:
        super().__init__(daemon=True)
        self.feed = feed
        self.paused = threading.Event()
        self.stopped = threading.Event()

    def run(self) -> None:
        step = 0
        while not self.stopped.wait(0.1):  # fresh enough (PRICE_MAX_AGE_S is 10 s), cheap
            if self.paused.is_set():
                continue
            step += 1
            for market, mid in MIDS.items():
                wiggle = mid * Decimal(step % 7 - 3) / Decimal(100_000)
                quote(self.feed, market, mid + wiggle)


def quote(feed: FakeFeed, market: str, mid: Decimal) -> None:
    """A quote whose mid is `mid`, one part in 100,000 either side, delivered to the poller
    (retried while it is between connections)."""
    spread = mid / Decimal(100_000)
    wait_until(lambda: feed.publish(market, str(mid - spread), str(mid + spread)), 30, "the poller")


def sign_in(api: str, mailbox: Mailbox, count: int) -> list[str]:
    tokens = []
    with httpx.Client(base_url=api, timeout=20) as client:
        for n in range(count):
            address = f"bench-{n}-{secrets.token_hex(3)}@example.com"
            assert client.post("/api/v1/signup", json={"email": address}).status_code == 200
            link = mailbox.wait_for_link(address)
            answer = client.get(link.replace(link.split("/api/")[0], api), follow_redirects=False)
            assert answer.status_code == 302, answer.text
            tokens.append(answer.cookies["authToken"])
    return tokens


def load(plan: Plan) -> dict:
    return run_generator("bench.loadgen", plan)


def liquidation_latencies(api: str, token: str, redis_url: str, database_url: str, feed, rounds):
    """Per round: a 100x long at the mid, then a quote 2% lower; seconds until the engine's
    trade_liquidated event is on db_operations_queue, and until the trades row says so."""
    client = redis.Redis.from_url(redis_url, socket_timeout=30)
    loop = asyncio.new_event_loop()
    database = loop.run_until_complete(asyncpg.connect(asyncpg_dsn(database_url)))
    liquidated = "SELECT 1 FROM trades WHERE order_id = $1 AND liquidated"
    to_engine, to_db = [], []
    mid = MIDS["SOL_USDC"]
    body = {"asset": "SOL", "type": "long", "margin": 100, "leverage": 100, "slippage": 10_000}
    with httpx.Client(
        base_url=api, timeout=20, headers={"authorization": f"Bearer {token}"}
    ) as http:
        for _ in range(rounds):
            quote(feed, "SOL_USDC", mid)
            while _engine_price(client, "SOL") != mid:  # open at the mid, not the last crash
                time.sleep(0.001)
            opened = http.post("/api/v1/trade/create", json=body)
            assert opened.status_code == 200, opened.text
            order_id = opened.json()["orderId"]
            added = _operations_added(client)
            started = time.perf_counter()
            quote(feed, "SOL_USDC", mid * Decimal("0.98"))
            # The quoter is paused and this is the only open position: the one DB operation
            # the quote causes is its liquidation (the DB row, checked next, confirms it).
            # Counted by entries-added: the DB processor deletes what it wrote, often before a
            # blocking XREAD issued after the quote would see it.
            while _operations_added(client) == added:
                assert time.perf_counter() < started + 5, "no DB operation within 5 s"
                time.sleep(0.0002)
            to_engine.append(time.perf_counter() - started)
            deadline = time.perf_counter() + 10
            while loop.run_until_complete(database.fetchval(liquidated, order_id)) is None:
                assert time.perf_counter() < deadline, "no liquidated row within 10 s"
                time.sleep(0.0005)
            to_db.append(time.perf_counter() - started)
    loop.run_until_complete(database.close())
    loop.close()
    client.close()
    return to_engine, to_db


def _engine_price(client: redis.Redis, asset: str) -> Decimal | None:
    raw = client.get(keys.price_key(asset))
    return None if raw is None else price(asset, decode_price_key(raw).price)


def _operations_added(client: redis.Redis) -> int:
    """How many entries db_operations_queue has ever had (deleted ones included)."""
    return int(client.xinfo_stream(keys.DB_OPERATIONS)["entries-added"])


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def run() -> dict[str, float | int | str]:
    settings = {
        "SERVER_WORKERS": WORKERS,
        "LOG_LEVEL": "WARNING",
        "ENGINE_RPC_TIMEOUT_S": "10",
        "SNAPSHOT_INTERVAL_S": "20",
    }
    if PRICE_BATCH_MS is not None:
        settings["PRICE_BATCH_MS"] = PRICE_BATCH_MS
    with running_platform(settings) as platform:
        api, port, services, feed = platform.api, platform.port, platform.services, platform.feed
        redis_url, database_url = platform.stores.redis_url, platform.stores.database_url
        quoter = platform.quoter
        tokens = sign_in(api, platform.mailbox, CLIENTS + 1)
        liquidation_token = tokens.pop()

        plan = Plan("127.0.0.1", port, SECONDS, 3.0, "trades", tokens)
        roles = platform_roles(services, platform.stores)
        plan.cpu_pids = list(roles)
        trades = load(plan)
        health = load(Plan("127.0.0.1", port, min(SECONDS, 10.0), 2.0, "health", tokens))

        quoter.paused.set()
        to_engine, to_db = liquidation_latencies(
            api, liquidation_token, redis_url, database_url, feed, LIQUIDATION_ROUNDS
        )
        figures = summarize(trades, health, to_engine, to_db)
        done = sum(len(trades["latencies"].get(kind, [])) for kind in ("open", "close"))
        figures["e2e_cpu_us_per_trade_by_process"] = cpu_split(trades, roles, done)
        quoter.paused.clear()
        figures.update(idempotency_cost(port, tokens, roles))
        quoter.paused.set()
        # The same with the SPEC's 100 ms batch window, for comparison (README, Performance)
        services["poller"].stop()
        services.env["PRICE_BATCH_MS"] = "100"  # a window, as the SPEC once asked
        services["poller"].start()
        wait_until(lambda: _subscribed(feed), 30, "the restarted poller")
        batched, _ = liquidation_latencies(
            api, liquidation_token, redis_url, database_url, feed, 30
        )
        figures["tick_to_liquidation_p99_ms_batch100"] = ms(percentile(batched, 0.99))
        figures["e2e_settings"] = (
            f"{CLIENTS} clients, {SECONDS:g} s, server workers {WORKERS}, "
            "RATE_LIMIT_PER_MINUTE=0, RATE_LIMIT_PER_TRADER_PER_MINUTE=0, "
            f"PRICE_BATCH_MS={PRICE_BATCH_MS or 'default (0)'}"
        )
    show("end to end through HTTP (all processes on this machine)", figures)
    record("e2e", figures)
    return figures


def platform_pids(services: Services, running) -> list[int]:
    """Every process of the platform: each service and its children (the server's workers),
    and the embedded stores with theirs."""
    return list(platform_roles(services, running))


def platform_roles(services: Services, running) -> dict[int, str]:
    """`platform_pids`, each with what it is: a service's name, "valkey" or "postgres"."""
    roles = {pid: _store_role(pid) for pid in running.pids()}
    for name, service in services.by_name.items():
        if service.process is None:
            continue
        roles[service.process.pid] = name
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(service.process.pid).children(recursive=True):
                roles[child.pid] = name
    return roles


def _store_role(pid: int) -> str:
    with contextlib.suppress(psutil.Error):
        if "valkey" in psutil.Process(pid).name():
            return "valkey"
    return "postgres"


def cpu_split(result: dict, roles: dict[int, str], trades: int) -> str:
    """The window's CPU per trade by process, busiest first: "server 310, engine 120, ..."."""
    by_role: Counter = Counter()
    for pid, seconds in result["cpu_by_pid"].items():
        by_role[roles.get(int(pid), "other")] += seconds
    return ", ".join(
        f"{role} {seconds * 1e6 / trades:.0f}" for role, seconds in by_role.most_common()
    )


@dataclass
class BenchPlatform:
    """The platform a benchmark runs against (`running_platform`)."""

    api: str
    port: int
    stores: Stores
    services: Services
    feed: FakeFeed
    mailbox: Mailbox
    quoter: Quoter


@contextlib.contextmanager
def running_platform(settings: dict[str, str]) -> Iterator[BenchPlatform]:
    """The four services as processes on embedded (or BENCH_*_URL) stores, with `settings`
    over the e2e stack's environment; the fake Backpack feed quoted by a Quoter, mail to an
    SMTP sink; healthy when the block starts, all stopped after it (a failure prints the
    services' logs)."""
    with stores() as running, tempfile.TemporaryDirectory() as scratch:
        logs = Path(scratch)
        feed = FakeFeed(logs / "feed.log")
        mailbox = Mailbox()
        smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        smtp.start()
        port, env = stack_env(logs, running.redis_url, running.database_url, feed.url, smtp.port)
        env.update(settings)
        api = f"http://127.0.0.1:{port}"
        services = Services(env, logs)
        quoter = Quoter(feed)
        try:
            services.start("dbprocessor", "engine", "poller", "server")
            wait_until(lambda: feed.state()["connections"], 30, "the poller")
            quoter.start()
            wait_until(lambda: _healthy(api), 60, "a healthy platform", every=0.1)
            yield BenchPlatform(api, port, running, services, feed, mailbox, quoter)
        except BaseException:
            print(services.report(), file=sys.stderr)
            raise
        finally:
            quoter.stopped.set()
            services.stop_all()
            smtp.stop()
            feed.stop()


def _subscribed(feed: FakeFeed) -> bool:
    return any(c["open"] and c["subscriptions"] for c in feed.state()["connections"])


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def summarize(trades: dict, health: dict, to_engine: list, to_db: list) -> dict:
    opens = trades["latencies"].get("open", [])
    closes = trades["latencies"].get("close", [])
    failures = {k: v for k, v in trades["statuses"].items() if not k.endswith(" 200")}
    open_rate = len(opens) / trades["seconds"]
    health_rate = len(health["latencies"].get("health", [])) / health["seconds"]
    figures: dict[str, float | int | str] = {
        "e2e_trade_open_per_s": round(open_rate),
        "e2e_trade_open_p50_ms": ms(median(opens)),
        "e2e_trade_open_p99_ms": ms(percentile(opens, 0.99)),
        "e2e_trade_close_p99_ms": ms(percentile(closes, 0.99)) if closes else 0.0,
        "e2e_trades_per_s": round((len(opens) + len(closes)) / trades["seconds"]),
        "e2e_health_per_s": round(health_rate),
        "e2e_vs_health_ratio": round(open_rate / health_rate, 3),
        "e2e_cpu_us_per_trade": round(trades["cpu_seconds"] * 1e6 / (len(opens) + len(closes)), 1),
        "tick_to_liquidation_p50_ms": ms(median(to_engine)),
        "tick_to_liquidation_p99_ms": ms(percentile(to_engine, 0.99)),
        "tick_to_liquidation_p99_ms_default": ms(percentile(to_engine, 0.99)),
        "tick_to_db_liquidation_p50_ms": ms(median(to_db)),
        "tick_to_db_liquidation_p99_ms": ms(percentile(to_db, 0.99)),
    }
    if failures:
        figures["e2e_non_200"] = str(failures)
    return figures


def idempotency_cost(port: int, tokens: list[str], roles: dict[int, str]) -> dict:
    """The trade mix with an Idempotency-Key on every open and close (K) against the same
    without (P), in the order K P P K: a platform that slows down as it fills up (more rows,
    more positions) then charges both alike, so the difference is the idempotent path's."""
    passes: dict[bool, list[dict]] = {True: [], False: []}
    for keyed in (True, False, False, True):
        plan = Plan("127.0.0.1", port, IDEMPOTENCY_PASS_S, 2.0, "trades", tokens)
        plan.idempotency, plan.cpu_pids = keyed, list(roles)
        passes[keyed].append(load(plan))
    keyed, plain = (_merged(passes[True]), _merged(passes[False]))
    figures: dict[str, float | int | str] = {}
    for name, result in (("idempotent", keyed), ("unkeyed", plain)):
        opens, closes = result["latencies"].get("open", []), result["latencies"].get("close", [])
        figures[f"e2e_{name}_open_per_s"] = round(len(opens) / result["seconds"])
        figures[f"e2e_{name}_open_p50_ms"] = ms(median(opens))
        figures[f"e2e_{name}_open_p99_ms"] = ms(percentile(opens, 0.99))
        figures[f"e2e_{name}_cpu_us_per_trade"] = round(
            result["cpu_seconds"] * 1e6 / (len(opens) + len(closes)), 1
        )
        figures[f"e2e_{name}_cpu_us_per_trade_by_process"] = cpu_split(
            result, roles, len(opens) + len(closes)
        )
        failures = {k: v for k, v in result["statuses"].items() if not k.endswith(" 200")}
        if failures:
            figures[f"e2e_{name}_non_200"] = str(failures)
    figures["e2e_idempotency_cpu_us_per_trade"] = round(
        float(figures["e2e_idempotent_cpu_us_per_trade"])
        - float(figures["e2e_unkeyed_cpu_us_per_trade"]),
        1,
    )
    return figures


def _merged(results: list[dict]) -> dict:
    merged: dict = {
        "seconds": 0.0,
        "cpu_seconds": 0.0,
        "cpu_by_pid": Counter(),
        "statuses": Counter(),
        "latencies": {},
    }
    for result in results:
        merged["seconds"] += result["seconds"]
        merged["cpu_seconds"] += result["cpu_seconds"]
        merged["cpu_by_pid"].update(result["cpu_by_pid"])
        merged["statuses"].update(result["statuses"])
        for kind, samples in result["latencies"].items():
            merged["latencies"].setdefault(kind, []).extend(samples)
    return merged


if __name__ == "__main__":
    run()
