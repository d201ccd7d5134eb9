"""`exness reconcile`: does the main database agree with the engine? (read-only)

The engine's state is rebuilt the way the engine itself recovers it (newest snapshot plus
the journal after it), without writing anything, and compared with the `trades`,
`trade_closes` and `users` tables, to the cent:

- every position open in the engine is an `open` row with the same terms, the same margin
  still open, stop loss and take profit; every pending order a `pending` row with the same
  terms, trigger, margin and levels; every order the engine finished a `closed` row with
  the same outcome (liquidated or not) or a `cancelled` one; no row is unknown to the
  engine, no order of the engine missing from the rows, no wallet missing from `users`;
- each row agrees with its close rows: they chain (the first close starts from the margin
  opened, each next one from what the previous left), the margin still open is what the
  closes left, its realized `pnl` is their sum, its close price and reason those of the last
  one, and it is liquidated exactly when a close was a liquidation;
- summed, the close rows equal the engine's ledger: realized PnL of the closes that were not
  liquidations, and margins lost to liquidation; the open and reserved margins of the rows
  equal the engine's; and the SPEC §7 invariant holds with the database's figures (wallets
  + open margins + reserved margins = deposits + realized PnL − margins lost).

Run it when the platform is quiet: a trade made while it runs shows up as a passing difference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.redis import connect
from exness.domain import Engine
from exness.domain.assets import ASSETS
from exness.domain.money import USD_DECIMALS, to_decimal
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.services.engine import EngineService, engine_config
from exness.settings import Settings, StoreUrls

__all__ = ["DatabaseState", "Reconciliation", "compare", "read_database", "reconcile"]

_MAX_LISTED = 20
ZERO = Decimal(0)

Row = dict[str, Any]


@dataclass
class Reconciliation:
    journal_id: str = "0-0"
    open_positions: int = 0
    pending_orders: int = 0
    closed_orders: int = 0
    rows: int = 0
    closes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < _MAX_LISTED:
            self.problems.append(problem)
        elif len(self.problems) == _MAX_LISTED:
            self.problems.append("… more differences not listed")

    def summary(self) -> str:
        head = (
            f"engine at journal {self.journal_id}: {self.open_positions} open, "
            f"{self.pending_orders} pending, {self.closed_orders} finished; "
            f"database: {self.rows} trades, {self.closes} closes"
        )
        if self.ok:
            return f"{head}\nthe database agrees with the engine"
        return head + "\nDIVERGENCE:\n  " + "\n  ".join(self.problems)


@dataclass
class DatabaseState:
    """What reconcile reads: every trade row, its close rows (oldest first), every user id."""

    trades: dict[str, Row]
    closes: dict[str, list[Row]]
    users: set[str]

    @classmethod
    def of(
        cls, trades: Iterable[Row], closes: Iterable[Row], users: Iterable[str]
    ) -> DatabaseState:
        by_order: dict[str, list[Row]] = {}
        for close in sorted(closes, key=lambda row: row["margin_before"], reverse=True):
            by_order.setdefault(close["order_id"], []).append(close)
        return cls({row["order_id"]: row for row in trades}, by_order, set(users))


_TRADES = """
SELECT t.order_id, t.user_id, a.symbol AS asset, t.trade_type, t.order_type, t.trigger_price,
       t.margin, t.open_margin, t.leverage, t.open_price, t.liquidation_price, t.stop_loss,
       t.take_profit, t.close_price, t.close_reason, t.last_close_margin, t.pnl, t.liquidated,
       t.status
FROM trades t JOIN assets a ON a.id = t.asset_id
"""
_CLOSES = "SELECT order_id, margin_before, margin, close_price, pnl, reason FROM trade_closes"


async def read_database(connection: AsyncConnection) -> DatabaseState:
    """Every row reconcile compares, read in one transaction (one snapshot of the data)."""
    trades = [dict(row._mapping) for row in await connection.execute(text(_TRADES))]
    closes = [dict(row._mapping) for row in await connection.execute(text(_CLOSES))]
    users = [row.id for row in await connection.execute(text("SELECT id FROM users"))]
    return DatabaseState.of(trades, closes, users)


def _usd(cents: int) -> Decimal:
    return to_decimal(cents, USD_DECIMALS)


def _price(asset: str, units: int | None) -> Decimal | None:
    return None if units is None else to_decimal(units, ASSETS[asset].decimals)


def _position_terms(position: Position) -> dict[str, Any]:
    asset = position.asset
    return {
        "user_id": position.user_id,
        "asset": asset,
        "trade_type": position.side.upper(),
        "open_margin": _usd(position.margin),
        "leverage": position.leverage,
        "open_price": _price(asset, position.open_price),
        "liquidation_price": _price(asset, position.liquidation_price),
        "stop_loss": _price(asset, position.stop_loss),
        "take_profit": _price(asset, position.take_profit),
    }


def _pending_terms(order: PendingOrder) -> dict[str, Any]:
    asset = order.asset
    return {
        "user_id": order.user_id,
        "asset": asset,
        "trade_type": order.side.upper(),
        "order_type": order.order_type,
        "trigger_price": _price(asset, order.trigger_price),
        "margin": _usd(order.margin),
        "open_margin": _usd(order.margin),
        "leverage": order.leverage,
        "stop_loss": _price(asset, order.stop_loss),
        "take_profit": _price(asset, order.take_profit),
    }


def _differences(order_id: str, engine: dict[str, Any], row: Row, report: Reconciliation) -> None:
    for name, value in engine.items():
        if row[name] != value:
            report.add(f"{order_id}: {name} is {value} in the engine, {row[name]} in the database")


def _check_closes(order_id: str, row: Row, closes: list[Row], report: Reconciliation) -> None:
    """The row against its close rows (oldest first): they chain from the margin opened, and
    the row's margin still open, realized pnl, last close and liquidation follow from them."""
    expected_before = row["margin"]
    for close in closes:
        if close["margin_before"] != expected_before:
            report.add(
                f"{order_id}: a close starts from {close['margin_before']} USD open, but "
                f"{expected_before} USD was open then (a close row is missing or wrong)"
            )
        expected_before = close["margin_before"] - close["margin"]
    if row["open_margin"] != (ZERO if row["status"] == "cancelled" else expected_before):
        report.add(
            f"{order_id}: {row['open_margin']} USD still open in the row, but its closes leave "
            f"{expected_before} USD"
        )
    last = closes[-1] if closes else None
    realized = sum((close["pnl"] for close in closes), ZERO) if closes else None
    derived = {
        "pnl": realized,
        "close_price": None if last is None else last["close_price"],
        "close_reason": None if last is None else last["reason"],
        "last_close_margin": None if last is None else last["margin_before"],
        "liquidated": any(close["reason"] == "liquidation" for close in closes),
    }
    for name, value in derived.items():
        if row[name] != value:
            report.add(f"{order_id}: {name} is {row[name]} in the row, {value} by its closes")


def compare(engine: Engine, db: DatabaseState, report: Reconciliation) -> None:
    """Everything the engine knows against every trade row, close row and user."""
    opened = {position.order_id: position for position in engine.positions()}
    pending = {order.order_id: order for order in engine.pending_orders()}
    finished = engine.closed_orders()
    report.open_positions, report.pending_orders = len(opened), len(pending)
    report.closed_orders, report.rows = len(finished), len(db.trades)
    report.closes = sum(len(closes) for closes in db.closes.values())
    realized = lost = used = reserved = ZERO
    for order_id, row in db.trades.items():
        closes = db.closes.get(order_id, [])
        status = row["status"]
        if order_id in opened:
            if status != "open":
                report.add(f"{order_id}: open in the engine, {status} in the database")
            _differences(order_id, _position_terms(opened[order_id]), row, report)
        elif order_id in pending:
            if status != "pending":
                report.add(f"{order_id}: pending in the engine, {status} in the database")
            _differences(order_id, _pending_terms(pending[order_id]), row, report)
        elif order_id in finished:
            owner, outcome = finished[order_id].owner, finished[order_id].outcome
            expected = "cancelled" if outcome == "cancelled" else "closed"
            if status != expected:
                report.add(f"{order_id}: {outcome} in the engine, {status} in the database")
            elif bool(row["liquidated"]) != (outcome == "liquidated"):
                report.add(
                    f"{order_id}: {outcome} in the engine, liquidated={row['liquidated']} in "
                    "the database"
                )
            if row["user_id"] != owner:
                report.add(
                    f"{order_id}: owner {owner} in the engine, {row['user_id']} in the database"
                )
        else:
            report.add(f"{order_id}: in the database, unknown to the engine")
        if row["order_type"] is None:
            report.add(f"{order_id}: its placement or market open was never written")
        _check_closes(order_id, row, closes, report)
        if status == "open":
            used += row["open_margin"]
        elif status == "pending":
            reserved += row["open_margin"]
        for close in closes:
            if close["reason"] == "liquidation":
                lost += close["margin"]
            else:
                realized += close["pnl"]
    for order_id in db.closes.keys() - db.trades.keys():  # (the foreign key forbids it)
        report.add(f"{order_id}: close rows without a trade row")
    for order_id in (opened.keys() | pending.keys() | finished.keys()) - db.trades.keys():
        report.add(f"{order_id}: known to the engine, missing from the database")
    for user_id in engine.balances().keys() - db.users:
        report.add(f"user {user_id}: has a wallet, missing from the database")

    ledger = engine.ledger
    totals = (
        ("realized PnL of the closes", realized, ledger.realized_pnl),
        ("margin lost to liquidation", lost, ledger.liquidated_margin),
        ("margin in open positions", used, sum(p.margin for p in opened.values())),
        ("margin reserved by pending orders", reserved, sum(o.margin for o in pending.values())),
    )
    for name, database, cents in totals:
        if database != _usd(cents):
            report.add(f"{name}: engine {_usd(cents)} USD, database {database} USD")
    wallets = _usd(sum(engine.balances().values()))
    held, owed = wallets + used + reserved, _usd(ledger.deposits) + realized - lost
    if held != owed:
        report.add(
            f"with the database's figures, wallets + open + reserved margins = {held} USD, but "
            f"deposits + realized PnL − liquidated margins = {owed} USD"
        )
    try:
        engine.check_invariant()
    except AssertionError as error:
        report.add(str(error))


async def reconcile(settings: Settings, stores: StoreUrls) -> Reconciliation:
    client = connect(stores.redis_url)
    main_db = create_engine(stores.database_url)
    snapshot_db = create_engine(stores.snapshot_url)
    report = Reconciliation()
    try:
        replay = EngineService(
            client,
            SnapshotStore(snapshot_db, keep=settings.snapshots_kept),
            engine_config(settings),
        )
        await replay.recover(emit=False)
        report.journal_id = replay.applied_id
        # The DB processor deletes what it has written: anything left has not reached the DB.
        backlog = await client.xlen(keys.DB_OPERATIONS)
        if backlog:
            report.add(f"{backlog} DB operations are not written yet (the DB processor lags)")
        async with main_db.connect() as connection:
            await connection.execution_options(isolation_level="REPEATABLE READ")
            state = await read_database(connection)
        compare(replay.engine, state, report)
    finally:
        await client.aclose()
        await main_db.dispose()
        await snapshot_db.dispose()
    return report
