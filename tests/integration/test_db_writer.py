"""DbWriter and SnapshotStore against a real PostgreSQL: exact values, convergence, bars."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from exness.adapters.db.models import PriceBar, Trade, User
from exness.adapters.db.rows import DataRejected, PriceEntry, us_to_datetime
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.db.urls import asyncpg_dsn
from exness.adapters.db.writer import DbWriter
from exness.codec.snapshot import SnapshotEntry, decode_state, encode_state
from exness.domain import Engine
from exness.domain.messages import (
    OrderModified,
    PriceTick,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.positions import Position
from exness.services.dbprocessor import is_data_error
from exness.services.reconcile import DatabaseState, Reconciliation, compare, read_database
from tests.fakes.order_lives import Lives, Plan, expected, plans
from tests.unit.helpers import Desk

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_123_456  # µs
SOL_PRICE = 201_470_000  # 201.47 with 6 decimals
RUNS = itertools.count()


@pytest.fixture
async def db(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def writer(db):
    return DbWriter(db)


def position(order_id: str, user: str = "alice", **changes) -> Position:
    fields = {
        "asset": "SOL",
        "side": "long",
        "margin": 777,
        "leverage": 10,
        "open_price": SOL_PRICE,
        "liquidation_price": 181_323_000,
        "opened_at": T0,
    }
    fields.update(changes)
    return Position(order_id=order_id, user_id=user, **fields)


async def trades(db) -> dict[str, Trade]:
    async with db.connect() as connection:
        rows = await connection.execute(select(Trade.__table__))
        return {row.order_id: row for row in rows}


async def users(db) -> dict[str, User]:
    async with db.connect() as connection:
        return {row.id: row for row in await connection.execute(select(User.__table__))}


async def test_an_opened_trade_is_exact(writer, db):
    await writer.write(
        [UserCreated("alice", "a@x.io", 500_000, T0 - 1), TradeOpened(position("o1"))]
    )
    row = (await trades(db))["o1"]
    assert row.margin == Decimal("7.77")
    assert row.open_price == Decimal("201.470000")
    assert row.liquidation_price == Decimal("181.323")
    assert (row.trade_type, row.leverage, row.liquidated) == ("LONG", 10, False)
    assert row.close_price is None and row.pnl is None and row.closed_at is None
    assert row.created_at == datetime(2023, 11, 14, 22, 13, 20, 123_456, tzinfo=UTC)
    assert row.asset_id == 1
    user = (await users(db))["alice"]
    assert (user.email, user.created_at) == (
        "a@x.io",
        datetime(2023, 11, 14, 22, 13, 20, 123_455, tzinfo=UTC),
    )


def closing_operations(order_id: str, user: str):
    opened = TradeOpened(
        position(order_id, user, asset="BTC", side="short", open_price=650_001_234)
    )
    held = position(order_id, user, asset="BTC", side="short", open_price=650_001_234)
    closed = TradeClosed(held, held.margin, 640_000_000, -1_250, "manual", T0 + 5_000_000)
    return opened, closed


EXPECTED_CLOSED = {
    "trade_type": "SHORT",
    "margin": Decimal("7.77"),
    "open_price": Decimal("65000.1234"),
    "close_price": Decimal("64000.0000"),
    "pnl": Decimal("-12.50"),
    "liquidated": False,
    "closed_at": datetime(2023, 11, 14, 22, 13, 25, 123_456, tzinfo=UTC),
}


@pytest.mark.parametrize("batched", [False, True], ids=["one per batch", "one batch"])
async def test_every_order_and_repetition_converges(writer, db, batched):
    """opened/closed/user_created in every order, with duplicates, one batch or many."""
    cases = {}
    for number, order in enumerate(itertools.permutations(range(3))):
        for repeat in (1, 2):
            order_id, user = f"o{number}-{repeat}", f"u{number}-{repeat}"
            opened, closed = closing_operations(order_id, user)
            created = UserCreated(user, f"{user}@x.io", 500_000, T0)
            operations = [(created, opened, closed)[i] for i in order] * repeat
            cases[order_id] = (user, operations)
    if batched:
        await writer.write([op for _, operations in cases.values() for op in operations])
    else:
        for _, operations in cases.values():
            for operation in operations:
                await writer.write([operation])
    rows, all_users = await trades(db), await users(db)
    assert set(rows) == set(cases)
    for order_id, (user, _) in cases.items():
        row = rows[order_id]
        assert {key: getattr(row, key) for key in EXPECTED_CLOSED} == EXPECTED_CLOSED, order_id
        assert all_users[user].email == f"{user}@x.io"


async def test_a_liquidation_is_recorded_and_never_reopened(writer, db):
    held = position("o1")
    await writer.write([TradeClosed(held, held.margin, 181_000_000, -777, "liquidation", T0 + 1)])
    await writer.write([TradeOpened(held)])
    await writer.write(
        [TradeClosed(held, held.margin, 190_000_000, -400, "manual", T0 + 2)]
    )  # a close cannot follow
    row = (await trades(db))["o1"]
    assert (row.liquidated, row.pnl, row.close_price) == (True, Decimal("-7.77"), Decimal("181"))


async def db_state(db) -> tuple[dict[str, dict], dict[str, list[tuple]]]:
    """The trades rows (order id -> the columns `expected` names) and close rows."""
    async with db.connect() as connection:
        trades = {
            row.order_id: dict(row._mapping)
            for row in await connection.execute(select(Trade.__table__))
        }
        closes: dict[str, list[tuple]] = {}
        for row in await connection.execute(
            text(
                "SELECT order_id, margin_before, margin, close_price, pnl, reason, closed_at"
                " FROM trade_closes ORDER BY order_id, margin_before DESC"
            )
        ):
            closes.setdefault(row.order_id, []).append(tuple(row)[1:])
    return trades, closes


async def assert_converged(db, operations) -> None:
    want, want_closes = expected(operations)
    trades, closes = await db_state(db)
    for order_id, columns in want.items():
        row = trades[order_id]
        assert {name: row[name] for name in columns} == columns, order_id
    assert set(trades) >= set(want)
    assert {k: v for k, v in closes.items() if k in want} == want_closes


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), life_plans=st.lists(plans(), min_size=3, max_size=3))
async def test_random_interleavings_converge(writer, db, data, life_plans):
    """Three orders lived through the engine (market, limit or stop; modified, filled or
    cancelled, partly closed, ended by hand, SL, TP or liquidation), their operations shuffled,
    repeated and cut into random batches: the rows are what the lives ended with, and
    reconcile agrees with the engine."""
    run = f"run{next(RUNS)}"  # every example (and replay) writes orders of its own
    lives = Lives()
    lives.wallet(f"{run}-user")
    for plan, asset in zip(life_plans, ("SOL", "ETH", "BTC"), strict=True):
        lives.live(f"{run}-user", f"{run}-{asset}", asset, plan)
    repeated = data.draw(st.lists(st.sampled_from(lives.operations), max_size=6))
    operations = data.draw(st.permutations(lives.operations + repeated))
    cuts = sorted(data.draw(st.sets(st.integers(0, len(operations)), max_size=4)))
    for start, stop in itertools.pairwise([0, *cuts, len(operations)]):
        await writer.write(operations[start:stop])
    await assert_converged(db, lives.operations)
    async with db.connect() as connection:
        state = await read_database(connection)
    mine = DatabaseState(
        {k: v for k, v in state.trades.items() if k.startswith(f"{run}-")},
        {k: v for k, v in state.closes.items() if k.startswith(f"{run}-")},
        state.users,
    )
    report = Reconciliation()
    compare(lives.desk.engine, mine, report)
    assert report.ok, report.summary()


def a_day_of_orders() -> Lives:
    """One of every kind of operation, the closes partial and whole."""
    lives = Lives()
    lives.wallet("alice")
    # a limit long, modified while it waits, filled, partly closed, modified, stopped out
    lives.live(
        "alice",
        "limit",
        "ETH",
        Plan("long", "limit", 5, 10_000, 2, "fill", (("close", 2_500), ("modify", 3)), "sl"),
    )
    # a stop short cancelled before it filled
    lives.live("alice", "stop", "BTC", Plan("short", "stop", 10, 4_000, 1, "cancel"))
    # a market long closed twice by hand, then liquidated
    lives.live(
        "alice",
        "market",
        "SOL",
        Plan(
            "long", "market", 50, 3_000, steps=(("close", 1_000), ("close", 500)), end="liquidation"
        ),
    )
    return lives


async def test_every_operation_is_written_exactly(writer, db):
    lives = a_day_of_orders()
    kinds = {type(operation).__name__ for operation in lives.operations}
    assert kinds == {
        "UserCreated", "OrderPlaced", "OrderModified", "OrderCancelled", "TradeOpened",
        "TradeClosed",
    }  # fmt: skip
    await writer.write(lives.operations)
    trades, closes = await db_state(db)
    limit, stop, market = trades["limit"], trades["stop"], trades["market"]
    assert (limit["status"], limit["order_type"], limit["trigger_price"]) == (
        "closed",
        "limit",
        Decimal("1900.000000"),
    )
    assert (limit["margin"], limit["open_margin"]) == (Decimal("100.00"), Decimal("0.00"))
    assert limit["open_price"] == Decimal("1900.000000")  # filled at the tick's ask
    assert limit["close_reason"] == "sl" and not limit["liquidated"]
    assert limit["opened_at"] > limit["created_at"]  # filled after it was placed
    assert [c[4] for c in closes["limit"]] == ["manual", "sl"]
    assert limit["pnl"] == closes["limit"][0][3] + closes["limit"][1][3]
    assert (stop["status"], stop["open_margin"], stop["pnl"]) == ("cancelled", 0, None)
    assert stop["open_price"] is None and stop["closed_at"] is not None
    assert "stop" not in closes
    assert (market["status"], market["close_reason"], market["liquidated"]) == (
        "closed",
        "liquidation",
        True,
    )
    assert [c[:2] for c in closes["market"]] == [
        (Decimal("30.00"), Decimal("10.00")),
        (Decimal("20.00"), Decimal("5.00")),
        (Decimal("15.00"), Decimal("15.00")),  # the rest, lost
    ]
    assert closes["market"][2][3] == Decimal("-15.00")
    assert market["pnl"] == sum(c[3] for c in closes["market"])
    # the liquidation's price is the tick's bid (a long), not the liquidation price
    assert market["close_price"] == closes["market"][2][2] < market["liquidation_price"]
    await assert_converged(db, lives.operations)


async def test_a_close_before_its_open_and_a_fill_before_its_placement(writer, db):
    lives = a_day_of_orders()
    for operation in reversed(lives.operations):  # everything backwards, one at a time
        await writer.write([operation])
    await assert_converged(db, lives.operations)
    await writer.write(lives.operations)  # and everything again
    await assert_converged(db, lives.operations)


async def test_a_partial_close_keeps_the_trade_open_until_the_last_part(writer, db):
    held = position("o1", margin=1_000)
    first = TradeClosed(held, 300, SOL_PRICE + 1_000_000, 15, "manual", T0 + 1)
    second = TradeClosed(held.with_margin(700), 200, SOL_PRICE + 2_000_000, 20, "tp", T0 + 2)
    last = TradeClosed(held.with_margin(500), 500, 150_000_000, -500, "liquidation", T0 + 3)
    await writer.write([second, TradeOpened(held)])
    row = (await trades(db))["o1"]
    assert (row.status, row.open_margin, row.pnl, row.close_reason) == (
        "open",
        Decimal("5.00"),
        Decimal("0.20"),
        "tp",
    )
    assert row.margin == Decimal("10.00") and row.closed_at is None
    await writer.write([first, second])  # an older close arrives late: not the last one
    row = (await trades(db))["o1"]
    assert (row.pnl, row.close_reason, row.close_price) == (
        Decimal("0.35"),
        "tp",
        Decimal("203.470000"),
    )
    await writer.write([last, first])
    row = (await trades(db))["o1"]
    assert (row.status, row.open_margin, row.pnl, row.close_reason, row.liquidated) == (
        "closed",
        Decimal("0.00"),
        Decimal("-4.65"),
        "liquidation",
        True,
    )
    assert row.closed_at == us_to_datetime(T0 + 3)


async def test_levels_follow_the_last_modification_whatever_arrives_after(writer, db):
    held = position("o1", margin=1_000, stop_loss=190_000_000)
    moved = OrderModified(held.with_protection(195_000_000, 230_000_000), T0 + 10)
    again = OrderModified(held.with_protection(196_000_000, None), T0 + 20)
    closed = TradeClosed(
        held.with_protection(196_000_000, None), 400, SOL_PRICE, 0, "manual", T0 + 30
    )
    after = OrderModified(held.with_margin(600).with_protection(None, 240_000_000), T0 + 40)
    await writer.write([after, again, closed, moved, TradeOpened(held)])
    row = (await trades(db))["o1"]
    assert (row.stop_loss, row.take_profit) == (None, Decimal("240.000000"))
    await writer.write([closed, moved, TradeOpened(held)])  # stale ones, redelivered
    row = (await trades(db))["o1"]
    assert (row.stop_loss, row.take_profit, row.status) == (None, Decimal("240.000000"), "open")
    # a modification that arrives after the final close changes nothing it should not
    final = TradeClosed(
        held.with_margin(600).with_protection(None, 240_000_000),
        600,
        SOL_PRICE,
        0,
        "manual",
        T0 + 50,
    )
    await writer.write([final, OrderModified(held.with_protection(197_000_000, None), T0 + 15)])
    row = (await trades(db))["o1"]
    assert (row.status, row.stop_loss, row.take_profit) == ("closed", None, Decimal("240.000000"))


async def test_writers_racing_on_the_same_closes_count_each_once(db):
    """Two DB processors (one claimed the other's entries) write the same batch at once."""
    lives = a_day_of_orders()
    writers = [DbWriter(db) for _ in range(4)]
    await asyncio.gather(*(w.write(lives.operations) for w in writers))
    await assert_converged(db, lives.operations)


async def test_the_servers_user_row_is_kept(writer, db):
    async with db.begin() as connection:
        await connection.execute(
            text("INSERT INTO users (id, email, created_at) VALUES ('bob', 'bob@x.io', :at)"),
            {"at": datetime(2023, 1, 1, tzinfo=UTC)},
        )
    await writer.write(
        [UserCreated("bob", None, 500_000, T0), UserCreated("bob", "other@x.io", 500_000, T0)]
    )
    bob = (await users(db))["bob"]
    assert (bob.email, bob.created_at) == ("bob@x.io", datetime(2023, 1, 1, tzinfo=UTC))


async def test_a_trade_before_its_user_gets_a_bare_user_completed_later(writer, db):
    await writer.write([TradeOpened(position("o1", "carol"))])
    assert (await users(db))["carol"].email is None
    await writer.write([UserCreated("carol", "carol@x.io", 500_000, T0 - 10)])
    carol = (await users(db))["carol"]
    assert carol.email == "carol@x.io"
    assert carol.created_at == datetime(2023, 11, 14, 22, 13, 20, 123_446, tzinfo=UTC)


async def test_a_bad_operation_rolls_back_its_whole_batch(writer, db):
    with pytest.raises(DataRejected, match="unknown asset"):
        await writer.write([TradeOpened(position("o1")), TradeOpened(position("o2", asset="DOGE"))])
    assert await trades(db) == {}


async def test_numbers_keep_every_digit_up_to_the_columns_limits(writer, db):
    # NUMERIC(20,2) and NUMERIC(30,10) at their widest; SOL prices have 6 decimals
    held = position("o1", margin=10**20 - 1, open_price=10**26 - 1, liquidation_price=1)
    await writer.write(
        [TradeClosed(held, held.margin, 10**25 + 3, -(10**20 - 1), "manual", T0 + 1)]
    )
    row = (await trades(db))["o1"]
    assert row.margin == Decimal("999999999999999999.99")
    assert row.open_price == Decimal("99999999999999999999.999999")
    assert row.liquidation_price == Decimal("0.000001")
    assert row.close_price == Decimal("10000000000000000000.000003")
    assert row.pnl == Decimal("-999999999999999999.99")


async def test_a_number_too_wide_for_its_column_is_rejected_not_retried(writer, db):
    with pytest.raises(DataRejected, match="numeric field overflow"):
        await writer.write([TradeOpened(position("o1", margin=10**20))])
    assert await trades(db) == {}


async def test_a_kept_connection_that_died_is_replaced(db, database_url):
    writer = DbWriter(db, keep_connection=True)
    await writer.write([UserCreated("ivy", None, 500_000, T0)])
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:  # what a PostgreSQL restart does to the kept connection
        others = "datname = current_database() AND pid <> pg_backend_pid()"
        await admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}"
        )
        while await admin.fetchval(f"SELECT count(*) FROM pg_stat_activity WHERE {others}"):
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    with pytest.raises(Exception) as failed:
        await writer.write([TradeOpened(position("o1", "ivy"))])
    assert not is_data_error(failed.value)  # an outage: the DB processor retries the batch
    await writer.write([TradeOpened(position("o1", "ivy"))])  # on a new connection
    await writer.release()
    assert set(await trades(db)) == {"o1"}


# ---- price bars ------------------------------------------------------------------------------

MINUTE = 60_000_000
M0 = T0 - T0 % MINUTE  # a minute's start


def tick(price: int, ts: int, asset: str = "SOL") -> PriceTick:
    return PriceTick(asset, price, ts)


async def bars(db) -> dict[tuple[int, datetime], PriceBar]:
    async with db.connect() as connection:
        rows = await connection.execute(select(PriceBar.__table__))
        return {(row.asset_id, row.bucket): row for row in rows}


def ohlc(bar) -> tuple:
    return (bar.open, bar.high, bar.low, bar.close, bar.ticks)


async def test_ticks_become_minute_bars_and_a_redelivery_counts_once(writer, db):
    entries = [
        PriceEntry("1000-0", [tick(201_000_000, M0 + 5), tick(205_000_000, M0 + 10)]),
        PriceEntry("1000-1", [tick(199_500_000, M0 + 20), tick(650_000_000, M0 + 30, "BTC")]),
        PriceEntry("1001-0", [tick(202_000_000, M0 + 40), tick(203_000_000, M0 + MINUTE)]),
    ]
    await writer.write([], entries)
    await writer.write([], entries)  # redelivered: nothing changes
    await writer.write([], entries[1:2])
    found = await bars(db)
    minute = datetime.fromtimestamp(M0 // 1_000_000, UTC)
    next_minute = datetime.fromtimestamp(M0 // 1_000_000 + 60, UTC)
    sol = found[(1, minute)]
    assert ohlc(sol) == (Decimal("201"), Decimal("205"), Decimal("199.5"), Decimal("202"), 4)
    assert (sol.first_ts, sol.last_ts, sol.last_entry_ms, sol.last_entry_seq) == (
        M0 + 5,
        M0 + 40,
        1001,
        0,
    )
    assert ohlc(found[(1, next_minute)]) == (Decimal("203"),) * 4 + (1,)
    assert ohlc(found[(3, minute)]) == (Decimal("65000"),) * 4 + (1,)

    # A newer entry with ticks from earlier in the minute moves the open, not the close.
    await writer.write([], [PriceEntry("1002-0", [tick(190_000_000, M0 + 1)])])
    sol = (await bars(db))[(1, minute)]
    assert ohlc(sol) == (Decimal("190"), Decimal("205"), Decimal("190"), Decimal("202"), 5)


async def test_a_batch_with_a_redelivered_entry_merges_only_what_is_new(writer, db):
    redelivered = PriceEntry("1000-0", [tick(201_000_000, M0 + 5), tick(650_000_000, M0, "BTC")])
    await writer.write([], [redelivered])
    new = PriceEntry("1001-0", [tick(205_000_000, M0 + 10), tick(199_000_000, M0 + MINUTE)])
    await writer.write([TradeOpened(position("o1"))], [redelivered, new])
    found = await bars(db)
    minute = datetime.fromtimestamp(M0 // 1_000_000, UTC)
    next_minute = datetime.fromtimestamp(M0 // 1_000_000 + 60, UTC)
    assert ohlc(found[(1, minute)]) == (Decimal(201), Decimal(205), Decimal(201), Decimal(205), 2)
    assert (found[(1, minute)].last_entry_ms, found[(1, minute)].last_entry_seq) == (1001, 0)
    assert ohlc(found[(3, minute)]) == (Decimal(65000),) * 4 + (1,)  # only the redelivered one
    assert ohlc(found[(1, next_minute)]) == (Decimal(199),) * 4 + (1,)
    assert set(await trades(db)) == {"o1"}


async def test_old_bars_are_dropped(writer, db):
    await writer.write(
        [],
        [
            PriceEntry("1-0", [tick(SOL_PRICE, M0)]),
            PriceEntry("2-0", [tick(SOL_PRICE, 60_000_000)]),
        ],
    )
    assert await writer.delete_bars_before(datetime(2000, 1, 1, tzinfo=UTC)) == 1
    assert len(await bars(db)) == 1


# ---- snapshots -------------------------------------------------------------------------------


def busy_engine() -> Engine:
    """Wallets, open and closed positions, a liquidation, quotes and recent replies."""
    desk = Desk()
    for user in ("alice", "bob", "carol"):
        desk.wallet(user)
    desk.tick("SOL", "201.47")
    desk.tick("BTC", "65000.1234")
    desk.open("alice", "SOL", "long", 10_000, 10, order_id="a1")
    desk.open("bob", "SOL", "short", 777, 100, order_id="b1")
    desk.open("carol", "BTC", "long", 5_000, 50, order_id="c1")
    desk.close("alice", "a1")
    desk.open("alice", "SOL", "short", 2_000, 2, order_id="a2")
    assert any(getattr(e, "liquidated", False) for e in desk.tick("SOL", "204"))  # bob's short
    assert any(getattr(e, "liquidated", False) for e in desk.tick("BTC", "60000"))  # carol's long
    desk.engine.check_invariant()
    return desk.engine


async def test_latest_snapshot_round_trips_the_engine_exactly(db):
    engine = busy_engine()
    state = encode_state(engine.state())
    assert state["open_orders"] and state["closed_orders"] and state["recent_replies"]
    store = SnapshotStore(db, keep=3)
    assert await store.latest() is None
    assert await store.oldest_kept_journal_id() is None
    await store.save([SnapshotEntry("9-5", T0, encode_state(Engine().state()))])
    await store.save([SnapshotEntry("10-0", T0 + 1, state)])
    latest = await store.latest()
    assert latest == SnapshotEntry("10-0", T0 + 1, state)
    assert list(latest.state) == list(state)
    assert Engine.from_state(decode_state(latest.state)).state() == engine.state()


async def test_snapshots_are_pruned_to_the_newest_and_saved_once(db):
    store = SnapshotStore(db, keep=2)
    empty = encode_state(Engine().state())
    for journal_id in ("9-0", "10-0", "9-1"):
        await store.save([SnapshotEntry(journal_id, T0, empty)])
    await store.save([SnapshotEntry("10-0", T0, empty), SnapshotEntry("11-0", T0, empty)])
    async with db.connect() as connection:
        kept = (
            await connection.execute(text("SELECT journal_id FROM snapshots ORDER BY id"))
        ).scalars()
        assert sorted(kept) == ["10-0", "11-0"]
    assert await store.oldest_kept_journal_id() == "10-0"
    assert (await store.latest()).journal_id == "11-0"
