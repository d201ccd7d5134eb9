"""The pure engine core: command throughput and the cost of a price tick (issue #2).

Figures:
- engine_commands_per_s: mixed CREATE_TRADE / CLOSE_TRADE through `Engine.apply` on one
  core, best of several rounds (the machine is noisy; the best round is the least disturbed).
- tick_us_p50_nN / tick_us_p99_nN: one `Engine.on_price` with N open positions when the tick
  liquidates nothing, N = 10^3 … 10^6.
- scan_tick_us_p50_nN: the same ticks checked the way the seed system did it, a loop over
  every open position; liquidation_speedup_nN is scan p50 / indexed p50.
- liquidation_us_per_position: the cost per position of a tick that liquidates many.

Run: `make bench` (all benchmarks) or `.venv/bin/python -m bench engine`.
"""

from __future__ import annotations

import gc
import random
import time

from bench.results import median, percentile, record, show
from exness.domain import (
    LONG,
    CloseTrade,
    CreateTrade,
    Engine,
    EngineConfig,
    InitializeWallet,
    Position,
    PriceTick,
)

NOW = 1_700_000_000 * 1_000_000
BASE = {"SOL": 150_000_000, "ETH": 3_000_000_000, "BTC": 500_000_000}
USERS = [f"user-{i:05d}" for i in range(2_000)]
SIZES = (1_000, 10_000, 100_000, 1_000_000)


def fresh_engine(initial_balance: int = 500_000) -> Engine:
    engine = Engine(EngineConfig(price_max_age_us=10**15, initial_balance=initial_balance))
    for n, user in enumerate(USERS):
        engine.apply(InitializeWallet(f"wallet-{n}", user, NOW))
    for asset, price in BASE.items():
        engine.on_price(PriceTick(asset, price, NOW))
    return engine


def mixed_commands(count: int, seed: int = 7) -> list[CreateTrade | CloseTrade]:
    """Opens and closes in equal measure, closing random earlier orders, as traders would."""
    rng = random.Random(seed)
    commands: list[CreateTrade | CloseTrade] = []
    open_orders: list[tuple[str, str]] = []
    for n in range(count):
        if open_orders and rng.random() < 0.5:
            order_id, user = open_orders.pop(rng.randrange(len(open_orders)))
            commands.append(CloseTrade(f"req-{n}", user, order_id, NOW + n))
        else:
            user, asset = rng.choice(USERS), rng.choice(tuple(BASE))
            order_id = f"order-{n:09d}"
            open_orders.append((order_id, user))
            commands.append(
                CreateTrade(
                    f"req-{n}",
                    user,
                    order_id,
                    asset,
                    rng.choice(("long", "short")),
                    rng.randint(100, 5_000),
                    rng.randint(1, 100),
                    100,
                    BASE[asset],
                    NOW + n,
                )
            )
    return commands


def tuned_gc() -> None:
    """What the engine service does after loading its state: long-lived objects are frozen
    out of the collector and young collections run less often (see services/engine.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def command_throughput(count: int = 100_000, rounds: int = 7) -> float:
    commands = mixed_commands(count)
    best = 0.0
    for _ in range(rounds):
        engine = fresh_engine()
        tuned_gc()
        started = time.perf_counter()
        for command in commands:
            engine.apply(command)
        best = max(best, count / (time.perf_counter() - started))
        engine.check_invariant()
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    return best


def engine_with_positions(n: int) -> Engine:
    """n open positions at leverage ≤ 50, so ticks within ±1% of the open price liquidate none."""
    engine = fresh_engine(initial_balance=10**12)
    rng = random.Random(n)
    assets = tuple(BASE)
    for i in range(n):
        asset = assets[i % 3]
        engine.apply(
            CreateTrade(
                f"open-{i}",
                USERS[i % len(USERS)],
                f"order-{i:09d}",
                asset,
                "long" if i % 2 else "short",
                rng.randint(100, 5_000),
                rng.randint(1, 50),
                100,
                None,
                NOW,
            )
        )
    return engine


def quiet_ticks(count: int, seed: int) -> list[PriceTick]:
    rng = random.Random(seed)
    assets = tuple(BASE)
    return [
        PriceTick(
            assets[i % 3],
            BASE[assets[i % 3]] + BASE[assets[i % 3]] * rng.randint(-100, 100) // 10_000,
            NOW + i,
        )
        for i in range(count)
    ]


def scan_for_liquidations(positions: list[Position], tick: PriceTick) -> list[str]:
    """The seed's way: look at every open position on every price update."""
    price, asset = tick.price, tick.asset
    return [
        p.order_id
        for p in positions
        if p.asset == asset
        and (price <= p.liquidation_price if p.side == LONG else price >= p.liquidation_price)
    ]


def tick_costs(n: int) -> dict[str, float]:
    engine = engine_with_positions(n)
    assert engine.open_positions == n
    tuned_gc()
    samples = []
    for tick in quiet_ticks(20_000, seed=n):
        started = time.perf_counter_ns()
        liquidated = engine.on_price(tick)
        samples.append((time.perf_counter_ns() - started) / 1_000)
        assert not liquidated
    positions = [engine.position(f"order-{i:09d}") for i in range(n)]
    scans = []
    for tick in quiet_ticks(max(5, min(200, 10**7 // n)), seed=n + 1):
        started = time.perf_counter_ns()
        assert not scan_for_liquidations(positions, tick)  # type: ignore[arg-type]
        scans.append((time.perf_counter_ns() - started) / 1_000)
    gc.unfreeze()
    p50, p99, scan_p50 = median(samples), percentile(samples, 0.99), median(scans)
    return {
        f"tick_us_p50_n{n}": round(p50, 2),
        f"tick_us_p99_n{n}": round(p99, 2),
        f"scan_tick_us_p50_n{n}": round(scan_p50, 1),
        f"liquidation_speedup_n{n}": round(scan_p50 / p50, 1),
    }


def liquidation_cost(n: int = 100_000) -> float:
    """µs per position when one tick liquidates all n longs (a crash through every trigger)."""
    engine = fresh_engine(initial_balance=10**12)
    for i in range(n):
        engine.apply(
            CreateTrade(
                f"o-{i}",
                USERS[i % len(USERS)],
                f"l-{i}",
                "SOL",
                "long",
                100,
                2 + i % 98,
                100,
                None,
                NOW,
            )
        )
    started = time.perf_counter()
    liquidated = engine.on_price(PriceTick("SOL", 1, NOW + 1))
    elapsed = time.perf_counter() - started
    assert len(liquidated) == n
    return elapsed * 1e6 / n


def run() -> dict[str, float | int | str]:
    figures: dict[str, float | int | str] = {
        "engine_commands_per_s": round(command_throughput()),
    }
    for n in SIZES:
        figures.update(tick_costs(n))
    figures["liquidation_us_per_position"] = round(liquidation_cost(), 3)
    show("engine core (one process, one core)", figures)
    record("engine", figures)
    return figures


if __name__ == "__main__":
    run()
