"""`exness reconcile`: does the main database agree with the engine? (read-only)

The engine's state is rebuilt the way the engine itself recovers it (newest snapshot plus
the journal after it), without writing anything, and compared with the `trades` and
`users` tables: every position open in the engine is an open row with the same terms,
every order the engine closed is a closed row with the same outcome, no row is unknown to
the engine, and the realized PnL and liquidation losses summed over the rows equal the
engine's ledger (which the SPEC §3 invariant ties to the wallets). Run it when the
platform is quiet: a trade made while it runs shows up as a passing difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from exness.adapters import keys
from exness.adapters.db.session import create_engine
from exness.adapters.db.snapshots import SnapshotStore
from exness.adapters.redis import connect
from exness.domain import Engine, EngineConfig
from exness.domain.assets import ASSETS
from exness.domain.money import USD_DECIMALS, to_decimal
from exness.domain.positions import Position
from exness.services.engine import EngineService
from exness.settings import Settings, StoreUrls

__all__ = ["Reconciliation", "reconcile"]

_MAX_LISTED = 20


@dataclass
class Reconciliation:
    journal_id: str = "0-0"
    open_positions: int = 0
    closed_orders: int = 0
    rows: int = 0
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
            f"{self.closed_orders} closed; database: {self.rows} trades"
        )
        if self.ok:
            return f"{head}\nthe database agrees with the engine"
        return head + "\nDIVERGENCE:\n  " + "\n  ".join(self.problems)


def _terms(position: Position) -> tuple[str, str, Decimal, int, Decimal]:
    return (
        position.user_id,
        position.side.upper(),
        to_decimal(position.margin, USD_DECIMALS),
        position.leverage,
        to_decimal(position.open_price, ASSETS[position.asset].decimals),
    )


Row = dict[str, Any]


def compare(engine: Engine, rows: list[Row], users: set[str], report: Reconciliation) -> None:
    """Everything the engine knows against every trade row and user."""
    opened = {position.order_id: position for position in engine.positions()}
    closed = engine.closed_orders()
    report.open_positions, report.closed_orders, report.rows = len(opened), len(closed), len(rows)
    by_order = {row["order_id"]: row for row in rows}
    realized = Decimal(0)
    lost = Decimal(0)
    for order_id, row in by_order.items():
        terms = (
            row["user_id"],
            row["trade_type"],
            row["margin"],
            row["leverage"],
            row["open_price"],
        )
        if order_id in opened:
            if row["closed_at"] is not None:
                report.add(f"{order_id}: open in the engine, closed in the database")
            if terms != _terms(opened[order_id]):
                report.add(
                    f"{order_id}: terms differ: engine {_terms(opened[order_id])}, db {terms}"
                )
        elif order_id in closed:
            owner, liquidated = closed[order_id].owner, closed[order_id].liquidated
            if row["closed_at"] is None:
                report.add(f"{order_id}: closed in the engine, open in the database")
            elif bool(row["liquidated"]) != liquidated:
                report.add(
                    f"{order_id}: liquidated={liquidated} in the engine, not in the database"
                )
            if row["user_id"] != owner:
                report.add(
                    f"{order_id}: owner {owner} in the engine, {row['user_id']} in the database"
                )
        else:
            report.add(f"{order_id}: in the database, unknown to the engine")
        if row["closed_at"] is not None:
            if row["liquidated"]:
                lost += row["margin"]
            else:
                realized += row["pnl"]
    for order_id in (opened.keys() | closed.keys()) - by_order.keys():
        report.add(f"{order_id}: known to the engine, missing from the database")
    for user_id in engine.balances().keys() - users:
        report.add(f"user {user_id}: has a wallet, missing from the database")
    ledger = engine.ledger
    if realized != to_decimal(ledger.realized_pnl, USD_DECIMALS):
        report.add(f"realized PnL: engine {ledger.realized_pnl} cents, database {realized} USD")
    if lost != to_decimal(ledger.liquidated_margin, USD_DECIMALS):
        report.add(
            f"liquidated margin: engine {ledger.liquidated_margin} cents, database {lost} USD"
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
            EngineConfig(
                price_max_age_us=settings.price_max_age_us,
                spread_markup_bps=settings.spread_markup_bps,
            ),
        )
        await replay.recover(emit=False)
        report.journal_id = replay.applied_id
        # The DB processor deletes what it has written: anything left has not reached the DB.
        backlog = await client.xlen(keys.DB_OPERATIONS)
        if backlog:
            report.add(f"{backlog} DB operations are not written yet (the DB processor lags)")
        async with main_db.connect() as connection:
            trades = await connection.execute(
                text(
                    "SELECT order_id, user_id, trade_type, margin, leverage, open_price, pnl,"
                    " liquidated, closed_at FROM trades"
                )
            )
            rows = [dict(row._mapping) for row in trades]
            users = {row.id for row in await connection.execute(text("SELECT id FROM users"))}
        compare(replay.engine, rows, users, report)
    finally:
        await client.aclose()
        await main_db.dispose()
        await snapshot_db.dispose()
    return report
