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

The writes are the DB processor's hot path, so they skip SQLAlchemy's statement machinery: a
whole batch (users, trades, price bars) is one hand-written statement, WRITE_BATCH, run on the
asyncpg connection under the SQLAlchemy one (asyncpg prepares it once per connection), atomic
on its own so it needs no BEGIN/COMMIT. Rows go in as JSON arrays read by `json_to_recordset`
(orjson encodes them in C; asyncpg's array parameters cost far more per element): NUMERIC
values as the exact decimal text of their `Decimal`, times as RFC 3339 text to the µs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import orjson
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exness.adapters.db.models import PriceBar
from exness.codec.stream_ids import stream_id_key
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
    "TradeRow",
    "aggregate_bars",
    "json_rows",
    "merge_trade_operations",
    "merge_trade_rows",
    "merge_user_rows",
    "minute_start_us",
    "parse_stream_id",
    "trade_record",
    "trade_row",
    "us_to_datetime",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_US = 60_000_000
_INT32 = 2**31
_INT64 = 2**63

Trade = TradeOpened | TradeClosed
_T = TypeVar("_T")


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
    try:
        parsed = stream_id_key(entry_id)
    except ValueError:
        raise DataRejected(f"{entry_id!r} is not a stream id") from None
    if not all(0 <= part < _INT64 for part in parsed):  # they go into BIGINT columns
        raise DataRejected(f"{entry_id!r} is not a stream id")
    return parsed


def minute_start_us(ts: int) -> int:
    return ts - ts % MINUTE_US


def _int(value: int, bound: int, name: str) -> int:
    if type(value) is not int or not -bound <= value < bound:
        raise DataRejected(f"{name} {value!r} is out of range")
    return value


def _price(asset: str, units: int) -> Decimal:
    return to_decimal(units, ASSETS[asset].decimals)


@dataclass(slots=True)
class TradeRow:
    """A `trades` row (orjson writes it as an object keyed by column)."""

    order_id: str
    user_id: str
    asset_id: int
    trade_type: str
    margin: Decimal
    leverage: int
    open_price: Decimal
    liquidation_price: Decimal
    close_price: Decimal | None
    pnl: Decimal | None
    liquidated: bool
    created_at: datetime
    closed_at: datetime | None


def trade_record(operation: Trade, asset_ids: dict[str, int]) -> TradeRow:
    """The `trades` row an operation describes (closing fields None for an opened trade)."""
    position = operation.position
    asset = position.asset
    asset_id = asset_ids.get(asset)
    if asset_id is None or asset not in ASSETS:
        raise DataRejected(f"unknown asset {asset!r} in order {position.order_id}")
    if position.side not in ("long", "short"):
        raise DataRejected(f"unknown side {position.side!r} in order {position.order_id}")
    closed = isinstance(operation, TradeClosed)
    return TradeRow(
        position.order_id,
        position.user_id,
        asset_id,
        position.side.upper(),
        to_decimal(position.margin, USD_DECIMALS),
        _int(position.leverage, _INT32, "leverage"),
        _price(asset, position.open_price),
        _price(asset, position.liquidation_price),
        _price(asset, operation.close_price) if closed else None,
        to_decimal(operation.pnl, USD_DECIMALS) if closed else None,
        operation.liquidated if closed else False,
        us_to_datetime(position.opened_at),
        us_to_datetime(operation.closed_at) if closed else None,
    )


def trade_row(operation: Trade, asset_ids: dict[str, int]) -> dict[str, Any]:
    """`trade_record` as a dict."""
    return asdict(trade_record(operation, asset_ids))


def _first_closed(
    items: Iterable[_T], order_id: Callable[[_T], str], is_closed: Callable[[_T], bool]
) -> list[_T]:
    """One item per order id: the first closed one if there is one, else the first open one
    (one statement may not upsert a row twice)."""
    chosen: dict[str, _T] = {}
    for item in items:
        key = order_id(item)
        seen = chosen.get(key)
        if seen is None or (not is_closed(seen) and is_closed(item)):
            chosen[key] = item
    return list(chosen.values())


def merge_trade_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """`trade_row`s, one per order id: the first closed row if any, else the first open one."""
    return _first_closed(
        rows, lambda row: row["order_id"], lambda row: row["closed_at"] is not None
    )


def merge_trade_operations(operations: Iterable[Trade]) -> list[Trade]:
    """The same choice made on the operations, before converting them."""
    return _first_closed(
        operations,
        lambda operation: operation.position.order_id,
        lambda operation: isinstance(operation, TradeClosed),
    )


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


def _bare_owners(trades: Iterable[TradeRow], created: set[str]) -> list[dict[str, Any]]:
    """User rows for the trades' users without a `user_created` in the batch, each created
    with its earliest trade: a bare row keeps the foreign key satisfied until `user_created`
    arrives (it may come later, or have been dead-lettered)."""
    owners: dict[str, datetime] = {}
    for row in trades:
        if row.user_id in created:
            continue
        seen = owners.get(row.user_id)
        if seen is None or row.created_at < seen:
            owners[row.user_id] = row.created_at
    return [{"id": user_id, "created_at": at} for user_id, at in owners.items()]


def json_rows(rows: Sequence[object]) -> str:
    """Rows (dicts or dataclasses) as the JSON text of a `json_to_recordset` parameter.

    Decimals, the one type of theirs orjson does not write itself, become their exact text
    (`default=str`, a C call per value), which PostgreSQL reads back as the same NUMERIC."""
    try:
        return orjson.dumps(rows, default=str).decode()
    except orjson.JSONEncodeError as error:  # an integer beyond 64 bits, a broken string
        raise DataRejected(f"cannot be written: {error}") from None


BarKey = tuple[str, int]  # (asset symbol, minute start in µs)


def aggregate_bars(
    entries: Sequence[PriceEntry], merged_up_to: dict[BarKey, tuple[int, int]]
) -> dict[BarKey, dict[str, Any]]:
    """The bars of `entries`, leaving out, per bar, every entry not newer than the newest
    already merged into it (`merged_up_to`), with the oldest and newest entry each took.
    Values stay in asset units here."""
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
                    "first_entry": entry_id,
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
            bar["first_entry"] = min(bar["first_entry"], entry_id)
            bar["last_entry"] = max(bar["last_entry"], entry_id)
    return bars


def _datetime_to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# ---- statements ----------------------------------------------------------------------------

# How a bar merges into the stored one (`b`); `excluded` holds the batch's part.
_MERGE_BAR = """
ON CONFLICT (asset_id, bucket) DO UPDATE
SET open = CASE WHEN excluded.first_ts < b.first_ts THEN excluded.open ELSE b.open END,
    first_ts = least(b.first_ts, excluded.first_ts),
    close = CASE WHEN excluded.last_ts >= b.last_ts THEN excluded.close ELSE b.close END,
    last_ts = greatest(b.last_ts, excluded.last_ts),
    high = greatest(b.high, excluded.high),
    low = least(b.low, excluded.low),
    ticks = b.ticks + excluded.ticks,
    last_entry_ms = excluded.last_entry_ms,
    last_entry_seq = excluded.last_entry_seq
"""
_BAR_COLUMNS = """
    asset_id int4, bucket timestamptz, open numeric, high numeric, low numeric, close numeric,
    ticks int4, first_ts int8, last_ts int8, last_entry_ms int8, last_entry_seq int8
"""

# A whole batch in one statement. Data-modifying CTEs always run to completion, and the trades'
# foreign keys are checked at the end of the statement, so they see both user inserts (which
# touch different ids: the owners leave out the batch's user_created ids). A bar merges here
# only if every entry of the batch is newer than the newest already in it; the bars it returns
# are those written, and the others (a redelivered entry went into them) are merged entry by
# entry (MERGE_BARS). ON CONFLICT checks that on the locked row, so writers racing are safe.
WRITE_BATCH = f"""
WITH created AS (
    -- The server may have inserted the user (with its email) first: keep what it wrote,
    -- fill only what is missing, keep the earliest creation time.
    INSERT INTO users AS u (id, email, created_at)
    SELECT * FROM json_to_recordset($1::json) AS r (id text, email text, created_at timestamptz)
    ON CONFLICT (id) DO UPDATE
    SET email = coalesce(u.email, excluded.email),
        created_at = least(u.created_at, excluded.created_at)
), owners AS (
    INSERT INTO users (id, created_at)
    SELECT * FROM json_to_recordset($2::json) AS r (id text, created_at timestamptz)
    ON CONFLICT (id) DO NOTHING
), trades AS (
    INSERT INTO trades AS t (
        order_id, user_id, asset_id, trade_type, margin, leverage, open_price,
        liquidation_price, close_price, pnl, liquidated, created_at, closed_at
    )
    SELECT * FROM json_to_recordset($3::json) AS r (
        order_id text, user_id text, asset_id int4, trade_type text, margin numeric,
        leverage int4, open_price numeric, liquidation_price numeric, close_price numeric,
        pnl numeric, liquidated bool, created_at timestamptz, closed_at timestamptz
    )
    ON CONFLICT (order_id) DO UPDATE
    SET close_price = excluded.close_price,
        pnl = excluded.pnl,
        liquidated = excluded.liquidated,
        closed_at = excluded.closed_at
    -- open -> closed, once; never closed -> open, never closed twice
    WHERE t.closed_at IS NULL AND excluded.closed_at IS NOT NULL
), new_bars AS (
    SELECT * FROM json_to_recordset($4::json) AS r ({_BAR_COLUMNS},
        first_entry_ms int8, first_entry_seq int8)
)
INSERT INTO price_bars AS b (
    asset_id, bucket, open, high, low, close, ticks, first_ts, last_ts,
    last_entry_ms, last_entry_seq
)
SELECT asset_id, bucket, open, high, low, close, ticks, first_ts, last_ts,
    last_entry_ms, last_entry_seq
FROM new_bars
{_MERGE_BAR}
WHERE (b.last_entry_ms, b.last_entry_seq) < (
    SELECT n.first_entry_ms, n.first_entry_seq FROM new_bars AS n
    WHERE n.asset_id = excluded.asset_id AND n.bucket = excluded.bucket
)
RETURNING asset_id, bucket
"""

# The bars a redelivered entry went into, locked so the guards read here hold until commit.
LOCK_BARS = """
SELECT b.asset_id, b.bucket, b.last_entry_ms, b.last_entry_seq
FROM price_bars AS b
JOIN json_to_recordset($1::json) AS k (asset_id int4, bucket timestamptz)
    ON b.asset_id = k.asset_id AND b.bucket = k.bucket
FOR UPDATE OF b
"""

# Then their entries not merged yet.
MERGE_BARS = f"""
INSERT INTO price_bars AS b (
    asset_id, bucket, open, high, low, close, ticks, first_ts, last_ts,
    last_entry_ms, last_entry_seq
)
SELECT * FROM json_to_recordset($1::json) AS r ({_BAR_COLUMNS})
{_MERGE_BAR}
"""

SELECT_ASSETS = "SELECT symbol, id FROM assets"

# What PostgreSQL refuses for the values themselves (SQLSTATE classes 23 and 22: an email
# taken, a number out of range). Anything else (a lost connection, a missing table) is an
# outage, retried as it is.
_REFUSED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


async def _run(driver: asyncpg.Connection, query: str, *args: Any) -> None:
    try:
        await driver.execute(query, *args)
    except _REFUSED as error:
        raise DataRejected(f"{type(error).__name__}: {error}") from error


async def _fetch(driver: asyncpg.Connection, query: str, *args: Any) -> list[asyncpg.Record]:
    try:
        return await driver.fetch(query, *args)
    except _REFUSED as error:
        raise DataRejected(f"{type(error).__name__}: {error}") from error


async def _driver(connection: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy one."""
    return (await connection.get_raw_connection()).driver_connection


# ---- the writer ----------------------------------------------------------------------------


class DbWriter:
    """Writes decoded operations and price entries to the main database.

    With `keep_connection`, `write` keeps one pooled connection between calls instead of
    checking one out (and pinging it) for each; `release` gives it back. A connection that
    failed for anything but the data is dropped, never reused.
    """

    def __init__(self, engine: AsyncEngine, *, keep_connection: bool = False) -> None:
        self.engine = engine
        self.keep_connection = keep_connection
        self._asset_ids: dict[str, int] | None = None
        self._held: AsyncConnection | None = None
        self._held_driver: asyncpg.Connection | None = None

    async def write(
        self, operations: Sequence[DbOperation], prices: Sequence[PriceEntry] = ()
    ) -> None:
        """Everything in one statement: all of it is written, or none. Only bars a redelivered
        price entry already went into are then merged entry by entry, in a transaction of
        their own (each step converges if repeated)."""
        if not operations and not any(entry.ticks for entry in prices):
            return
        async with self._connection() as driver:
            await self._write(driver, operations, prices)

    async def write_in(
        self,
        connection: AsyncConnection,
        operations: Sequence[DbOperation],
        prices: Sequence[PriceEntry] = (),
    ) -> None:
        """The same, inside a transaction the caller holds."""
        driver = await _driver(connection)
        if not driver.is_in_transaction():
            # SQLAlchemy sends BEGIN with its first statement: have it sent before ours.
            await connection.exec_driver_sql("SELECT 1")
        await self._write(driver, operations, prices)

    async def release(self) -> None:
        """Give the kept connection back to the pool (the DB processor does when idle)."""
        connection, self._held, self._held_driver = self._held, None, None
        if connection is not None:
            await connection.close()

    async def delete_bars_before(self, cutoff: datetime) -> int:
        """Retention: drop the bars of minutes before `cutoff`; the number dropped."""
        async with self.engine.begin() as connection:
            result = await connection.execute(delete(PriceBar).where(PriceBar.bucket < cutoff))
            return int(result.rowcount or 0)

    async def asset_ids(self, driver: asyncpg.Connection) -> dict[str, int]:
        """Symbol -> id, read once: assets are seeded by the migrations and never change."""
        if self._asset_ids is None:
            rows = await _fetch(driver, SELECT_ASSETS)
            self._asset_ids = {symbol: asset_id for symbol, asset_id in rows}
        return self._asset_ids

    # ---- connections -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if not self.keep_connection:
            async with self.engine.connect() as connection:
                yield await _driver(connection)
            return
        if self._held_driver is None:
            self._held = await self.engine.connect()
            self._held_driver = await _driver(self._held)
        try:
            yield self._held_driver
        except DataRejected:
            raise  # the statement (and its transaction) failed; the connection is fine
        except BaseException:
            await self._drop()
            raise

    async def _drop(self) -> None:
        """Forget the kept connection: it may be broken (PostgreSQL restarted) or mid-statement
        (the batch was cancelled)."""
        connection, self._held, self._held_driver = self._held, None, None
        if connection is None:
            return
        with contextlib.suppress(Exception):  # closing what is already broken may fail too
            await connection.invalidate()
            await connection.close()

    # ---- statements ------------------------------------------------------------------------

    async def _write(
        self,
        driver: asyncpg.Connection,
        operations: Sequence[DbOperation],
        prices: Sequence[PriceEntry],
    ) -> None:
        users: list[UserCreated] = []
        trades: list[Trade] = []
        for operation in operations:
            if isinstance(operation, UserCreated):
                users.append(operation)
            else:
                trades.append(operation)
        has_ticks = any(entry.ticks for entry in prices)
        asset_ids = await self.asset_ids(driver) if trades or has_ticks else {}
        _check_assets(prices, asset_ids)
        rows = [trade_record(trade, asset_ids) for trade in merge_trade_operations(trades)]
        created = merge_user_rows(
            {
                "id": user.user_id,
                "email": user.email or None,
                "created_at": us_to_datetime(user.created_at),
            }
            for user in users
        )
        owners = _bare_owners(rows, {row["id"] for row in created})
        bars = _bar_rows(aggregate_bars(prices, {}), asset_ids) if has_ticks else []
        written = await _fetch(
            driver,
            WRITE_BATCH,
            json_rows(created),
            json_rows(owners),
            json_rows(rows),
            json_rows(bars),
        )
        if len(written) < len(bars):
            done = {(asset_id, bucket) for asset_id, bucket in written}
            left = [bar for bar in bars if (bar["asset_id"], bar["bucket"]) not in done]
            await self._merge_bars(driver, prices, left)

    async def _merge_bars(
        self, driver: asyncpg.Connection, entries: Sequence[PriceEntry], left: list[dict[str, Any]]
    ) -> None:
        """Merge into the `left` bars the entries not already in them (a redelivery)."""
        asset_ids = await self.asset_ids(driver)
        by_id = {asset_id: symbol for symbol, asset_id in asset_ids.items()}
        keys = [{"asset_id": bar["asset_id"], "bucket": bar["bucket"]} for bar in left]
        wanted = {(by_id[bar["asset_id"]], _datetime_to_us(bar["bucket"])) for bar in left}
        async with driver.transaction():  # (a savepoint in a transaction the caller holds)
            guards = await _fetch(driver, LOCK_BARS, json_rows(keys))
            merged_up_to = {
                (by_id[asset_id], _datetime_to_us(bucket)): (ms, seq)
                for asset_id, bucket, ms, seq in guards
            }
            aggregated = aggregate_bars(entries, merged_up_to)
            bars = _bar_rows(
                {key: aggregated[key] for key in wanted & aggregated.keys()}, asset_ids
            )
            if bars:
                await _run(driver, MERGE_BARS, json_rows(bars))


def _bar_rows(
    aggregated: dict[BarKey, dict[str, Any]], asset_ids: dict[str, int]
) -> list[dict[str, Any]]:
    """`aggregate_bars`' bars as price_bars rows (and the oldest entry each took)."""
    return [
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
            "first_entry_ms": bar["first_entry"][0],
            "first_entry_seq": bar["first_entry"][1],
            "last_entry_ms": bar["last_entry"][0],
            "last_entry_seq": bar["last_entry"][1],
        }
        for (asset, start), bar in aggregated.items()
    ]


def _check_assets(entries: Sequence[PriceEntry], asset_ids: dict[str, int]) -> None:
    for entry in entries:
        for tick in entry.ticks:
            if tick.asset not in asset_ids or tick.asset not in ASSETS:
                raise DataRejected(f"unknown asset {tick.asset!r} in entry {entry.entry_id}")
