"""Worked examples of SPEC §7 (broker execution) that must hold exactly, and its rejections.

Wallets hold 500000 cents. Prices are written in human units and converted exactly.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from exness.domain import (
    Account,
    Cancelled,
    CreateTrade,
    Engine,
    EngineConfig,
    InitializeWallet,
    Modified,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    PendingPlaced,
    PositionClosed,
    Reply,
    TradeClosed,
    TradeOpened,
)
from exness.domain.messages import GetAccount, GetPendingOrders
from exness.domain.quotes import quote_of
from tests.unit.helpers import SECOND, Desk, units


def ok(events) -> list:
    reply = events[0]
    assert isinstance(reply, Reply) and reply.ok, reply
    return events


def rejected(events, code: str, mentions: str = "") -> Reply:
    [reply] = events
    assert not reply.ok and reply.code == code, reply
    assert mentions in reply.message, reply.message
    return reply


def money(engine: Engine, user: str = "alice") -> tuple[int, Account]:
    engine.check_invariant()
    return engine.balance(user), engine.account(user)


@pytest.fixture
def desk() -> Desk:
    desk = Desk()
    desk.wallet("alice")
    desk.wallet("bob")
    return desk


# ---- the worked examples -------------------------------------------------------------


def test_a_long_opens_at_the_ask_and_is_valued_and_liquidated_at_the_bid(desk):
    desk.quote("BTC", "49990.0000", "50000.0000")
    _, opened = ok(desk.open("alice", "BTC", "long", 2000, 5, order_id="o1"))
    assert opened.position.open_price == units("BTC", "50000")
    assert opened.position.liquidation_price == units("BTC", "40000")
    assert desk.engine.account("alice").unrealized_pnl == -2  # at the bid 49990
    assert desk.quote("BTC", "40000.0001", "40010.0000") == []
    [liquidation] = desk.quote("BTC", "40000.0000", "40010.0000")
    assert liquidation.reason == "liquidation" and liquidation.pnl == -2000
    assert liquidation.close_price == units("BTC", "40000")  # the tick's bid


def test_a_stop_loss_gapped_through_fills_at_the_ticks_bid(desk):
    desk.quote("SOL", "149.990000", "150.000000")
    stop = units("SOL", "140")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1", stop_loss=stop))
    assert desk.quote("SOL", "140.000001", "140.010000") == []  # above the SL: nothing
    [closed] = desk.quote("SOL", "138.000000", "138.010000")  # liquidation is at 135
    assert (closed.reason, closed.close_price, closed.pnl) == ("sl", units("SOL", "138"), -800)
    assert desk.engine.balance("alice") == 500_000 - 1000 + 200
    desk.engine.check_invariant()


def test_a_short_take_profit_fills_at_the_ticks_ask(desk):
    desk.quote("ETH", "3000.000000", "3000.500000")
    target = units("ETH", "2900")
    _, opened = ok(desk.open("bob", "ETH", "short", 500, 20, order_id="o1", take_profit=target))
    assert opened.position.open_price == units("ETH", "3000")  # a short opens at the bid
    assert desk.quote("ETH", "2899.000000", "2900.000001") == []  # the ask decides
    [closed] = desk.quote("ETH", "2899.000000", "2899.500000")
    assert (closed.reason, closed.close_price, closed.pnl) == ("tp", units("ETH", "2899.5"), 335)
    assert desk.engine.balance("bob") == 500_000 + 335
    desk.engine.check_invariant()


def test_a_limit_order_reserves_its_margin_and_fills_at_the_ask_that_crosses_it(desk):
    desk.quote("SOL", "100.990000", "101.000000")
    _, placed = ok(
        desk.open(
            "alice", "SOL", "long", 1000, 10, order_id="o1", order_type="limit",
            trigger_price=units("SOL", "100"),
        )
    )  # fmt: skip
    assert isinstance(placed, OrderPlaced)
    balance, account = money(desk.engine)
    assert balance == 499_000 and account.reserved == 1000 and account.used_margin == 0
    assert desk.quote("SOL", "99.990000", "100.000001") == []  # the ask, not the bid
    [filled] = desk.quote("SOL", "99.890000", "99.900000")
    assert isinstance(filled, TradeOpened) and filled.filled
    assert filled.position.open_price == units("SOL", "99.9")
    assert filled.position.liquidation_price == units("SOL", "89.91")
    balance, account = money(desk.engine)
    assert balance == 499_000 and account.reserved == 0 and account.used_margin == 1000


def test_partial_closes_round_each_part_once(desk):
    desk.tick("SOL", "2.000000")
    ok(desk.open("alice", "SOL", "long", 3000, 1, order_id="o1"))
    desk.tick("SOL", "2.001000")
    _, first = ok(desk.close("alice", "o1", margin=1000))
    assert (first.margin, first.pnl, first.remaining) == (1000, 0, 2000)  # +0.5 → 0
    position = desk.engine.position("o1")
    assert position.margin == 2000 and position.open_price == units("SOL", "2")
    _, second = ok(desk.close("alice", "o1"))
    assert (second.margin, second.pnl, second.remaining) == (2000, 1, 0)
    assert desk.engine.position("o1") is None
    assert desk.engine.balance("alice") == 500_001
    desk.engine.check_invariant()


# ---- stop loss and take profit -------------------------------------------------------------


def test_liquidation_wins_over_a_stop_loss_on_the_same_tick(desk):
    desk.tick("SOL", "150")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1", stop_loss=units("SOL", "140")))
    [closed] = desk.tick("SOL", "130")  # through the SL (140) and the liquidation (135)
    assert closed.reason == "liquidation" and closed.pnl == -1000
    assert desk.engine.balance("alice") == 499_000


def test_a_short_is_liquidated_when_the_ask_reaches_it(desk):
    desk.quote("SOL", "149.900000", "150.000000")
    _, opened = ok(desk.open("bob", "SOL", "short", 1000, 10, order_id="o1"))
    assert opened.position.open_price == units("SOL", "149.9")
    trigger = opened.position.liquidation_price  # ceil(149.9 · 11 / 10)
    assert trigger == units("SOL", "164.89")
    assert desk.quote("SOL", "164.880000", "164.889999") == []
    [closed] = desk.quote("SOL", "164.800000", "164.890000")
    assert closed.reason == "liquidation"


@pytest.mark.parametrize(
    ("side", "levels", "mentions"),
    [
        # long at ask 150 (bid 149.99), 10x: liquidation 135
        ("long", {"stop_loss": "135"}, "stopLoss"),  # at the liquidation price
        ("long", {"stop_loss": "149.99"}, "stopLoss"),  # at the bid
        ("long", {"take_profit": "149.99"}, "takeProfit"),
        ("long", {"take_profit": "0"}, "takeProfit"),
        # short at bid 149.99 (ask 150), 10x: liquidation ceil(164.989) = 164.989
        ("short", {"stop_loss": "150"}, "stopLoss"),  # at the ask
        ("short", {"stop_loss": "164.989"}, "stopLoss"),  # at the liquidation price
        ("short", {"take_profit": "150"}, "takeProfit"),
    ],
)
def test_invalid_protection_is_refused_saying_why(desk, side, levels, mentions):
    desk.quote("SOL", "149.990000", "150.000000")
    before = desk.engine.state()
    extra = {name: units("SOL", value) for name, value in levels.items()}
    rejected(desk.open("alice", "SOL", side, 1000, 10, **extra), "INVALID_COMMAND", mentions)
    after = desk.engine.state()
    after.recent_replies = before.recent_replies
    assert after == before


def test_modify_sets_clears_and_keeps_each_level(desk):
    desk.tick("SOL", "150")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    _, changed = ok(desk.modify("alice", "o1", stop_loss=units("SOL", "140")))
    assert isinstance(changed, OrderModified) and changed.order.stop_loss == units("SOL", "140")
    reply, _ = ok(desk.modify("alice", "o1", take_profit=units("SOL", "160")))
    assert isinstance(reply.result, Modified)
    assert (reply.result.order.stop_loss, reply.result.order.take_profit) == (
        units("SOL", "140"),
        units("SOL", "160"),
    )
    ok(desk.modify("alice", "o1", stop_loss=None))  # cleared; the TP is kept
    position = desk.engine.position("o1")
    assert (position.stop_loss, position.take_profit) == (None, units("SOL", "160"))
    assert desk.tick("SOL", "139") == []  # the old stop loss no longer fires
    [closed] = desk.tick("SOL", "160")
    assert closed.reason == "tp"


def test_a_pending_orders_protection_is_checked_against_its_trigger(desk):
    desk.quote("SOL", "100", "101")
    ok(
        desk.open(
            "alice", "SOL", "long", 1000, 10, order_id="o1", order_type="limit",
            trigger_price=units("SOL", "99"),
        )
    )  # fmt: skip
    # 10x from 99: liquidation at 89.1, so a stop loss must lie between 89.1 and 99
    rejected(desk.modify("alice", "o1", stop_loss=units("SOL", "89")), "INVALID_COMMAND")
    rejected(desk.modify("alice", "o1", take_profit=units("SOL", "98")), "INVALID_COMMAND")
    reply, _ = ok(desk.modify("alice", "o1", stop_loss=units("SOL", "95")))
    assert reply.result.order.stop_loss == units("SOL", "95")
    assert desk.engine.pending_order("o1").stop_loss == units("SOL", "95")


def test_modify_is_checked_like_an_open(desk):
    desk.tick("SOL", "150")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    rejected(desk.modify("alice", "o1", stop_loss=units("SOL", "151")), "INVALID_COMMAND")
    rejected(desk.modify("bob", "o1", stop_loss=units("SOL", "140")), "NOT_ORDER_OWNER")
    rejected(desk.modify("alice", "nope", stop_loss=1), "UNKNOWN_ORDER")
    desk.close("alice", "o1")
    rejected(desk.modify("alice", "o1", stop_loss=1), "ORDER_ALREADY_CLOSED")


# ---- pending orders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "order_type", "trigger", "crossing", "fill"),
    [
        # quote bid 100 / ask 101; (bid, ask) of the tick that fills; the fill price
        ("long", "limit", "100.5", ("100.4", "100.5"), "100.5"),
        ("long", "stop", "102", ("102.5", "103"), "103"),
        ("short", "limit", "101.5", ("101.5", "101.6"), "101.5"),
        ("short", "stop", "99", ("98", "98.1"), "98"),
    ],
)
def test_each_kind_of_pending_order_fills_on_its_side(
    desk, side, order_type, trigger, crossing, fill
):
    desk.quote("SOL", "100", "101")
    ok(
        desk.open(
            "alice", "SOL", side, 1000, 10, order_id="o1", order_type=order_type,
            trigger_price=units("SOL", trigger),
        )
    )  # fmt: skip
    [filled] = desk.quote("SOL", *crossing)
    assert filled.position.open_price == units("SOL", fill)
    assert desk.engine.pending_order("o1") is None and desk.engine.position("o1") is not None
    desk.engine.check_invariant()


@pytest.mark.parametrize(
    ("side", "order_type", "trigger"),
    [
        ("long", "limit", "101"),  # not below the ask
        ("long", "stop", "101"),  # not above the ask
        ("short", "limit", "100"),  # not above the bid
        ("short", "stop", "100"),  # not below the bid
    ],
)
def test_a_trigger_already_crossed_is_refused(desk, side, order_type, trigger):
    desk.quote("SOL", "100", "101")
    rejected(
        desk.open(
            "alice", "SOL", side, 1000, 10, order_type=order_type,
            trigger_price=units("SOL", trigger),
        ),
        "INVALID_COMMAND",
        "triggerPrice",
    )  # fmt: skip
    assert desk.engine.balance("alice") == 500_000


def test_protection_attached_to_a_pending_order_fires_on_the_fill_tick(desk):
    desk.quote("SOL", "100", "101")
    ok(
        desk.open(
            "alice", "SOL", "long", 1000, 10, order_id="o1", order_type="limit",
            trigger_price=units("SOL", "100"), stop_loss=units("SOL", "95"),
        )
    )  # fmt: skip
    filled, closed = desk.quote("SOL", "94", "94.5")  # a gap through trigger and SL
    assert filled.filled and filled.position.open_price == units("SOL", "94.5")
    assert closed.reason == "sl" and closed.close_price == units("SOL", "94")
    desk.engine.check_invariant()


def test_cancel_returns_the_reserve_and_refuses_what_is_not_pending(desk):
    desk.quote("SOL", "100", "101")
    ok(
        desk.open(
            "alice", "SOL", "long", 1000, 10, order_id="o1", order_type="limit",
            trigger_price=units("SOL", "99"),
        )
    )  # fmt: skip
    rejected(desk.close("alice", "o1"), "ORDER_IS_PENDING", "cancel")
    rejected(desk.cancel("bob", "o1"), "NOT_ORDER_OWNER")
    reply, cancelled = ok(desk.cancel("alice", "o1"))
    assert reply.result == Cancelled(cancelled.order, 500_000)
    assert isinstance(cancelled, OrderCancelled) and desk.engine.balance("alice") == 500_000
    rejected(desk.cancel("alice", "o1"), "ORDER_ALREADY_CLOSED", "cancelled")
    rejected(desk.cancel("alice", "nope"), "UNKNOWN_ORDER")
    assert desk.quote("SOL", "98", "98.5") == []  # a cancelled order never fills
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o2"))
    rejected(desk.cancel("alice", "o2"), "ORDER_NOT_PENDING", "filled")
    desk.engine.check_invariant()


def test_pending_orders_are_listed_and_insufficient_balance_refused(desk):
    desk.quote("SOL", "100", "101")
    rejected(
        desk.open(
            "alice", "SOL", "long", 500_001, 10, order_type="stop",
            trigger_price=units("SOL", "110"),
        ),
        "INSUFFICIENT_BALANCE",
    )  # fmt: skip
    reply, _ = ok(
        desk.open(
            "alice", "SOL", "short", 400_000, 10, order_id="o1", order_type="stop",
            trigger_price=units("SOL", "90"),
        )
    )  # fmt: skip
    assert isinstance(reply.result, PendingPlaced) and reply.result.balance == 100_000
    [listed] = desk.engine.apply(GetPendingOrders("r", "alice", ts=desk.now))
    assert [order.order_id for order in listed.result.orders] == ["o1"]
    rejected(
        desk.open(
            "alice", "SOL", "long", 100_001, 10, order_type="limit",
            trigger_price=units("SOL", "90"),
        ),
        "INSUFFICIENT_BALANCE",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "mentions"),
    [
        ({"order_type": "limit"}, "triggerPrice"),
        ({"order_type": "stop", "trigger_price": 0}, "triggerPrice"),
        ({"order_type": "market", "trigger_price": 5}, "triggerPrice"),
        ({"order_type": "iceberg"}, "orderType"),
        ({"stop_loss": -1}, "stopLoss"),
        ({"take_profit": True}, "takeProfit"),
    ],
)
def test_bad_order_fields_are_refused(desk, changes, mentions):
    desk.tick("SOL", "100")
    command = CreateTrade("r", "alice", "o", "SOL", "long", 100, 2, 100, ts=desk.now)
    for name, value in changes.items():
        setattr(command, name, value)
    rejected(desk.engine.apply(command), "INVALID_COMMAND", mentions)


# ---- partial close -------------------------------------------------------------------------


@pytest.mark.parametrize("part", [0, -1, 1001, True])
def test_a_partial_close_must_be_within_the_margin(desk, part):
    desk.tick("SOL", "100")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1"))
    rejected(desk.close("alice", "o1", margin=part), "INVALID_COMMAND", "margin")
    assert desk.engine.position("o1").margin == 1000


def test_a_partly_closed_position_keeps_its_terms_and_protection(desk):
    desk.tick("SOL", "100")
    ok(desk.open("alice", "SOL", "long", 1000, 10, order_id="o1", stop_loss=units("SOL", "95")))
    reply, part = ok(desk.close("alice", "o1", margin=400))
    assert isinstance(reply.result, PositionClosed) and isinstance(part, TradeClosed)
    assert part.position.margin == 1000 and part.remaining == 600
    left = desk.engine.position("o1")
    assert (left.margin, left.liquidation_price, left.stop_loss) == (
        600,
        units("SOL", "90"),
        units("SOL", "95"),
    )
    [closed] = desk.tick("SOL", "95")
    assert (closed.reason, closed.margin, closed.pnl) == ("sl", 600, -300)
    desk.engine.check_invariant()


# ---- account, markup, deadlines, dedupe ----------------------------------------------------


def test_the_account_adds_up(desk):
    desk.quote("BTC", "49990", "50000")
    ok(desk.open("alice", "BTC", "long", 2000, 5))
    desk.quote("SOL", "100", "101")
    ok(
        desk.open(
            "alice", "SOL", "long", 1000, 10, order_type="limit",
            trigger_price=units("SOL", "99"),
        )
    )  # fmt: skip
    [reply] = desk.engine.apply(GetAccount("r", "alice", ts=desk.now))
    account = reply.result
    assert account == Account(497_000, 1000, 2000, -2, 1, 1)
    assert account.equity == 499_998
    assert account.margin_level == Decimal("24999.90")  # 499998 / 2000 × 100
    assert Account(5, 0, 0, 0, 0, 0).margin_level is None


def test_a_losing_position_counts_at_most_its_margin_against_equity(desk):
    desk.tick("SOL", "100")
    ok(desk.open("alice", "SOL", "long", 1000, 100, order_id="o1"))  # liquidated at 99
    desk.engine._quotes["SOL"] = quote_of(units("SOL", "98.5"), desk.now, None, None, 0)
    assert desk.engine.account("alice").unrealized_pnl == -1000  # −1500 capped


@pytest.mark.parametrize(
    ("mid", "bid", "ask", "bps", "expected"),
    [
        ("100", None, None, 0, ("100", "100")),
        ("100", None, None, 10, ("99.9", "100.1")),
        ("100", "99.99", "100.01", 10, ("99.89", "100.11")),
        ("0.000003", None, None, 1000, ("0.000002", "0.000004")),  # rounded: bid down, ask up
        ("0.000001", None, None, 1000, ("0.000001", "0.000002")),  # never below one unit
    ],
)
def test_the_markup_widens_both_sides_in_the_house_favour(mid, bid, ask, bps, expected):
    def u(human):
        return None if human is None else units("SOL", human)

    quote = quote_of(u(mid), 1, u(bid), u(ask), bps)
    assert (quote.bid, quote.ask, quote.price) == (*map(u, expected), u(mid))


def test_a_markup_moves_where_trades_open():
    desk = Desk(Engine(EngineConfig(spread_markup_bps=50)))
    desk.wallet("alice")
    desk.tick("SOL", "100")
    _, opened = ok(desk.open("alice", "SOL", "long", 1000, 10, slippage=100))
    assert opened.position.open_price == units("SOL", "100.5")
    assert desk.engine.account("alice").unrealized_pnl == -100  # valued at the bid, 99.5


def test_a_command_past_its_deadline_is_refused_unapplied_and_a_retry_applies(desk):
    desk.tick("SOL", "100")
    late = CreateTrade("same", "alice", "o1", "SOL", "long", 1000, 10, 100, ts=desk.now + 2)
    late.deadline = desk.now + 1
    reply = rejected(desk.engine.apply(late), "DEADLINE_EXCEEDED", "Idempotency-Key")
    assert "not applied" in reply.message and desk.engine.balance("alice") == 500_000
    retry = CreateTrade("same", "alice", "o1", "SOL", "long", 1000, 10, 100, ts=desk.now + 3)
    retry.deadline = desk.now + 10
    first = ok(desk.engine.apply(retry))
    late.ts = desk.now + 20  # the first attempt again, late: the outcome is the retry's
    assert desk.engine.apply(late) == [first[0]]
    assert desk.engine.balance("alice") == 499_000


def test_answers_are_remembered_for_the_dedupe_window_then_forgotten():
    config = EngineConfig(dedupe_count=10, dedupe_window_us=10 * SECOND, dedupe_max=3000)
    step = config.dedupe_step
    desk = Desk(Engine(config))
    for n in range(2000):
        desk.wallet(f"u{n}")  # within the window: every answer is kept
    kept = [r.reply.request_id for r in desk.engine.state().recent_replies]
    assert kept == [f"req-{n}" for n in range(1, 2001)]
    for n in range(2000, 6000):
        desk.wallet(f"u{n}")  # past the maximum: the oldest go (in steps of EVICT_STEP)
    assert config.dedupe_max <= len(desk.engine.state().recent_replies) <= 3000 + step
    desk.now += 11 * SECOND
    for n in range(6000, 6000 + 2 * step):
        desk.wallet(f"u{n}")  # the older ones are past the window: forgotten
    kept = [int(r.reply.request_id[4:]) for r in desk.engine.state().recent_replies]
    assert min(kept) > 6000 and kept[-1] == 6000 + 2 * step


def test_an_answer_to_a_request_sent_once_goes_at_its_deadline_a_retryable_one_stays():
    config = EngineConfig(dedupe_count=0, dedupe_step=1, resent_prefix="idem:")
    desk = Desk(Engine(config))
    start = desk.now

    def wallet(request_id: str, user: str, deadline: int | None) -> InitializeWallet:
        command = InitializeWallet(request_id, user, ts=desk.now)
        command.deadline = deadline
        return command

    once = wallet("req-once", "alice", start + 5 * SECOND)
    retryable = wallet("idem:alice:k", "bob", start + 5 * SECOND)
    no_deadline = wallet("req-free", "carol", None)
    answers = [desk.engine.apply(c)[0] for c in (once, retryable, no_deadline)]
    desk.now = start + 5 * SECOND  # a copy taken at its deadline is answered the same
    for command, answer in zip((once, retryable, no_deadline), answers, strict=True):
        command.ts = desk.now
        assert desk.engine.apply(command) == [answer]
        assert Engine.from_state(desk.engine.state(), config).apply(command) == [answer]
    desk.now += 1  # past the deadline: any state-changing command forgets what has gone
    desk.wallet("dave")
    restored = Engine.from_state(desk.engine.state(), config)
    for engine in (desk.engine, restored):
        kept = {r.reply.request_id for r in engine.state().recent_replies}
        assert kept == {"idem:alice:k", "req-free", "req-1"}
        once.ts = retryable.ts = desk.now
        # a copy of the once-sent request is late now: refused, not applied a second time
        rejected(engine.apply(once), "DEADLINE_EXCEEDED", "not applied")
        # a retry of the retryable one (a new deadline) is still answered, not applied again
        retryable.deadline = desk.now + 5 * SECOND
        assert engine.apply(retryable) == [answers[1]]


def test_fills_come_before_exits_and_exits_in_level_order(desk):
    desk.tick("SOL", "100")
    for n, stop in enumerate(("97", "99", "98")):
        ok(
            desk.open(
                "alice", "SOL", "long", 100, 2, order_id=f"sl{n}", stop_loss=units("SOL", stop)
            )
        )
    ok(
        desk.open(
            "bob", "SOL", "short", 100, 2, order_id="stop", order_type="stop",
            trigger_price=units("SOL", "98.5"),
        )
    )  # fmt: skip
    events = desk.tick("SOL", "96")
    assert [(type(e).__name__, e.position.order_id) for e in events] == [
        ("TradeOpened", "stop"),
        ("TradeClosed", "sl1"),  # 99
        ("TradeClosed", "sl2"),  # 98
        ("TradeClosed", "sl0"),  # 97
    ]
