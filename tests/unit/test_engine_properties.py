"""Hypothesis properties of the engine core (SPEC §3, §7; ARCHITECTURE §6).

Random sequences of every command (wallets; market, limit and stop orders with and without
stop loss and take profit; whole and partial closes; modifies; cancels; redeliveries) and of
ticks quoting a bid and an ask, checked against:
- money is conserved at every step: wallets + open margins + reserved margins equal
  deposits + realized PnL − margins lost to liquidation, by the engine's ledger *and* by a
  ledger rebuilt from its events alone;
- every price-triggered order (liquidation, stop loss, take profit, a pending order's fill)
  fires on exactly the first tick that crosses it, at that tick's price, never before: a
  plain scan of a model of every open position and pending order, with exact rationals for
  the liquidation prices, says what each tick must fire;
- a rejection changes no trading state;
- snapshot → JSON → restore, then continuing, equals never having stopped, with pending
  orders and stop losses / take profits in flight; replaying the same inputs gives the same
  state.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exness.codec.snapshot import decode_state, encode_state
from exness.domain import (
    CancelOrder,
    CloseTrade,
    Command,
    CreateTrade,
    Engine,
    EngineConfig,
    InitializeWallet,
    ModifyTrade,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    PendingOrder,
    Position,
    PriceTick,
    Reply,
    TradeClosed,
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


# A stop loss as a percentage of the way from the reference price to liquidation (over 100:
# beyond it, refused), a take profit as bps on the winning side (negative: the losing side,
# refused); None: no level.
stop_pct = st.one_of(st.none(), mostly(st.integers(1, 99), st.sampled_from([0, 100, 150])))
target_bps = st.one_of(st.none(), mostly(st.integers(1, 1_500), st.integers(-300, 0)))
open_op = st.tuples(
    st.just("open"),
    st.sampled_from(USERS),
    st.sampled_from(list(BASE)),
    st.sampled_from(["long", "short"]),
    mostly(st.integers(1, 200_000), st.sampled_from([-5, 0, 600_000])),
    mostly(st.integers(1, 100), st.sampled_from([0, 101])),
    st.integers(0, 10_000),
    st.one_of(st.none(), st.integers(-300, 300)),  # quote: bps away from the live price
    st.sampled_from(["market", "market", "limit", "stop"]),
    st.integers(-600, 600),  # trigger: bps away from the live mid
    stop_pct,
    target_bps,
)
close_op = st.tuples(
    st.just("close"),
    st.sampled_from(USERS),
    st.integers(0, 40),
    st.sampled_from([False] * 4 + [True]),
    st.one_of(st.none(), st.none(), st.integers(-10, 2_000)),  # a part of the margin
)
modify_op = st.tuples(
    st.just("modify"),
    st.integers(0, 40),
    st.one_of(st.just("keep"), stop_pct),
    st.one_of(st.just("keep"), target_bps),
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 40), st.booleans())
tick_op = st.tuples(
    st.just("tick"),
    st.sampled_from(list(BASE)),
    st.integers(-1_500, 1_500),  # move in bps of the base price
    st.sampled_from([0, 1, 5, 20, 50]),  # half spread, bps of the mid
    st.sampled_from([0, 0, 0, 1, 1, 2, 5, 25, -1]),  # seconds later (−1: out of order; 25: stale)
)
redeliver_op = st.tuples(st.just("redeliver"), st.integers(0, 40))
# a tick exactly at some order's level, or one unit either side of it
edge_tick_op = st.tuples(
    st.just("edge"),
    st.integers(0, 40),
    st.sampled_from([-1, 0, 0, 1]),
    st.sampled_from([0, 0, 1, 30]),  # the spread, bps of the level
    st.booleans(),  # the level is the bid's (else the ask's)
)
WEIGHTED = (
    [open_op] * 4
    + [tick_op] * 3
    + [edge_tick_op] * 2
    + [close_op] * 2
    + [modify_op, cancel_op, wallet_op, redeliver_op]
)
operations = st.lists(
    st.integers(0, len(WEIGHTED) - 1).flatmap(lambda k: WEIGHTED[k]), min_size=10, max_size=150
)


def away(price: int, bps: int) -> int:
    return max(1, price + price * bps // 10_000)


def stop_level(side: str, reference: int, leverage: int, pct: int) -> int:
    """`pct` % of the way from `reference` towards the liquidation price."""
    liquidation = (
        reference * (leverage - 1) // leverage
        if side == LONG
        else (reference * (leverage + 1) // leverage)
    )
    return max(1, reference + (liquidation - reference) * pct // 100)


def target_level(side: str, reference: int, bps: int) -> int:
    return away(reference, bps if side == LONG else -bps)


def levels_of(order: Position | PendingOrder) -> list[int]:
    levels = [order.stop_loss, order.take_profit]
    if isinstance(order, PendingOrder):
        levels.append(order.trigger_price)
    else:
        levels.append(order.liquidation_price)
    return [level for level in levels if level is not None and level > 0]


def inputs_for(ops, engine: Engine) -> Iterator[Command | PriceTick]:
    """Turn abstract operations into the exact inputs the engine service would feed in.

    Lazy: the caller feeds each input to `engine` before asking for the next, so a close,
    modify or cancel can mostly pick one of the engine's live orders (sometimes any order
    ever named, or another user, so that every rejection is reached too).
    """
    now = 1_700_000_000 * SECOND
    mid = dict(BASE)
    spread = {asset: 0 for asset in BASE}
    # every sequence starts with wallets and a price for each asset, so most orders can fill
    for user in USERS:
        yield InitializeWallet(f"w-{user}", user, ts=now)
    for asset, base in BASE.items():
        yield PriceTick(asset, base, now)
    orders: list[str] = []
    commands: list[Command] = []

    def live(kind: str) -> list[Position | PendingOrder]:
        found = []
        for order_id in orders:
            if kind in ("any", "open") and (position := engine.position(order_id)):
                found.append(position)
            if kind in ("any", "pending") and (pending := engine.pending_order(order_id)):
                found.append(pending)
        return found

    for n, op in enumerate(ops):
        kind = op[0]
        now += 1_000
        if kind == "tick":
            _, asset, move_bps, half_spread_bps, seconds = op
            now += seconds * SECOND
            mid[asset] = away(BASE[asset], move_bps)
            spread[asset] = mid[asset] * half_spread_bps // 10_000
            tick_time = now if seconds >= 0 else now + seconds * SECOND * 3
            yield PriceTick(
                asset, mid[asset], tick_time, mid[asset] - spread[asset], mid[asset] + spread[asset]
            )
            continue
        if kind == "edge":
            _, pick, offset, spread_bps, on_bid = op
            candidates = [order for order in live("any") if levels_of(order)]
            if candidates:
                order = candidates[pick % len(candidates)]
                level = max(2, levels_of(order)[pick % len(levels_of(order))] + offset)
                width = level * spread_bps // 10_000
                bid, ask = (level, level + width) if on_bid else (max(1, level - width), level)
                mid[order.asset], spread[order.asset] = (bid + ask) // 2, (ask - bid) // 2
                yield PriceTick(order.asset, (bid + ask) // 2, now, bid, ask)
            continue
        if kind == "redeliver":
            if commands:
                yield commands[op[1] % len(commands)]
            continue
        command: Command
        if kind == "wallet":
            command = InitializeWallet(f"r{n}", op[1], f"{op[1]}@example.com", ts=now)
        elif kind == "open":
            (_, user, asset, side, margin, leverage, slippage, quote_bps, order_type,
             trigger_bps, sl_pct, tp_bps) = op  # fmt: skip
            reference = mid[asset]
            quote = None if quote_bps is None else away(reference, quote_bps)
            trigger = None if order_type == "market" else away(reference, trigger_bps)
            if trigger is not None:
                reference = trigger
            valid_leverage = min(max(leverage, 1), 100)
            orders.append(f"o{n}")
            command = CreateTrade(
                f"r{n}",
                user,
                f"o{n}",
                asset,
                side,
                margin,
                leverage,
                slippage,
                quote,
                order_type,
                trigger,
                None if sl_pct is None else stop_level(side, reference, valid_leverage, sl_pct),
                None if tp_bps is None else target_level(side, reference, tp_bps),
                ts=now,
            )
        elif kind == "close":
            _, user, pick, anyone, part = op
            still_open = live("open")
            order_id = "never-opened"
            if anyone or not still_open:
                order_id = orders[pick % len(orders)] if orders else order_id
            else:
                position = still_open[pick % len(still_open)]
                order_id, user = position.order_id, position.user_id
            command = CloseTrade(f"r{n}", user, order_id, part, ts=now)
        elif kind == "modify":
            _, pick, sl_pct, tp_bps = op
            candidates = live("any")
            order = candidates[pick % len(candidates)] if candidates else None
            if order is None:
                command = ModifyTrade(f"r{n}", "u0", "never-opened", 1, ts=now)
            else:
                pending_order = isinstance(order, PendingOrder)
                reference = order.trigger_price if pending_order else mid[order.asset]
                side = order.side
                command = ModifyTrade(
                    f"r{n}",
                    order.user_id,
                    order.order_id,
                    None
                    if sl_pct in ("keep", None)
                    else stop_level(side, reference, order.leverage, sl_pct),
                    None if tp_bps in ("keep", None) else target_level(side, reference, tp_bps),
                    change_stop_loss=sl_pct != "keep",
                    change_take_profit=tp_bps != "keep",
                    ts=now,
                )
        else:
            _, pick, anyone = op
            pending = live("pending")
            if pending and not anyone:
                order = pending[pick % len(pending)]
                command = CancelOrder(f"r{n}", order.user_id, order.order_id, ts=now)
            else:
                order_id = orders[pick % len(orders)] if orders else "never-placed"
                command = CancelOrder(f"r{n}", USERS[pick % 3], order_id, ts=now)
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


# ---- a model that knows only the SPEC --------------------------------------------------------


def liquidated(side: str, open_price: int, leverage: int, price: int) -> bool:
    """SPEC §3 with rationals: a long at bid ≤ P0·(L−1)/L, a short at ask ≥ P0·(L+1)/L."""
    if side == LONG:
        return price <= Fraction(open_price * (leverage - 1), leverage)
    return price >= Fraction(open_price * (leverage + 1), leverage)


def settled_pnl(close: TradeClosed) -> int:
    """SPEC §3/§7.4: the closed part's PnL, m·L·move/P0 rounded half-to-even once, the loss
    capped at the part (the wallet never pays in); a liquidation loses the whole part."""
    position = close.position
    if close.reason == "liquidation":
        return -close.margin
    move = close.close_price - position.open_price
    if position.side != LONG:
        move = -move
    exact = Fraction(close.margin * position.leverage * move, position.open_price)
    return max(-close.margin, round(exact))  # round(): half-to-even on a Fraction


def fills(order: PendingOrder, bid: int, ask: int) -> bool:
    """SPEC §7.3: long limit ask ≤ trigger, long stop ask ≥ trigger, short limit bid ≥ trigger,
    short stop bid ≤ trigger."""
    trigger = order.trigger_price
    if order.side == LONG:
        return ask <= trigger if order.order_type == "limit" else ask >= trigger
    return bid >= trigger if order.order_type == "limit" else bid <= trigger


def exit_reason(position: Position, bid: int, ask: int) -> str | None:
    """SPEC §7.2: liquidation wins; a long's SL at bid ≤ SL, TP at bid ≥ TP; a short's SL at
    ask ≥ SL, TP at ask ≤ TP."""
    long = position.side == LONG
    price = bid if long else ask
    if liquidated(position.side, position.open_price, position.leverage, price):
        return "liquidation"
    stop, target = position.stop_loss, position.take_profit
    if stop is not None and (price <= stop if long else price >= stop):
        return "sl"
    if target is not None and (price >= target if long else price <= target):
        return "tp"
    return None


def expected_firing(
    open_: dict[str, Position], pending: dict[str, PendingOrder], asset: str, bid: int, ask: int
) -> tuple[set, set]:
    """What a plain scan says the tick must do: (fills, exits) as sets of facts."""
    filled = {
        (order_id, ask if order.side == LONG else bid)
        for order_id, order in pending.items()
        if order.asset == asset and fills(order, bid, ask)
    }
    candidates = [p for p in open_.values() if p.asset == asset]
    for order_id, price in filled:  # a position filled by the tick may exit on it
        order = pending[order_id]
        candidates.append(
            Position(
                order_id,
                order.user_id,
                asset,
                order.side,
                order.margin,
                order.leverage,
                price,
                0,
                0,
                order.stop_loss,
                order.take_profit,
            )
        )
    exits = set()
    for position in candidates:
        reason = exit_reason(position, bid, ask)
        if reason is not None:
            price = bid if position.side == LONG else ask
            exits.add((position.order_id, reason, price))
    return filled, exits


# a small dedupe memory, checked often, so that forgetting old answers is exercised too
CONFIG = EngineConfig(
    price_max_age_us=20 * SECOND, dedupe_count=25, dedupe_window_us=0, dedupe_step=8
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(operations)
def test_money_is_conserved_and_every_trigger_fires_on_its_first_crossing(ops):
    engine = Engine(CONFIG)
    ledger = 0  # deposits + realized PnL − margins lost, rebuilt from the events alone
    open_: dict[str, Position] = {}  # as announced by events
    pending: dict[str, PendingOrder] = {}
    newest_tick_time: dict[str, int] = {}
    for item in inputs_for(ops, engine):
        before = trading_state(engine)
        events = feed(engine, item)
        if isinstance(item, PriceTick):
            in_order = item.ts >= newest_tick_time.get(item.asset, item.ts)
            if in_order:
                newest_tick_time[item.asset] = item.ts
                quote = engine.quote(item.asset)
                filled, exits = expected_firing(open_, pending, item.asset, quote.bid, quote.ask)
            else:
                filled, exits = set(), set()
            assert {
                (e.position.order_id, e.position.open_price)
                for e in events
                if isinstance(e, TradeOpened)
            } == filled
            assert {
                (e.position.order_id, e.reason, e.close_price)
                for e in events
                if isinstance(e, TradeClosed)
            } == exits
        else:
            reply = events[0]
            assert isinstance(reply, Reply) and reply.request_id == item.request_id
            if not reply.ok:
                assert trading_state(engine) == before
        for event in events:
            if isinstance(event, UserCreated):
                ledger += event.balance
            elif isinstance(event, OrderPlaced):
                pending[event.order.order_id] = event.order
            elif isinstance(event, OrderCancelled):
                del pending[event.order.order_id]
            elif isinstance(event, TradeOpened):
                pending.pop(event.position.order_id, None)
                open_[event.position.order_id] = event.position
            elif isinstance(event, OrderModified):
                book = pending if isinstance(event.order, PendingOrder) else open_
                book[event.order.order_id] = event.order
            elif isinstance(event, TradeClosed):
                order_id = event.position.order_id
                assert event.position == open_[order_id]
                assert event.pnl == settled_pnl(event)
                if event.liquidated:
                    assert event.pnl == -event.margin
                    ledger -= event.margin
                else:
                    assert event.pnl >= -event.margin
                    ledger += event.pnl
                if event.remaining:
                    open_[order_id] = engine.position(order_id)
                    assert open_[order_id].margin == event.remaining
                else:
                    del open_[order_id]
        engine.check_invariant()
        assert engine.total_value() == ledger
        assert {p.order_id: p for p in engine.positions()} == open_
        assert {o.order_id: o for o in engine.pending_orders()} == pending
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
