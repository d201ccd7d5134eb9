"""Hypothesis properties of the engine core (SPEC §3, ARCHITECTURE §6).

Random sequences of wallets, opens, closes, redeliveries and ticks, checked against:
- money is conserved at every step (the engine's ledger *and* one rebuilt from its events);
- a position is liquidated on the first tick that reaches its exact (rational) liquidation
  price, never before, found by a plain scan of every position;
- a rejection changes no trading state;
- snapshot → JSON → restore, then continuing, equals never having stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exness.codec.snapshot import decode_state, encode_state
from exness.domain import (
    CloseTrade,
    Command,
    CreateTrade,
    Engine,
    EngineConfig,
    InitializeWallet,
    PriceTick,
    Reply,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
)
from exness.domain.positions import LONG
from exness.domain.state import EngineState

BASE = {"SOL": 150_000_000, "ETH": 3_000_000_000, "BTC": 500_000_000}
USERS = ["u0", "u1", "u2"]
SECOND = 1_000_000

wallet_op = st.tuples(st.just("wallet"), st.sampled_from(USERS))


def mostly(valid: st.SearchStrategy, invalid: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` nine times in ten: enough bad input to test rejections, enough good to trade."""
    return st.integers(0, 9).flatmap(lambda k: invalid if k == 0 else valid)


open_op = st.tuples(
    st.just("open"),
    st.sampled_from(USERS),
    st.sampled_from(list(BASE)),
    st.sampled_from(["long", "short"]),
    mostly(st.integers(1, 200_000), st.sampled_from([-5, 0, 600_000])),
    mostly(st.integers(1, 100), st.sampled_from([0, 101])),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(-300, 300)),  # quote: bps away from the live price
)
close_op = st.tuples(
    st.just("close"),
    st.sampled_from(USERS),
    st.integers(0, 40),
    st.sampled_from([False] * 4 + [True]),
)
tick_op = st.tuples(
    st.just("tick"),
    st.sampled_from(list(BASE)),
    st.integers(-1_500, 1_500),  # move in bps of the base price
    st.sampled_from([0, 0, 0, 1, 1, 2, 5, 25, -1]),  # seconds later (−1: out of order; 25: stale)
)
redeliver_op = st.tuples(st.just("redeliver"), st.integers(0, 40))
# a tick exactly at an open position's liquidation price, or one unit either side of it
edge_tick_op = st.tuples(st.just("edge"), st.integers(0, 40), st.sampled_from([-1, 0, 0, 1]))
operations = st.lists(
    st.integers(0, 9).flatmap(
        lambda k: (
            [open_op, open_op, open_op, tick_op, tick_op, edge_tick_op, close_op, close_op][k]
            if k < 8
            else [wallet_op, redeliver_op][k - 8]
        )
    ),
    min_size=10,
    max_size=150,
)


def inputs_for(ops, engine: Engine) -> Iterator[Command | PriceTick]:
    """Turn abstract operations into the exact inputs the engine service would feed in.

    Lazy: the caller feeds each input to `engine` before asking for the next, so a close can
    mostly pick one of the engine's open orders (sometimes any order ever named, or another
    user, so that every close rejection is reached too).
    """
    now = 1_700_000_000 * SECOND
    price = dict(BASE)
    # every sequence starts with wallets and a price for each asset, so most orders can fill
    for user in USERS:
        yield InitializeWallet(f"w-{user}", user, now)
    for asset, base in BASE.items():
        yield PriceTick(asset, base, now)
    orders: list[str] = []
    commands: list[Command] = []
    for n, op in enumerate(ops):
        kind = op[0]
        now += 1_000
        if kind == "tick":
            _, asset, move_bps, seconds = op
            now += seconds * SECOND
            price[asset] = max(1, BASE[asset] + BASE[asset] * move_bps // 10_000)
            tick_time = now if seconds >= 0 else now + seconds * SECOND * 3
            yield PriceTick(asset, price[asset], tick_time)
            continue
        if kind == "edge":
            _, pick, offset = op
            open_orders = [oid for oid in orders if engine.position(oid) is not None]
            if open_orders:
                position = engine.position(open_orders[pick % len(open_orders)])
                assert position is not None
                price[position.asset] = max(1, position.liquidation_price + offset)
                yield PriceTick(position.asset, price[position.asset], now)
            continue
        if kind == "redeliver":
            if commands:
                yield commands[op[1] % len(commands)]
            continue
        command: Command
        if kind == "wallet":
            command = InitializeWallet(f"r{n}", op[1], now, f"{op[1]}@example.com")
        elif kind == "open":
            _, user, asset, side, margin, leverage, slippage, away_bps = op
            quote = None if away_bps is None else price[asset] + price[asset] * away_bps // 10_000
            orders.append(f"o{n}")
            command = CreateTrade(
                f"r{n}", user, f"o{n}", asset, side, margin, leverage, slippage, quote, now
            )
        else:
            _, user, pick, anyone = op
            still_open = [oid for oid in orders if engine.position(oid) is not None]
            pool = orders if anyone or not still_open else still_open
            order_id = pool[pick % len(pool)] if pool else "never-opened"
            position = engine.position(order_id)
            if position is not None and not anyone:
                user = position.user_id
            command = CloseTrade(f"r{n}", user, order_id, now)
        commands.append(command)
        yield command


def recorded_inputs(ops) -> list[Command | PriceTick]:
    engine = Engine(CONFIG)
    inputs = []
    for item in inputs_for(ops, engine):
        feed(engine, item)
        inputs.append(item)
    return inputs


def feed(engine: Engine, item) -> list:
    return engine.on_price(item) if isinstance(item, PriceTick) else engine.apply(item)


def trading_state(engine: Engine) -> EngineState:
    state = engine.state()
    state.recent_replies = []  # the dedupe memory records answers, not trading state
    return state


def exactly_liquidated(side: str, open_price: int, leverage: int, price: int) -> bool:
    """SPEC §3 with rationals: long at P ≤ P0·(L−1)/L, short at P ≥ P0·(L+1)/L."""
    if side == LONG:
        return price <= Fraction(open_price * (leverage - 1), leverage)
    return price >= Fraction(open_price * (leverage + 1), leverage)


CONFIG = EngineConfig(price_max_age_us=20 * SECOND, dedupe_window=25)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(operations)
def test_money_is_conserved_and_liquidation_is_exact(ops):
    engine = Engine(CONFIG)
    ledger = 0  # deposits + realized PnL − margins lost, rebuilt from the events alone
    model: dict[str, TradeOpened] = {}  # open positions, as announced by events
    newest_tick_time: dict[str, int] = {}
    for item in inputs_for(ops, engine):
        before = trading_state(engine)
        events = feed(engine, item)
        if isinstance(item, PriceTick):
            in_order = item.ts >= newest_tick_time.get(item.asset, item.ts)
            if in_order:
                newest_tick_time[item.asset] = item.ts
            # a plain scan of every open position says who must go
            due = {
                oid
                for oid, op in model.items()
                if in_order
                and op.position.asset == item.asset
                and exactly_liquidated(
                    op.position.side, op.position.open_price, op.position.leverage, item.price
                )
            }
            assert {e.position.order_id for e in events} == due
        else:
            reply = events[0]
            assert isinstance(reply, Reply) and reply.request_id == item.request_id
            if not reply.ok:
                assert trading_state(engine) == before
        for event in events:
            if isinstance(event, UserCreated):
                ledger += event.balance
            elif isinstance(event, TradeOpened):
                model[event.position.order_id] = event
            elif isinstance(event, TradeLiquidated):
                assert event.pnl == -event.position.margin
                ledger -= event.position.margin
                del model[event.position.order_id]
            elif isinstance(event, TradeClosed):
                assert event.pnl >= -event.position.margin
                ledger += event.pnl
                del model[event.position.order_id]
        engine.check_invariant()
        assert engine.total_value() == ledger
        assert engine.open_positions == len(model)
        assert all(balance >= 0 for balance in engine.balances().values())


@FAST
@given(operations, st.integers(0, 120))
def test_restoring_a_snapshot_and_continuing_equals_never_stopping(ops, cut):
    inputs = recorded_inputs(ops)
    cut = min(cut, len(inputs))
    straight = Engine(CONFIG)
    straight_events = [feed(straight, item) for item in inputs]

    first = Engine(CONFIG)
    for item in inputs[:cut]:
        feed(first, item)
    # through the snapshot's JSON, as the engine service stores it
    snapshot = orjson.loads(orjson.dumps(encode_state(first.state())))
    restored = Engine.from_state(decode_state(snapshot), CONFIG)
    assert restored.state() == first.state()
    resumed_events = [feed(restored, item) for item in inputs[cut:]]

    assert resumed_events == straight_events[cut:]
    assert restored.state() == straight.state()


@FAST
@given(operations)
def test_replaying_the_same_inputs_gives_the_same_state(ops):
    inputs = recorded_inputs(ops)
    one, two = Engine(CONFIG), Engine(CONFIG)
    assert [feed(one, item) for item in inputs] == [feed(two, item) for item in inputs]
    assert one.state() == two.state()
