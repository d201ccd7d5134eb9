"""SQLAlchemy models of the main database and of the snapshot database (SPEC §5).

Two metadata objects, because the two may live in different databases (`SNAPSHOT_URL`) and
have their own migration sets (src/exness/migrations/main and .../snapshots). The migrations
are hand-written; these models describe the same tables for typed queries and must be kept
in step with them (tests/integration/test_db_migrations.py compares the two).

Money is NUMERIC, never float: margin and pnl in dollars (cents / 100 exactly), prices in
human units (asset units scaled by the asset's decimals).

A `trades` row is one order, from placement (a limit or stop order, `pending`) or market
open to its end (`closed`, or `cancelled` before it filled); `trade_closes` has one row per
close of it, part or whole (SPEC §7.4). How the DB processor merges operations into them,
in any order, is in adapters/db/writer.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "MONEY",
    "PRICE",
    "TRADE_STATUS",
    "Asset",
    "Base",
    "PriceBar",
    "Snapshot",
    "SnapshotBase",
    "Trade",
    "TradeClose",
    "User",
]

MONEY = Numeric(20, 2)  # dollars, exact to the cent
PRICE = Numeric(30, 10)  # human units; every asset has at most 10 decimals
TIMESTAMP = DateTime(timezone=True)


class Base(DeclarativeBase):
    """The main database: users, assets, trades, price_bars."""


class SnapshotBase(DeclarativeBase):
    """The snapshot database (SNAPSHOT_URL, by default the main one)."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # NULL: a wallet initialized over the bus, without the HTTP server, has no email.
    email: Mapped[str | None] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    last_logged_in: Mapped[datetime | None] = mapped_column(TIMESTAMP)


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    decimals: Mapped[int] = mapped_column(Integer)
    image_url: Mapped[str] = mapped_column(Text)


# What a row's status is, from the facts the writer merges (so it cannot disagree with them):
# finished (closed_at) and never opened is cancelled; finished after opening is closed.
TRADE_STATUS = (
    "CASE WHEN closed_at IS NOT NULL THEN"
    " (CASE WHEN opened_at IS NULL THEN 'cancelled' ELSE 'closed' END)"
    " WHEN opened_at IS NOT NULL THEN 'open' ELSE 'pending' END"
)


class Trade(Base):
    """One order: a market trade, or a limit/stop order from its placement.

    `margin` is the margin the order was placed or opened with; `open_margin` what it still
    holds (reserved while pending, open while open, 0 once closed or cancelled). `pnl` is the
    realized total of its closes, `close_price`/`close_reason` those of its last close
    (`last_close_margin`: the margin open before that close, which orders closes). `closed_at`
    is when the last part closed or the order was cancelled. `levels_version` orders the
    operations that carried `stop_loss`/`take_profit` (writer.py)."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("trade_type IN ('LONG', 'SHORT')", name="trades_trade_type_check"),
        CheckConstraint(
            "order_type IN ('market', 'limit', 'stop')", name="trades_order_type_check"
        ),
        CheckConstraint(
            "close_reason IN ('manual', 'sl', 'tp', 'liquidation')",
            name="trades_close_reason_check",
        ),
        Index("ix_trades_user_created", "user_id", "created_at"),
        Index("ix_trades_asset_created", "asset_id", "created_at"),
        Index("ix_trades_user_closed", "user_id", "closed_at"),
        # pending orders are few, and a row leaves the index when it fills or is cancelled
        Index(
            "ix_trades_user_pending",
            "user_id",
            "created_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(Text, unique=True)
    user_id: Mapped[str] = mapped_column(Text, ForeignKey("users.id"))
    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("assets.id"))
    trade_type: Mapped[str] = mapped_column(Text)
    # NULL only until the operation that says it arrives (a fill may come before its placement)
    order_type: Mapped[str | None] = mapped_column(Text)
    trigger_price: Mapped[Decimal | None] = mapped_column(PRICE)
    margin: Mapped[Decimal] = mapped_column(MONEY)
    open_margin: Mapped[Decimal] = mapped_column(MONEY)
    leverage: Mapped[int] = mapped_column(Integer)
    open_price: Mapped[Decimal | None] = mapped_column(PRICE)  # NULL while pending
    liquidation_price: Mapped[Decimal | None] = mapped_column(PRICE)
    stop_loss: Mapped[Decimal | None] = mapped_column(PRICE)
    take_profit: Mapped[Decimal | None] = mapped_column(PRICE)
    levels_version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    close_price: Mapped[Decimal | None] = mapped_column(PRICE)
    close_reason: Mapped[str | None] = mapped_column(Text)
    last_close_margin: Mapped[Decimal | None] = mapped_column(MONEY)
    pnl: Mapped[Decimal | None] = mapped_column(MONEY)
    liquidated: Mapped[bool] = mapped_column(Boolean, server_default=false())
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
    opened_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    closed_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    status: Mapped[str] = mapped_column(Text, Computed(TRADE_STATUS, persisted=True))


class TradeClose(Base):
    """One close of a trade, part or whole. Its key is (order_id, margin_before): the margin
    open just before a close strictly decreases from close to close within an order, so a
    redelivered close is the same row, whatever order closes arrive in.

    No foreign key to `trades`: the DB processor writes a close and its trade's row in one
    statement, always both, and the per-row check of a foreign key cost the hot statement an
    eighth of PostgreSQL's time per close (README "Performance"); `exness reconcile` reports
    a close row without its trade."""

    __tablename__ = "trade_closes"
    __table_args__ = (
        CheckConstraint(
            "reason IN ('manual', 'sl', 'tp', 'liquidation')", name="trade_closes_reason_check"
        ),
        CheckConstraint("margin > 0 AND margin <= margin_before", name="trade_closes_margin_check"),
    )

    order_id: Mapped[str] = mapped_column(Text, primary_key=True)
    margin_before: Mapped[Decimal] = mapped_column(MONEY, primary_key=True)
    margin: Mapped[Decimal] = mapped_column(MONEY)  # closed by this close
    close_price: Mapped[Decimal] = mapped_column(PRICE)
    pnl: Mapped[Decimal] = mapped_column(MONEY)  # realized (−margin for a liquidation)
    reason: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[datetime] = mapped_column(TIMESTAMP)


class PriceBar(Base):
    """One minute of one asset's prices, as the platform received them (for /klines).

    `first_ts`/`last_ts` (µs) are the times of the ticks that gave `open`/`close`, so bars merge
    in any order; `last_entry_ms`/`last_entry_seq` is the newest price_stream entry merged, so a
    redelivered entry is not counted twice.
    """

    __tablename__ = "price_bars"
    __table_args__ = (Index("ix_price_bars_bucket", "bucket"),)  # retention deletes by time

    asset_id: Mapped[int] = mapped_column(Integer, ForeignKey("assets.id"), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(TIMESTAMP, primary_key=True)  # the minute's start
    open: Mapped[Decimal] = mapped_column(PRICE)
    high: Mapped[Decimal] = mapped_column(PRICE)
    low: Mapped[Decimal] = mapped_column(PRICE)
    close: Mapped[Decimal] = mapped_column(PRICE)
    ticks: Mapped[int] = mapped_column(Integer)
    first_ts: Mapped[int] = mapped_column(BigInteger)
    last_ts: Mapped[int] = mapped_column(BigInteger)
    last_entry_ms: Mapped[int] = mapped_column(BigInteger)
    last_entry_seq: Mapped[int] = mapped_column(BigInteger)


class Snapshot(SnapshotBase):
    """An engine snapshot (codec/snapshot.py), split into its big parts for inspection."""

    __tablename__ = "snapshots"
    # unique: the state at a journal id is always the same, so a redelivered snapshot is skipped
    __table_args__ = (Index("ix_snapshots_journal", "journal_ms", "journal_seq", unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    journal_id: Mapped[str] = mapped_column(Text)  # the last journal entry the state includes
    journal_ms: Mapped[int] = mapped_column(BigInteger)  # the id's parts, to order rows by it
    journal_seq: Mapped[int] = mapped_column(BigInteger)
    open_orders: Mapped[Any] = mapped_column(JSONB)
    closed_orders: Mapped[Any] = mapped_column(JSONB)
    balances: Mapped[Any] = mapped_column(JSONB)
    state: Mapped[Any] = mapped_column(JSONB)  # everything else: version, quotes, replies, ledger
    open_positions: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP)
