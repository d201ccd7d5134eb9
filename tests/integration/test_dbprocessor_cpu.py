"""CPU the DB processor spends per operation (a benchmark, not a check; opt-in).

    DBPROCESSOR_BENCH=1 .venv/bin/python -m pytest tests/integration/test_dbprocessor_cpu.py \\
        -q -p no:cacheprovider -s

Each case XADDs `ops` entries as the engine writes them (100 user_created, then opens, then
the closes of the same trades) and runs `DbProcessor.run_once()` until they are all written,
on uvloop as the service does, in a thread of its own. It prints that thread's CPU time per
operation (min and median of a few runs; what adds the entries runs elsewhere), and the CPU
time per operation of the embedded PostgreSQL and Valkey the tests started (Linux /proc;
0 when the tests use servers of their own).

- paced: an entry every 5 ms while the processor runs, as the engine sends them under load
  (2,000 operations/s): each entry is a batch of its own, read as it arrives.
- queued: all the entries first, then the processor drains them `batch_size` at a time.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import threading
import time
from pathlib import Path

import pytest
import uvloop

from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.redis import connect
from exness.codec.operations import encode_operations
from exness.codec.prices import encode_price_updates
from exness.domain.messages import PriceTick, TradeClosed, TradeOpened, UserCreated
from exness.domain.positions import Position
from exness.services.dbprocessor import DbProcessor

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("DBPROCESSOR_BENCH"), reason="set DBPROCESSOR_BENCH=1"),
]

T0 = 1_700_000_000_000_000
RUNS = 5
USERS = 100
ASSETS = ("SOL", "ETH", "BTC")
PACE_S = 0.005


def trade(n: int, run: int) -> Position:
    user, asset, side = f"u{n % USERS}", ASSETS[n % 3], ("long", "short")[n % 2]
    return Position(f"r{run}-o{n}", user, asset, side, 1_000 + n, 10, 201_470_000 + n, 1, T0 + n)


def engine_entries(entries: int, per_entry: int, prices: bool, run: int) -> list[tuple[str, dict]]:
    """(stream, fields) to XADD, in order."""
    operations: list = [UserCreated(f"u{n}", f"u{n}@x.io", 500_000, T0) for n in range(USERS)]
    held = [trade(n, run) for n in range((entries * per_entry - USERS) // 2)]
    operations += [TradeOpened(position) for position in held]
    operations += [
        TradeClosed(p, p.margin, 202_000_000, 20 - n, "manual", T0 + 10**6 + n)
        for n, p in enumerate(held)
    ]
    added = []
    for n, start in enumerate(range(0, len(operations), per_entry)):
        batch = operations[start : start + per_entry]
        added.append((keys.DB_OPERATIONS, {"ops": encode_operations(batch)}))
        if prices:
            tick = PriceTick("SOL", 201_000_000 + n, T0 + run * 10**9 + n * 100_000)
            added.append((keys.PRICE_STREAM, {"data": encode_price_updates([tick])}))
    return added


async def produce(redis_url: str, added: list[tuple[str, dict]], pace_s: float) -> None:
    client = connect(redis_url)
    if pace_s:
        for stream, fields in added:
            await client.xadd(stream, fields)
            if stream == keys.DB_OPERATIONS:  # a price entry follows at once
                await asyncio.sleep(pace_s)
    else:
        pipe = client.pipeline(transaction=False)
        for stream, fields in added:
            pipe.xadd(stream, fields)
        await pipe.execute()
    await client.aclose()


def produce_paced(redis_url: str, entries: int, per_entry: int, prices: bool, run: int) -> None:
    """Another process's work (spawned, so it takes nothing from the measured one's CPU)."""
    uvloop.run(produce(redis_url, engine_entries(entries, per_entry, prices, run), PACE_S))


def processes() -> dict[int, tuple[str, int, int]]:
    """pid -> (name, parent pid, CPU clock ticks so far), from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:
            continue  # gone
        name, fields = rest.rsplit(") ", 1)
        values = fields.split()
        found[int(pid)] = (name, int(values[1]), int(values[11]) + int(values[12]))
    return found


def stores_cpu_s(postmaster: int) -> dict[str, float]:
    """CPU seconds so far of the PostgreSQL (under `postmaster`) and Valkey processes (under
    this one)."""
    stats = processes()
    ours, found = {os.getpid(), postmaster}, True
    while found:  # descendants, to any depth
        found = False
        for pid, (_, parent, _) in stats.items():
            if parent in ours and pid not in ours:
                ours.add(pid)
                found = True
    cpu = {"postgres": 0.0, "valkey": 0.0}
    for pid in ours - {os.getpid()}:
        name, _, ticks = stats.get(pid, ("", 0, 0))
        for store in cpu:
            if name.startswith(store):
                cpu[store] += ticks / os.sysconf("SC_CLK_TCK")
    return cpu


def in_thread(coroutine) -> threading.Thread:
    thread = threading.Thread(target=uvloop.run, args=(coroutine,))
    thread.start()
    return thread


async def measure(
    redis_url, database_url, entries, per_entry, batch_size, prices, pace_s
) -> list[float]:
    client = connect(redis_url)
    db = create_engine(database_url)
    service = DbProcessor(
        client, db, SnapshotStore(db), consumer="bench", batch_size=batch_size, block_ms=100
    )
    await service.run_once()  # groups, claim, retention, the pool's first connection
    async with db.connect() as connection:  # the server's main process, if it runs here
        backend = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    postmaster = processes().get(backend, ("", 0, 0))[1]
    cpu_per_operation, stores = [], {"postgres": [], "valkey": []}
    for run in range(RUNS):
        if pace_s:
            producer = multiprocessing.get_context("spawn").Process(
                target=produce_paced, args=(redis_url, entries, per_entry, prices, run)
            )
            producer.start()
        else:
            added = engine_entries(entries, per_entry, prices, run)
            in_thread(produce(redis_url, added, 0)).join()
            producer = None
        started, stores_before = time.thread_time(), stores_cpu_s(postmaster)
        while await service.run_once() or (producer and producer.is_alive()):
            pass
        elapsed, stores_after = time.thread_time() - started, stores_cpu_s(postmaster)
        cpu_per_operation.append(elapsed / (entries * per_entry) * 1e6)
        for store, spent in stores_after.items():
            stores[store].append((spent - stores_before[store]) / (entries * per_entry) * 1e6)
    assert service.dead_lettered == 0
    assert await client.xlen(keys.DB_OPERATIONS) == 0
    close = getattr(service, "close", None)  # (absent before the connection was kept)
    if close is not None:
        await close()
    await db.dispose()
    await client.aclose()
    return cpu_per_operation, stores


@pytest.mark.parametrize(
    ("entries", "per_entry", "batch_size", "prices", "pace_s"),
    [
        (400, 10, 500, False, PACE_S),
        (400, 10, 500, True, PACE_S),  # and a price_stream entry after each
        (1000, 10, 1, False, 0),
        (200, 50, 500, False, 0),
    ],
    ids=["paced", "paced with prices", "queued, one per batch", "queued, all in one batch"],
)
def test_cpu_per_operation(redis_url, database_url, entries, per_entry, batch_size, prices, pace_s):
    results: list = []

    async def run() -> None:
        try:
            cpu = await measure(
                redis_url, database_url, entries, per_entry, batch_size, prices, pace_s
            )
            results.append(cpu)
        except BaseException as error:
            results.append(error)

    in_thread(run()).join()
    if isinstance(results[0], BaseException):
        raise results[0]
    cpu, stores = results[0]
    shape = f"{entries} entries x {per_entry} ops, batch_size {batch_size}"
    shape += ", + price entries" if prices else ""
    shape += f", one every {pace_s * 1000:g} ms" if pace_s else ", queued"
    print(
        f"\n{shape}: {min(cpu):.1f} µs CPU per operation (median {statistics.median(cpu):.1f});"
        f" PostgreSQL {statistics.median(stores['postgres']):.1f},"
        f" Valkey {statistics.median(stores['valkey']):.1f} (medians)"
    )
