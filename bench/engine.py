"""The pure engine core: command throughput and the cost of a price tick (issue #2).

Figures:
- engine_commands_per_s: mixed CREATE_TRADE / CLOSE_TRADE through `Engine.apply` on one
  core, best of several rounds (the machine is noisy; the best round is the least disturbed).
- engine_commands_per_s_mixed: every kind of state-changing command (SPEC §7): market opens
  with and without stop loss / take profit, limit and stop orders, whole and partial closes,
  modifies and cancels, the same way.
- tick_us_p99_n1000000_sltp: a tick with 10^6 open positions each carrying a stop loss and a
  take profit, plus 10^5 pending orders, nothing firing.
- trigger_us_per_order: the cost per fired order of a tick that fires many (stop losses, take
  profits, pending fills, liquidations), all of one asset.
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
    CancelOrder,
    CloseTrade,
    CreateTrade,
    Engine,
    EngineConfig,
    GetAccount,
    InitializeWallet,
    ModifyTrade,
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
        engine.apply(InitializeWallet(f"wallet-{n}", user, ts=NOW))
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
            commands.append(CloseTrade(f"req-{n}", user, order_id, ts=NOW + n))
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
                    ts=NOW + n,
                )
            )
    return commands


def tuned_gc() -> None:
    """What the engine service does after loading its state: long-lived objects are frozen
    out of the collector and young collections run less often (see services/engine.py)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def every_kind_of_command(count: int, seed: int = 11) -> list:
    """A busy desk in a steady state, on live orders: market opens (a third with SL/TP) 25%,
    whole closes 25%, partial closes 15%, SL/TP modifies 15%, limit/stop placements 10%,
    cancels 10%: as many closes as opens and cancels as placements, so the book keeps its
    size, as it does over a trading day."""
    rng = random.Random(seed)
    commands: list = []
    open_orders: list[tuple[str, str, str, str]] = []  # (order id, user, asset, side)
    pending: list[tuple[str, str]] = []
    for n in range(count):
        roll = rng.random()
        request = f"req-{n}"
        if roll < 0.25 or not open_orders:
            user, asset = rng.choice(USERS), rng.choice(tuple(BASE))
            side = rng.choice(("long", "short"))
            base, sign = BASE[asset], 1 if side == "long" else -1
            protect = rng.random() < 0.33
            order_id = f"order-{n:09d}"
            open_orders.append((order_id, user, asset, side))
            commands.append(
                CreateTrade(
                    *(request, user, order_id, asset, side, rng.randint(100, 5_000)),
                    *(rng.randint(1, 20), 100, base),
                    stop_loss=base - sign * base // 50 if protect else None,
                    take_profit=base + sign * base // 50 if protect else None,
                    ts=NOW + n,
                )
            )
        elif roll < 0.35:
            user, asset = rng.choice(USERS), rng.choice(tuple(BASE))
            side, kind = rng.choice(("long", "short")), rng.choice(("limit", "stop"))
            below = (side == "long") == (kind == "limit")
            trigger = BASE[asset] + (-1 if below else 1) * BASE[asset] // 20
            order_id = f"order-{n:09d}"
            pending.append((order_id, user))
            commands.append(
                CreateTrade(
                    *(request, user, order_id, asset, side, rng.randint(100, 5_000), 10, 0),
                    order_type=kind,
                    trigger_price=trigger,
                    ts=NOW + n,
                )
            )
        elif roll < 0.60:
            order_id, user, _, _ = open_orders.pop(rng.randrange(len(open_orders)))
            commands.append(CloseTrade(request, user, order_id, ts=NOW + n))
        elif roll < 0.75:
            order_id, user, _, _ = open_orders[rng.randrange(len(open_orders))]
            commands.append(CloseTrade(request, user, order_id, 1, ts=NOW + n))  # a cent of it
        elif roll < 0.90:
            order_id, user, asset, side = open_orders[rng.randrange(len(open_orders))]
            base, sign = BASE[asset], 1 if side == "long" else -1
            commands.append(
                ModifyTrade(
                    *(request, user, order_id, base - sign * base // 40),
                    *(base + sign * base // 40, True, True),
                    ts=NOW + n,
                )
            )
        elif pending:
            order_id, user = pending.pop(rng.randrange(len(pending)))
            commands.append(CancelOrder(request, user, order_id, ts=NOW + n))
        else:
            commands.append(GetAccount(request, rng.choice(USERS), ts=NOW + n))
    return commands


def command_throughput(count: int = 100_000, rounds: int = 7, mixed: bool = False) -> float:
    commands = every_kind_of_command(count) if mixed else mixed_commands(count)
    best = 0.0
    for _ in range(rounds):
        engine = fresh_engine()
        tuned_gc()
        started = time.perf_counter()
        for command in commands:
            engine.apply(command)
        best = max(best, count / (time.perf_counter() - started))
        if mixed:
            rejected = sum(not engine.apply(c)[0].ok for c in commands[:1000])  # all replays
            assert rejected == 0
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
                ts=NOW,
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


def engine_with_protected_positions(n: int, pending: int) -> Engine:
    """n open positions, each with a stop loss and a take profit 2% away, and `pending` limit
    and stop orders 5% away: ticks within ±1% fire nothing."""
    engine = fresh_engine(initial_balance=10**12)
    rng = random.Random(n)
    assets = tuple(BASE)
    for i in range(n + pending):
        asset, long = assets[i % 3], bool(i % 2)
        base, sign = BASE[asset], 1 if long else -1
        common = (f"open-{i}", USERS[i % len(USERS)], f"order-{i:09d}", asset)
        common += ("long" if long else "short", rng.randint(100, 5_000), rng.randint(1, 40), 100)
        if i < n:
            command = CreateTrade(
                *common,
                stop_loss=base - sign * base // 50,
                take_profit=base + sign * base // 50,
                ts=NOW,
            )
        else:
            kind = ("limit", "stop")[i % 4 // 2]
            below = long == (kind == "limit")
            trigger = base + (-1 if below else 1) * base // 20
            command = CreateTrade(*common, order_type=kind, trigger_price=trigger, ts=NOW)
        assert engine.apply(command)[0].ok
    return engine


def protected_tick_cost(n: int = 1_000_000, pending: int = 100_000) -> float:
    engine = engine_with_protected_positions(n, pending)
    tuned_gc()
    samples = []
    for tick in quiet_ticks(20_000, seed=n):
        started = time.perf_counter_ns()
        fired = engine.on_price(tick)
        samples.append((time.perf_counter_ns() - started) / 1_000)
        assert not fired
    gc.unfreeze()
    return percentile(samples, 0.99)


def trigger_cost(n: int = 100_000) -> float:
    """µs per fired order when one tick fires n of them: a quarter each stop losses, take
    profits (of shorts), pending fills and liquidations, all SOL."""
    engine = fresh_engine(initial_balance=10**12)
    base = BASE["SOL"]
    for i in range(n):
        common = (f"o-{i}", USERS[i % len(USERS)], f"t-{i}", "SOL")
        kind = i % 4
        if kind == 0:  # long, stop loss 1% down
            command = CreateTrade(*common, "long", 100, 10, 100, stop_loss=base * 99 // 100, ts=NOW)
        elif kind == 1:  # short, take profit 1% down
            command = CreateTrade(
                *common, "short", 100, 10, 100, take_profit=base * 99 // 100, ts=NOW
            )
        elif kind == 2:  # short stop order 1% down
            command = CreateTrade(
                *common,
                "short",
                100,
                10,
                0,
                order_type="stop",
                trigger_price=base * 99 // 100,
                ts=NOW,
            )
        else:  # long at 50x: liquidated 2% down
            command = CreateTrade(*common, "long", 100, 50, 100, ts=NOW)
        assert engine.apply(command)[0].ok
    started = time.perf_counter()
    fired = engine.on_price(PriceTick("SOL", base * 97 // 100, NOW + 1))
    elapsed = time.perf_counter() - started
    assert len(fired) >= n
    return elapsed * 1e6 / len(fired)


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
                ts=NOW,
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
        "engine_commands_per_s_mixed": round(command_throughput(mixed=True)),
    }
    for n in SIZES:
        figures.update(tick_costs(n))
    figures["liquidation_us_per_position"] = round(liquidation_cost(), 3)
    figures["trigger_us_per_order"] = round(trigger_cost(), 3)
    figures["tick_us_p99_n1000000_sltp"] = round(protected_tick_cost(), 2)
    show("engine core (one process, one core)", figures)
    record("engine", figures)
    return figures


if __name__ == "__main__":
    run()
