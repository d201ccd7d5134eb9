"""Batched, idempotent writes of the engine's DB operations and of price bars (ARCHITECTURE §3).

Every write converges whatever the order and repetition of its inputs:
- users: inserted once; a later `user_created` fills a missing email and keeps the earliest
  creation time, never replaces what the server wrote;
- trades: upserted by `order_id` from any single operation (each carries the whole order),
  every column merged by a rule that does not care about order or repetition: margin held
  by the least (it only falls), the margin placed by the greatest, times and prices first
  known kept, stop loss / take profit by `levels_version` (rows.py), the creation time from
  the operations that know it (placement, market open). `status` is computed from them
  (models.TRADE_STATUS): a closed or cancelled row never reopens;
- trade_closes: one row per close, inserted once, keyed by (order_id, margin_before): the
  margin open before a close strictly falls from close to close within an order, so a
  redelivered close is recognised whatever came in between. Only the closes inserted by
  this statement (RETURNING) are added into their trade's realized `pnl`; the trade's
  `close_price`/`close_reason` are those of its close with the least `margin_before`;
- price bars: merged by (asset, minute); open/close follow the ticks' own times, and each bar
  remembers the newest price_stream entry merged into it, so a redelivered entry is skipped.

The rows themselves (exact conversions, merging, bar aggregation) come from
adapters/db/rows.py; this module only runs the SQL.

The writes are the DB processor's hot path, so they skip SQLAlchemy's statement machinery: a
whole batch (users, trades and their closes, price bars) is one hand-written statement,
WRITE_BATCH, run on the asyncpg connection under the SQLAlchemy one (asyncpg prepares it
once per connection), atomic on its own so it needs no BEGIN/COMMIT. Rows go in as JSON
arrays read by `json_to_recordset` (orjson encodes them in C; asyncpg's array parameters
cost far more per element): NUMERIC values as the exact decimal text of their `Decimal`,
times as RFC 3339 text to the µs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from exness.adapters.db.models import PriceBar
from exness.adapters.db.rows import (
    DataRejected,
    PriceEntry,
    aggregate_bars,
    bar_rows,
    bare_owners,
    check_assets,
    datetime_to_us,
    json_rows,
    merge_user_rows,
    order_rows,
    us_to_datetime,
)
from exness.domain.messages import DbOperation, UserCreated

__all__ = ["DbWriter"]


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

_TRADE_COLUMNS = """
    order_id, user_id, asset_id, trade_type, order_type, trigger_price, margin, open_margin,
    leverage, open_price, liquidation_price, stop_loss, take_profit, levels_version,
    created_at, opened_at, closed_at
"""
_TRADE_RECORD = """
    order_id text, user_id text, asset_id int4, trade_type text, order_type text,
    trigger_price numeric, margin numeric, open_margin numeric, leverage int4,
    open_price numeric, liquidation_price numeric, stop_loss numeric, take_profit numeric,
    levels_version int8, created_at timestamptz, opened_at timestamptz, closed_at timestamptz
"""

# A whole batch in one statement. Data-modifying CTEs always run to completion, and foreign
# keys are checked at the end of the statement, so the trades see both user inserts (which
# touch different ids: the owners leave out the batch's user_created ids). Every close comes
# with its trade's row (rows.order_rows), so a close is never without one. The closes are
# inserted first: those new to the table (RETURNING) are summed
# per order into the trades upsert, which may touch each row once (rows.merge_trade_rows merged
# the batch's rows per order by the same rules as its ON CONFLICT). A bar merges here only if
# every entry of the batch is newer than the newest already in it; the bars it returns are
# those written, and the others (a redelivered entry went into them) are merged entry by entry
# (MERGE_BARS). ON CONFLICT checks all that on the locked row, so writers racing are safe.
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
), new_closes AS (
    INSERT INTO trade_closes AS c (
        order_id, margin_before, margin, close_price, pnl, reason, closed_at
    )
    SELECT * FROM json_to_recordset($5::json) AS r (
        order_id text, margin_before numeric, margin numeric, close_price numeric,
        pnl numeric, reason text, closed_at timestamptz
    )
    ON CONFLICT (order_id, margin_before) DO NOTHING
    RETURNING order_id, margin_before, close_price, pnl, reason
), realized AS (
    -- per order: the new closes' pnl, and the latest of them (the least margin before it)
    SELECT order_id,
           sum(pnl) AS pnl,
           bool_or(reason = 'liquidation') AS liquidated,
           min(margin_before) AS last_close_margin,
           (array_agg(close_price ORDER BY margin_before))[1] AS close_price,
           (array_agg(reason ORDER BY margin_before))[1] AS close_reason
    FROM new_closes
    GROUP BY order_id
), trades AS (
    INSERT INTO trades AS t (
        {_TRADE_COLUMNS},
        pnl, close_price, close_reason, last_close_margin, liquidated
    )
    SELECT r.*, s.pnl, s.close_price, s.close_reason, s.last_close_margin,
           coalesce(s.liquidated, false)
    FROM json_to_recordset($3::json) AS r ({_TRADE_RECORD})
    LEFT JOIN realized AS s ON s.order_id = r.order_id
    ON CONFLICT (order_id) DO UPDATE
    SET created_at = CASE WHEN t.order_type IS NOT NULL THEN t.created_at
                          WHEN excluded.order_type IS NOT NULL THEN excluded.created_at
                          ELSE least(t.created_at, excluded.created_at) END,
        order_type = coalesce(t.order_type, excluded.order_type),
        trigger_price = coalesce(t.trigger_price, excluded.trigger_price),
        margin = greatest(t.margin, excluded.margin),
        open_margin = least(t.open_margin, excluded.open_margin),
        open_price = coalesce(t.open_price, excluded.open_price),
        liquidation_price = coalesce(t.liquidation_price, excluded.liquidation_price),
        stop_loss = CASE WHEN excluded.levels_version >= t.levels_version
                         THEN excluded.stop_loss ELSE t.stop_loss END,
        take_profit = CASE WHEN excluded.levels_version >= t.levels_version
                           THEN excluded.take_profit ELSE t.take_profit END,
        levels_version = greatest(t.levels_version, excluded.levels_version),
        opened_at = coalesce(t.opened_at, excluded.opened_at),
        closed_at = coalesce(t.closed_at, excluded.closed_at),
        pnl = CASE WHEN excluded.pnl IS NULL THEN t.pnl
                   ELSE coalesce(t.pnl, 0) + excluded.pnl END,
        close_price = CASE WHEN excluded.last_close_margin < t.last_close_margin
                             OR t.last_close_margin IS NULL
                           THEN coalesce(excluded.close_price, t.close_price)
                           ELSE t.close_price END,
        close_reason = CASE WHEN excluded.last_close_margin < t.last_close_margin
                              OR t.last_close_margin IS NULL
                            THEN coalesce(excluded.close_reason, t.close_reason)
                            ELSE t.close_reason END,
        last_close_margin = least(t.last_close_margin, excluded.last_close_margin),
        liquidated = t.liquidated OR excluded.liquidated
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
        records: list[asyncpg.Record] = await driver.fetch(query, *args)
        return records
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
        users = [operation for operation in operations if isinstance(operation, UserCreated)]
        has_orders = len(users) < len(operations)
        has_ticks = any(entry.ticks for entry in prices)
        asset_ids = await self.asset_ids(driver) if has_orders or has_ticks else {}
        check_assets(prices, asset_ids)
        rows, closes = order_rows(operations, asset_ids) if has_orders else ([], [])
        created = merge_user_rows(
            {
                "id": user.user_id,
                "email": user.email or None,
                "created_at": us_to_datetime(user.created_at),
            }
            for user in users
        )
        owners = bare_owners(rows, {row["id"] for row in created})
        bars = bar_rows(aggregate_bars(prices, {}), asset_ids) if has_ticks else []
        written = await _fetch(
            driver,
            WRITE_BATCH,
            json_rows(created),
            json_rows(owners),
            json_rows(rows),
            json_rows(bars),
            json_rows(closes),
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
        wanted = {(by_id[bar["asset_id"]], datetime_to_us(bar["bucket"])) for bar in left}
        async with driver.transaction():  # (a savepoint in a transaction the caller holds)
            guards = await _fetch(driver, LOCK_BARS, json_rows(keys))
            merged_up_to = {
                (by_id[asset_id], datetime_to_us(bucket)): (ms, seq)
                for asset_id, bucket, ms, seq in guards
            }
            aggregated = aggregate_bars(entries, merged_up_to)
            bars = bar_rows({key: aggregated[key] for key in wanted & aggregated.keys()}, asset_ids)
            if bars:
                await _run(driver, MERGE_BARS, json_rows(bars))
