"""`exness reconcile` against a real PostgreSQL (and Redis, end to end): it agrees when the
DB processor wrote what the engine did, and names each kind of divergence, to the cent."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.db.writer import DbWriter
from exness.codec.commands import encode_command, queue_of
from exness.codec.prices import encode_price_updates
from exness.domain import EngineConfig
from exness.domain.messages import (
    CancelOrder,
    CloseTrade,
    Command,
    CreateTrade,
    InitializeWallet,
    ModifyTrade,
    PriceTick,
)
from exness.services.dbprocessor import DbProcessor
from exness.services.engine import EngineService
from exness.services.reconcile import Reconciliation, compare, read_database, reconcile
from exness.settings import get_settings
from tests.fakes.order_lives import Lives, Plan

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def book() -> Lives:
    """Open positions (one partly closed, its stop loss moved), a pending order, closes by
    hand, a cancellation, a liquidation, a take profit: every kind of row reconcile checks."""
    lives = Lives()
    for user in ("alice", "bob"):
        lives.wallet(user)
    steps = (("close", 2_500), ("modify", 2))
    lives.live("alice", "eth-open", "ETH", Plan("long", "limit", 5, 10_000, 1, "fill", steps))
    lives.live("bob", "btc-pending", "BTC", Plan("short", "stop", 10, 4_000, 1, "wait"))
    closes = (("close", 1_000), ("close", 500))
    closed = Plan("long", "market", 10, 3_000, 0, steps=closes, end="manual")
    lives.live("alice", "sol-closed", "SOL", closed)
    lives.live("bob", "sol-cancelled", "SOL", Plan("short", "limit", 2, 700, 0, "cancel"))
    lives.live("bob", "sol-liquidated", "SOL", Plan("short", "market", 50, 900, end="liquidation"))
    lives.live(
        "alice", "sol-tp", "SOL", Plan("short", "stop", 20, 2_000, 0, steps=closes, end="tp")
    )
    lives.desk.engine.check_invariant()
    return lives


async def reconciled(db, lives: Lives) -> Reconciliation:
    async with db.connect() as connection:
        state = await read_database(connection)
    report = Reconciliation()
    compare(lives.desk.engine, state, report)
    return report


async def test_the_database_written_by_the_dbprocessor_agrees(db):
    lives = book()
    await DbWriter(db).write(lives.operations)
    report = await reconciled(db, lives)
    assert report.ok, report.summary()
    assert (report.open_positions, report.pending_orders, report.closed_orders) == (1, 1, 4)
    assert (report.rows, report.closes) == (6, 1 + 3 + 1 + 3)


async def test_an_operation_not_written_yet_is_reported(db):
    lives = book()
    closes = [i for i, op in enumerate(lives.operations) if type(op).__name__ == "TradeClosed"]
    await DbWriter(db).write([op for i, op in enumerate(lives.operations) if i != closes[1]])
    report = await reconciled(db, lives)
    assert not report.ok
    assert any("a close row is missing" in problem for problem in report.problems), report.problems


DIVERGENCES = {
    "a close's pnl a cent off": (
        "UPDATE trade_closes SET pnl = pnl + 0.01 WHERE order_id = 'sol-closed'"
        " AND margin_before = 30.00",
        ["realized PnL of the closes: engine", "sol-closed: pnl is"],
    ),
    "a partial close missing": (
        "DELETE FROM trade_closes WHERE order_id = 'eth-open'",
        ["eth-open: 75.00 USD still open in the row, but its closes leave 100.00 USD"],
    ),
    "a stop loss not moved": (
        "UPDATE trades SET stop_loss = stop_loss - 1 WHERE order_id = 'eth-open'",
        ["eth-open: stop_loss is"],
    ),
    "an open margin a cent off": (
        "UPDATE trades SET open_margin = open_margin - 0.01 WHERE order_id = 'eth-open'",
        ["eth-open: open_margin is 75.00 in the engine, 74.99", "margin in open positions"],
    ),
    "a pending order missing": (
        "DELETE FROM trades WHERE order_id = 'btc-pending'",
        ["btc-pending: known to the engine, missing", "margin reserved by pending orders"],
    ),
    "a trigger moved": (
        "UPDATE trades SET trigger_price = trigger_price + 1 WHERE order_id = 'btc-pending'",
        ["btc-pending: trigger_price is"],
    ),
    "a cancellation not written": (
        "UPDATE trades SET closed_at = NULL, open_margin = margin WHERE order_id = 'sol-cancelled'",
        ["sol-cancelled: cancelled in the engine, pending in the database"],
    ),
    "a liquidation recorded as a take profit": (
        "UPDATE trade_closes SET reason = 'tp' WHERE order_id = 'sol-liquidated'",
        ["margin lost to liquidation: engine", "sol-liquidated: liquidated is True in the row"],
    ),
    "the last close's reason": (
        "UPDATE trades SET close_reason = 'tp' WHERE order_id = 'sol-closed'",
        ["sol-closed: close_reason is tp in the row, manual by its closes"],
    ),
    "a row the engine never saw": (
        "INSERT INTO trades (order_id, user_id, asset_id, trade_type, order_type, margin,"
        " open_margin, leverage, created_at) VALUES ('ghost', 'bob', 1, 'LONG', 'limit', 1, 1,"
        " 1, now())",
        ["ghost: in the database, unknown to the engine"],
    ),
}


@pytest.mark.parametrize("case", list(DIVERGENCES), ids=list(DIVERGENCES))
async def test_each_divergence_is_named(db, case):
    lives = book()
    await DbWriter(db).write(lives.operations)
    statement, expected = DIVERGENCES[case]
    async with db.begin() as connection:
        await connection.execute(text(statement))
    report = await reconciled(db, lives)
    assert not report.ok
    for words in expected:
        assert any(words in problem for problem in report.problems), (words, report.problems)


# ---- end to end: the engine service, the DB processor, `exness reconcile` ------------------


async def test_reconcile_replays_the_journal_and_compares_to_the_cent(
    redis_client, redis_url, database_url, db
):
    snapshots = SnapshotStore(db, keep=3)
    engine = EngineService(redis_client, snapshots, EngineConfig(price_max_age_us=3600 * 10**6))
    await engine.recover()

    async def price(units: int) -> None:
        tick = PriceTick("SOL", units, time.time_ns() // 1000)
        await redis_client.xadd(keys.PRICE_STREAM, {"data": encode_price_updates([tick])})
        await engine.step()

    async def send(*commands: Command) -> None:
        for command in commands:
            await redis_client.lpush(queue_of(command), encode_command(command, "replies:test"))
        await engine.step()

    await price(100_000_000)
    await send(InitializeWallet("w", "alice", "alice@x.io"))
    market = CreateTrade("c1", "alice", "m", "SOL", "long", 10_000, 10, 100, stop_loss=95_000_000)
    limit = CreateTrade(
        "c2", "alice", "l", "SOL", "short", 5_000, 5, 100, order_type="limit",
        trigger_price=101_000_000, take_profit=90_000_000,
    )  # fmt: skip
    cancelled = CreateTrade(
        "c3", "alice", "x", "SOL", "long", 700, 2, 100, order_type="stop", trigger_price=120_000_000
    )
    await send(market, limit, cancelled)
    moved = ModifyTrade("c5", "alice", "m", 96_000_000, change_stop_loss=True)
    await send(CloseTrade("c4", "alice", "m", 2_500), moved)
    await send(CancelOrder("c6", "alice", "x"))
    await price(101_500_000)  # fills the limit short
    await send(CloseTrade("c7", "alice", "l", 1_000))

    processor = DbProcessor(redis_client, db, snapshots, consumer="test", block_ms=10)
    while await processor.run_once():
        pass
    await processor.close()
    settings = get_settings(redis_url=redis_url, database_url=database_url)
    report = await reconcile(settings, settings.stores())
    assert report.ok, report.summary()
    assert (report.open_positions, report.pending_orders, report.closed_orders) == (2, 0, 1)
    assert report.closes == 2
    assert "the database agrees with the engine" in report.summary()

    async with db.begin() as connection:
        await connection.execute(text("UPDATE trade_closes SET pnl = pnl - 0.01"))
    report = await reconcile(settings, settings.stores())
    assert not report.ok
    assert "DIVERGENCE" in report.summary()
    assert any("realized PnL of the closes" in problem for problem in report.problems)
