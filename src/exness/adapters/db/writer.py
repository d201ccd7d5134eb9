"""Batched, idempotent writes of the engine's DB operations and of price bars (ARCHITECTURE §3).

Every write converges whatever the order and repetition of its inputs:
- users: inserted once; a later `user_created` fills a missing email and keeps the earliest
  creation time, never replaces what the server wrote;
- trades: upserted by `order_id` from any single operation; a row turns from open to closed
  once and never back (an `opened` arriving after a `closed` changes nothing);
- price bars: merged by (asset, minute); open/close follow the ticks' own times, and each bar
  remembers the newest price_stream entry merged into it, so a redelivered entry is skipped.

Numbers are exact: cents become NUMERIC dollars and asset units NUMERIC human prices through
`exness.domain.money.to_decimal`; µs become aware UTC datetimes through integer timedeltas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, case, delete, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exness.adapters.db.models import Asset, PriceBar, Trade, User
from exness.domain.assets import ASSETS
from exness.domain.messages import (
    DbOperation,
    PriceTick,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.money import USD_DECIMALS, to_decimal

__all__ = [
    "DataRejected",
    "DbWriter",
    "PriceEntry",
    "aggregate_bars",
    "merge_trade_rows",
    "merge_user_rows",
    "minute_start_us",
    "parse_stream_id",
    "trade_row",
    "us_to_datetime",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_US = 60_000_000
_INT32 = 2**31
_INT64 = 2**63

USERS = cast(Table, User.__table__)
TRADES = cast(Table, Trade.__table__)
PRICE_BARS = cast(Table, PriceBar.__table__)


class DataRejected(ValueError):
    """An input the database cannot hold for what it says (unknown asset, a number out of
    range, a malformed id); the DB processor dead-letters it instead of retrying."""


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """The decoded ticks of one price_stream entry."""

    entry_id: str
    ticks: list[PriceTick]


# ---- pure conversions ----------------------------------------------------------------------


def us_to_datetime(us: int) -> datetime:
    """µs since the epoch as an aware UTC datetime, exactly (no float on the way)."""
    try:
        return EPOCH + timedelta(microseconds=us)
    except (OverflowError, TypeError) as error:
        raise DataRejected(f"time {us!r} µs is out of range") from error


def parse_stream_id(entry_id: str | bytes) -> tuple[int, int]:
    """A Redis stream id `<ms>-<seq>` (or a bare `<ms>`) as a pair that orders like the id."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    try:
        parsed = int(ms), int(seq or 0)
    except ValueError:
        raise DataRejected(f"{text!r} is not a stream id") from None
    if not all(0 <= part < _INT64 for part in parsed):
        raise DataRejected(f"{text!r} is not a stream id")
    return parsed


def minute_start_us(ts: int) -> int:
    return ts - ts % MINUTE_US


def _int(value: int, bound: int, name: str) -> int:
    if type(value) is not int or not -bound <= value < bound:
        raise DataRejected(f"{name} {value!r} is out of range")
    return value


def _price(asset: str, units: int) -> Decimal:
    return to_decimal(units, ASSETS[asset].decimals)


def trade_row(operation: TradeOpened | TradeClosed, asset_ids: dict[str, int]) -> dict[str, Any]:
    """The `trades` row an operation describes (closing fields None for an opened trade)."""
    position = operation.position
    asset_id = asset_ids.get(position.asset)
    if asset_id is None or position.asset not in ASSETS:
        raise DataRejected(f"unknown asset {position.asset!r} in order {position.order_id}")
    if position.side not in ("long", "short"):
        raise DataRejected(f"unknown side {position.side!r} in order {position.order_id}")
    row: dict[str, Any] = {
        "order_id": position.order_id,
        "user_id": position.user_id,
        "asset_id": asset_id,
        "trade_type": position.side.upper(),
        "margin": to_decimal(position.margin, USD_DECIMALS),
        "leverage": _int(position.leverage, _INT32, "leverage"),
        "open_price": _price(position.asset, position.open_price),
        "liquidation_price": _price(position.asset, position.liquidation_price),
        "close_price": None,
        "pnl": None,
        "liquidated": False,
        "created_at": us_to_datetime(position.opened_at),
        "closed_at": None,
    }
    if isinstance(operation, TradeClosed):
        row["close_price"] = _price(position.asset, operation.close_price)
        row["pnl"] = to_decimal(operation.pnl, USD_DECIMALS)
        row["liquidated"] = operation.liquidated
        row["closed_at"] = us_to_datetime(operation.closed_at)
    return row


def merge_trade_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per order id (one statement may not upsert a row twice): the first closed row
    if there is one, else the first open one."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["order_id"])
        if seen is None or (seen["closed_at"] is None and row["closed_at"] is not None):
            merged[row["order_id"]] = row
    return list(merged.values())


def merge_user_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per user id: the earliest creation time and the first email given."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["id"])
        if seen is None:
            merged[row["id"]] = dict(row)
            continue
        seen["created_at"] = min(seen["created_at"], row["created_at"])
        seen["email"] = seen["email"] or row["email"]
    return list(merged.values())


BarKey = tuple[str, int]  # (asset symbol, minute start in µs)


def aggregate_bars(
    entries: Sequence[PriceEntry], merged_up_to: dict[BarKey, tuple[int, int]]
) -> dict[BarKey, dict[str, Any]]:
    """The bars of `entries`, leaving out, per bar, every entry not newer than the newest
    already merged into it (`merged_up_to`). Values stay in asset units here."""
    bars: dict[BarKey, dict[str, Any]] = {}
    for entry in entries:
        entry_id = parse_stream_id(entry.entry_id)
        for tick in entry.ticks:
            _int(tick.ts, _INT64, "tick time")
            key = (tick.asset, minute_start_us(tick.ts))
            guard = merged_up_to.get(key)
            if guard is not None and entry_id <= guard:
                continue
            bar = bars.get(key)
            if bar is None:
                bars[key] = {
                    "open": tick.price,
                    "high": tick.price,
                    "low": tick.price,
                    "close": tick.price,
                    "ticks": 1,
                    "first_ts": tick.ts,
                    "last_ts": tick.ts,
                    "last_entry": entry_id,
                }
                continue
            if tick.ts < bar["first_ts"]:  # on a tie the earlier tick (in stream order) opens
                bar["open"], bar["first_ts"] = tick.price, tick.ts
            if tick.ts >= bar["last_ts"]:  # on a tie the later tick closes
                bar["close"], bar["last_ts"] = tick.price, tick.ts
            bar["high"] = max(bar["high"], tick.price)
            bar["low"] = min(bar["low"], tick.price)
            bar["ticks"] += 1
            bar["last_entry"] = max(bar["last_entry"], entry_id)
    return bars


# ---- the writer ----------------------------------------------------------------------------


class DbWriter:
    """Writes decoded operations and price entries to the main database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._asset_ids: dict[str, int] | None = None

    async def write(
        self, operations: Sequence[DbOperation], prices: Sequence[PriceEntry] = ()
    ) -> None:
        """Everything in one transaction: all of it is written, or none."""
        async with self.engine.begin() as connection:
            await self.write_in(connection, operations, prices)

    async def write_in(
        self,
        connection: AsyncConnection,
        operations: Sequence[DbOperation],
        prices: Sequence[PriceEntry] = (),
    ) -> None:
        """The same, inside a transaction the caller holds."""
        users: list[dict[str, Any]] = []
        trades: list[TradeOpened | TradeClosed] = []
        for operation in operations:
            if isinstance(operation, UserCreated):
                users.append(
                    {
                        "id": operation.user_id,
                        "email": operation.email or None,
                        "created_at": us_to_datetime(operation.created_at),
                    }
                )
            else:
                trades.append(operation)
        if users:
            await self._upsert_users(connection, merge_user_rows(users))
        if trades:
            await self._upsert_trades(connection, trades)
        if any(entry.ticks for entry in prices):
            await self._merge_bars(connection, prices)

    async def delete_bars_before(self, cutoff: datetime) -> int:
        """Retention: drop the bars of minutes before `cutoff`; the number dropped."""
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(PriceBar).where(PriceBar.bucket < cutoff))
            return int(result.rowcount or 0)

    # ---- statements ------------------------------------------------------------------------

    async def asset_ids(self, connection: AsyncConnection) -> dict[str, int]:
        if self._asset_ids is None:
            rows = await connection.execute(select(Asset.symbol, Asset.id))
            self._asset_ids = {symbol: asset_id for symbol, asset_id in rows}
        return self._asset_ids

    async def _upsert_users(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        # The server may have inserted the user (with its email) first: keep what it wrote,
        # fill only what is missing, keep the earliest creation time.
        users = USERS
        statement = insert(users)
        statement = statement.on_conflict_do_update(
            index_elements=[users.c.id],
            set_={
                "email": func.coalesce(users.c.email, statement.excluded.email),
                "created_at": func.least(users.c.created_at, statement.excluded.created_at),
            },
        )
        await connection.execute(statement, rows)

    async def _upsert_trades(
        self, connection: AsyncConnection, operations: list[TradeOpened | TradeClosed]
    ) -> None:
        asset_ids = await self.asset_ids(connection)
        rows = merge_trade_rows(trade_row(operation, asset_ids) for operation in operations)
        # A trade's user_created may come later (or have been dead-lettered): a bare user row
        # keeps the foreign key satisfied and is completed when user_created arrives.
        owners = merge_user_rows(
            {"id": row["user_id"], "email": None, "created_at": row["created_at"]} for row in rows
        )
        users = USERS
        await connection.execute(
            insert(users).on_conflict_do_nothing(index_elements=[users.c.id]), owners
        )
        trades = TRADES
        statement = insert(trades)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[trades.c.order_id],
            set_={
                "close_price": excluded.close_price,
                "pnl": excluded.pnl,
                "liquidated": excluded.liquidated,
                "closed_at": excluded.closed_at,
            },
            # open -> closed, once; never closed -> open, never closed twice
            where=trades.c.closed_at.is_(None) & excluded.closed_at.is_not(None),
        )
        await connection.execute(statement, rows)

    async def _merge_bars(self, connection: AsyncConnection, entries: Sequence[PriceEntry]) -> None:
        asset_ids = await self.asset_ids(connection)
        for entry in entries:
            for tick in entry.ticks:
                if tick.asset not in asset_ids or tick.asset not in ASSETS:
                    raise DataRejected(f"unknown asset {tick.asset!r} in entry {entry.entry_id}")
        keys = {
            (tick.asset, minute_start_us(_int(tick.ts, _INT64, "tick time")))
            for entry in entries
            for tick in entry.ticks
        }
        by_id = {asset_id: symbol for symbol, asset_id in asset_ids.items()}
        bars = PRICE_BARS
        # Lock the bars this batch touches, so the guard read here holds until commit.
        guard_rows = await connection.execute(
            select(bars.c.asset_id, bars.c.bucket, bars.c.last_entry_ms, bars.c.last_entry_seq)
            .where(
                tuple_(bars.c.asset_id, bars.c.bucket).in_(
                    [(asset_ids[asset], us_to_datetime(start)) for asset, start in keys]
                )
            )
            .with_for_update()
        )
        merged_up_to = {
            (by_id[asset_id], _datetime_to_us(bucket)): (ms, seq)
            for asset_id, bucket, ms, seq in guard_rows
        }
        aggregated = aggregate_bars(entries, merged_up_to)
        if not aggregated:
            return
        rows = [
            {
                "asset_id": asset_ids[asset],
                "bucket": us_to_datetime(start),
                "open": _price(asset, bar["open"]),
                "high": _price(asset, bar["high"]),
                "low": _price(asset, bar["low"]),
                "close": _price(asset, bar["close"]),
                "ticks": _int(bar["ticks"], _INT32, "ticks"),
                "first_ts": bar["first_ts"],
                "last_ts": bar["last_ts"],
                "last_entry_ms": bar["last_entry"][0],
                "last_entry_seq": bar["last_entry"][1],
            }
            for (asset, start), bar in aggregated.items()
        ]
        statement = insert(bars)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[bars.c.asset_id, bars.c.bucket],
            set_={
                "open": case(
                    (excluded.first_ts < bars.c.first_ts, excluded.open), else_=bars.c.open
                ),
                "first_ts": func.least(bars.c.first_ts, excluded.first_ts),
                "close": case(
                    (excluded.last_ts >= bars.c.last_ts, excluded.close), else_=bars.c.close
                ),
                "last_ts": func.greatest(bars.c.last_ts, excluded.last_ts),
                "high": func.greatest(bars.c.high, excluded.high),
                "low": func.least(bars.c.low, excluded.low),
                "ticks": bars.c.ticks + excluded.ticks,
                "last_entry_ms": excluded.last_entry_ms,
                "last_entry_seq": excluded.last_entry_seq,
            },
        )
        await connection.execute(statement, rows)


def _datetime_to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
