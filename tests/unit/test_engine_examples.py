"""Worked examples of SPEC §3 that must hold exactly, and every rejection of the core."""

from __future__ import annotations

import pytest

from exness.domain import (
    Balance,
    CreateTrade,
    Engine,
    EngineConfig,
    GetOpenTrades,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    OpenPositions,
    PositionClosed,
    PositionOpened,
    PriceTick,
    Reply,
    TradeClosed,
    TradeOpened,
    UserCreated,
    WalletOpened,
)
from exness.domain.state import EngineState
from tests.unit.helpers import SECOND, Desk, units


def opened(events) -> tuple[Reply, TradeOpened]:
    reply, op = events
    assert reply.ok, reply
    assert isinstance(op, TradeOpened)
    return reply, op


def test_new_wallet_holds_five_thousand_dollars_and_is_created_once():
    desk = Desk()
    first = desk.engine.apply(InitializeWallet("r1", "alice", "alice@example.com", ts=desk.now))
    assert first[0].result == WalletOpened(500_000, created=True)
    assert first[1] == UserCreated("alice", "alice@example.com", 500_000, desk.now)
    again = desk.wallet("alice")
    assert again.result == WalletOpened(500_000, created=False)
    assert desk.engine.balance("alice") == 500_000


@pytest.mark.parametrize(
    ("asset", "side", "open_at", "margin", "leverage", "liquidation", "close_at", "pnl"),
    [
        # long BTC at 50000.0000, margin 2000, 5x: liquidation 40000; at 51000 PnL +200 cents
        ("BTC", "long", "50000.0000", 2000, 5, "40000", "51000", 200),
        # short SOL at 150.000000, margin 1000, 30x: liquidation 155; at 148.5 PnL +300 cents
        ("SOL", "short", "150.000000", 1000, 30, "155", "148.5", 300),
        # long ETH at 3000, margin 777, 9x, closed at 2999.99: PnL −0.02331 cents → 0
        ("ETH", "long", "3000", 777, 9, "2666.666666", "2999.99", 0),
        # long SOL at 2.000000, 1x, margin 1 closed at 3.000000: +0.5 cent → 0 (half-even)
        ("SOL", "long", "2.000000", 1, 1, "0", "3.000000", 0),
        # ... margin 3: +1.5 → +2 (half-even)
        ("SOL", "long", "2.000000", 3, 1, "0", "3.000000", 2),
        # a short loses as the price rises; −12.5 cents rounds to −12 (half-even)
        ("SOL", "short", "100", 250, 10, "110", "100.5", -12),
        # ... and −13.5 to −14
        ("SOL", "short", "100", 270, 10, "110", "100.5", -14),
    ],
)
def test_worked_examples(asset, side, open_at, margin, leverage, liquidation, close_at, pnl):
    desk = Desk()
    desk.wallet("alice")
    desk.tick(asset, open_at)
    reply, op = opened(desk.open("alice", asset, side, margin, leverage, order_id="o1"))
    assert op.position.open_price == units(asset, open_at)
    assert op.position.liquidation_price == units(asset, liquidation)
    assert reply.result == PositionOpened(op.position, 500_000 - margin)
    assert desk.engine.balance("alice") == 500_000 - margin

    desk.tick(asset, close_at)
    close_reply, closed = desk.close("alice", "o1")
    assert close_reply.ok, close_reply
    assert isinstance(closed, TradeClosed) and not closed.liquidated
    assert closed.pnl == pnl
    assert close_reply.result == PositionClosed(closed, 500_000 + pnl)
    assert (closed.margin, closed.reason, closed.remaining) == (margin, "manual", 0)
    assert closed.close_price == units(asset, close_at)
    assert desk.engine.balance("alice") == 500_000 + pnl
    desk.engine.check_invariant()


def test_long_is_liquidated_on_the_first_tick_at_its_liquidation_price_not_before():
    desk = Desk()
    desk.wallet("alice")
    desk.tick("BTC", "50000")
    opened(desk.open("alice", "BTC", "long", 2000, 5, order_id="o1"))
    assert desk.tick("BTC", "40000.0001") == []  # one unit above: survives
    [liquidation] = desk.tick("BTC", "40000.0000")
    assert isinstance(liquidation, TradeClosed) and liquidation.liquidated
    assert liquidation.pnl == -2000
    assert liquidation.close_price == units("BTC", "40000")
    assert desk.engine.balance("alice") == 498_000  # the whole margin is lost
    desk.engine.check_invariant()


def test_a_tick_that_gaps_through_liquidates_at_the_tick_price():
    desk = Desk()
    desk.wallet("bob")
    desk.tick("SOL", "150")
    opened(desk.open("bob", "SOL", "short", 1000, 30, order_id="o1"))
    [liquidation] = desk.tick("SOL", "170")
    assert liquidation.close_price == units("SOL", "170")
    assert liquidation.pnl == -1000


def test_one_x_long_is_never_liquidated_while_the_price_is_positive():
    desk = Desk()
    desk.wallet("alice")
    desk.tick("SOL", "2")
    _reply, op = opened(desk.open("alice", "SOL", "long", 100, 1, order_id="o1"))
    assert op.position.liquidation_price == 0
    assert desk.tick("SOL", "0.000001") == []
    assert desk.engine.position("o1") is not None


def test_many_positions_crossed_by_one_tick_liquidate_in_trigger_order():
    desk = Desk()
    desk.wallet("alice")
    desk.tick("ETH", "3000")
    for leverage in (2, 10, 50, 100):
        opened(desk.open("alice", "ETH", "long", 100, leverage, order_id=f"long-{leverage}"))
        opened(desk.open("alice", "ETH", "short", 100, leverage, order_id=f"short-{leverage}"))
    down = desk.tick("ETH", "2900")  # crosses the 50x and 100x longs (triggers 2940, 2970)
    assert [e.position.order_id for e in down] == ["long-100", "long-50"]
    up = desk.tick("ETH", "3100")  # crosses the 50x and 100x shorts (3030, 3060)
    assert [e.position.order_id for e in up] == ["short-100", "short-50"]
    assert desk.engine.open_positions == 4
    desk.engine.check_invariant()


def test_closing_at_a_loss_returns_what_is_left_of_the_margin():
    desk = Desk()
    desk.wallet("alice")
    desk.tick("SOL", "100")
    opened(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    desk.tick("SOL", "95")  # −50% of the margin
    _reply, closed = desk.close("alice", "o1")
    assert closed.pnl == -500
    assert desk.engine.balance("alice") == 500_000 - 500


def test_open_trades_are_reported_live_with_current_price_and_pnl():
    desk = Desk()
    desk.wallet("alice")
    desk.tick("BTC", "50000")
    opened(desk.open("alice", "BTC", "long", 2000, 5, order_id="o1"))
    desk.tick("BTC", "51000")
    [reply] = desk.engine.apply(GetOpenTrades("r", "alice", ts=desk.now))
    [trade] = reply.result.positions
    assert trade.position.order_id == "o1"
    assert trade.current_price == units("BTC", "51000")
    assert trade.pnl == 200
    [empty] = desk.engine.apply(GetOpenTrades("r2", "nobody", ts=desk.now))
    assert empty.result == OpenPositions(())


def test_balances_are_the_free_usd_balance():
    desk = Desk()
    desk.wallet("alice")
    [reply] = desk.engine.apply(GetUserBalance("r", "alice", ts=desk.now))
    assert reply.result == Balance(500_000)
    [usd] = desk.engine.apply(GetUsdcBalance("r2", "alice", ts=desk.now))
    assert usd.result == Balance(500_000)


# ---- rejections -------------------------------------------------------------------------------


def rejected(events, code: str) -> Reply:
    [reply] = events
    assert not reply.ok
    assert reply.code == code, reply
    assert reply.message
    return reply


def state(engine: Engine) -> EngineState:
    snapshot = engine.state()
    snapshot.recent_replies = []  # the dedupe memory records the answer, not trading state
    return snapshot


@pytest.fixture
def desk() -> Desk:
    desk = Desk()
    desk.wallet("alice")
    desk.wallet("bob")
    desk.tick("SOL", "200")
    return desk


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"asset": "DOGE"}, "INVALID_COMMAND"),
        ({"side": "sideways"}, "INVALID_COMMAND"),
        ({"margin": 0}, "INVALID_COMMAND"),
        ({"margin": -5}, "INVALID_COMMAND"),
        ({"margin": True}, "INVALID_COMMAND"),
        ({"leverage": 0}, "INVALID_COMMAND"),
        ({"leverage": 101}, "INVALID_COMMAND"),
        ({"slippage_bps": -1}, "INVALID_COMMAND"),
        ({"slippage_bps": 10_001}, "INVALID_COMMAND"),
        ({"quote": 0}, "INVALID_COMMAND"),
        ({"user_id": "nobody"}, "WALLET_NOT_FOUND"),
        ({"margin": 500_001}, "INSUFFICIENT_BALANCE"),
        # 200 → quote 202.1: 1.04% away from the quote, beyond 100 bps
        ({"quote": 202_100_000, "slippage_bps": 100}, "SLIPPAGE_EXCEEDED"),
        ({"asset": "ETH"}, "PRICE_UNAVAILABLE"),
    ],
)
def test_rejected_trades_change_nothing(desk, changes, code):
    before = state(desk.engine)
    fields = dict(
        request_id="req-x",
        user_id="alice",
        order_id="order-x",
        asset="SOL",
        side="long",
        margin=1000,
        leverage=10,
        slippage_bps=100,
        quote=None,
        ts=desk.now + 1,
    )
    fields.update(changes)
    rejected(desk.engine.apply(CreateTrade(**fields)), code)
    assert state(desk.engine) == before


def test_slippage_exactly_at_the_limit_is_accepted(desk):
    # execution 200, quote 198.019802: |200 − q|·10⁴ = 1_980_200·10⁴ ≤ 100·q → accepted
    [reply, _] = desk.open("alice", "SOL", "long", 100, 2, slippage=100, quote=198_019_802)
    assert reply.ok
    rejected(
        desk.open("alice", "SOL", "long", 100, 2, slippage=100, quote=198_019_801),
        "SLIPPAGE_EXCEEDED",
    )


def test_stale_price_refuses_new_trades_and_republishing_an_old_quote_does_not_refresh_it():
    desk = Desk(Engine(EngineConfig(price_max_age_us=10 * SECOND)))
    desk.wallet("alice")
    desk.tick("SOL", "200")
    quote_time = desk.now
    desk.now += 10 * SECOND - 1  # open() adds 1 µs: exactly the limit, still fresh
    [reply, _] = desk.open("alice", "SOL", "long", 100, 2)
    assert reply.ok
    rejected(desk.open("alice", "SOL", "long", 100, 2), "STALE_PRICE")
    # the same old quote, appended again with its own (old) feed time
    assert desk.engine.on_price(PriceTick("SOL", units("SOL", "200"), quote_time)) == []
    rejected(desk.open("alice", "SOL", "long", 100, 2), "STALE_PRICE")


def test_out_of_order_tick_neither_replaces_the_price_nor_liquidates(desk):
    opened(desk.open("alice", "SOL", "long", 1000, 50, order_id="o1"))  # trigger 196
    late = PriceTick("SOL", units("SOL", "150"), desk.now - 5 * SECOND)
    assert desk.engine.on_price(late) == []
    assert desk.engine.quote("SOL").price == units("SOL", "200")
    assert desk.engine.position("o1") is not None


def test_close_rejections(desk):
    opened(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    rejected(desk.close("alice", "missing"), "UNKNOWN_ORDER")
    before = state(desk.engine)
    rejected(desk.close("bob", "o1"), "NOT_ORDER_OWNER")
    assert state(desk.engine) == before
    assert desk.close("alice", "o1")[0].ok
    rejected(desk.close("alice", "o1"), "ORDER_ALREADY_CLOSED")
    rejected(desk.close("bob", "o1"), "NOT_ORDER_OWNER")


def test_closing_a_liquidated_order_is_already_closed(desk):
    opened(desk.open("alice", "SOL", "long", 1000, 100, order_id="o1"))  # trigger 198
    desk.tick("SOL", "190")
    reply = rejected(desk.close("alice", "o1"), "ORDER_ALREADY_CLOSED")
    assert "liquidated" in reply.message


def test_order_ids_are_never_reused(desk):
    opened(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    rejected(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"), "DUPLICATE_ORDER")
    desk.close("alice", "o1")
    rejected(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"), "DUPLICATE_ORDER")


def test_a_redelivered_request_is_answered_again_but_applied_once(desk):
    command = CreateTrade("same", "alice", "o1", "SOL", "long", 1000, 10, 100, ts=desk.now)
    first = desk.engine.apply(command)
    again = desk.engine.apply(command)
    assert again == [first[0]]
    assert desk.engine.balance("alice") == 499_000


def test_a_redelivered_rejection_stays_rejected_after_the_cause_is_gone(desk):
    command = CreateTrade("same", "alice", "o1", "ETH", "long", 1000, 10, 100, ts=desk.now)
    rejected(desk.engine.apply(command), "PRICE_UNAVAILABLE")
    desk.tick("ETH", "3000")
    rejected(desk.engine.apply(command), "PRICE_UNAVAILABLE")
    assert desk.engine.position("o1") is None


def test_closing_needs_a_fresh_price(desk):
    opened(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    desk.now += 60 * SECOND
    rejected(desk.close("alice", "o1"), "STALE_PRICE")
    assert desk.engine.position("o1") is not None


def test_short_is_liquidated_exactly_at_its_liquidation_price():
    desk = Desk()
    desk.wallet("bob")
    desk.tick("SOL", "150")
    opened(desk.open("bob", "SOL", "short", 1000, 30, order_id="o1"))
    assert desk.tick("SOL", "154.999999") == []
    [liquidation] = desk.tick("SOL", "155")
    assert liquidation.position.order_id == "o1"
