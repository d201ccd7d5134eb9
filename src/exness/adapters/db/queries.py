"""What the HTTP server reads from (and, for sign-in, writes to) the main database.

Trades are written only by the DB processor; the server reads them for history and the
statement (a page with analytics, or every matching row streamed). Money comes back as
`Decimal` (NUMERIC), exact.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.domain.candles import Interval

__all__ = [
    "CLOSE_REASONS",
    "HistoryFilter",
    "TradeHistory",
    "Users",
    "klines",
    "stream_trade_history",
    "trade_history",
]

# When a trade's clock starts: its open (a fill, for a limit or stop order), or its placement
# for an order that never filled.
OPENED = "coalesce(t.opened_at, t.created_at)"


class Users:
    def __init__(self, db: AsyncEngine) -> None:
        self.db = db

    async def exists(self, email: str) -> bool:
        async with self.db.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM users WHERE email = :email"), {"email": email}
            )
            return found.first() is not None

    async def sign_in(self, email: str) -> tuple[str, bool]:
        """The user's id, creating the user if new; and whether it was created now."""
        async with self.db.begin() as connection:
            row = (
                await connection.execute(
                    text(
                        "INSERT INTO users (id, email, created_at, last_logged_in) "
                        "VALUES (:id, :email, now(), now()) "
                        "ON CONFLICT (email) DO UPDATE SET last_logged_in = now() "
                        "RETURNING id, (xmax = 0) AS created"  # xmax = 0: the row was inserted
                    ),
                    {"id": str(uuid.uuid4()), "email": email},
                )
            ).one()
            return str(row.id), bool(row.created)


SORT_COLUMNS = {
    "createdAt": "t.created_at",
    "closedAt": "t.closed_at",
    "pnl": "t.pnl",
    "margin": "t.margin",
    "leverage": "t.leverage",
    "openPrice": "t.open_price",
    # the other columns the seed's web client sorts by
    "closePrice": "t.close_price",
    "asset": "a.symbol",
    "tradeType": "t.trade_type",
    # in the order of an order's life: pending, open, closed (cancelled last)
    "status": "array_position(ARRAY['pending', 'open', 'closed', 'cancelled'], t.status)",
    "duration": f"(coalesce(t.closed_at, now()) - {OPENED})",
}
SortBy = Literal[
    "createdAt",
    "closedAt",
    "pnl",
    "margin",
    "leverage",
    "openPrice",
    "closePrice",
    "asset",
    "tradeType",
    "status",
    "duration",
]
# all: every trade that opened, open or closed (liquidated ones included), as the seed's clients
# expect; closed: every settled trade, liquidated ones included (as their `status` says);
# liquidated: only those; pending and cancelled: limit and stop orders waiting, or cancelled
# before they filled; any: every order, whatever its status.
Status = Literal["all", "open", "closed", "liquidated", "pending", "cancelled", "any"]
_STATUS_CLAUSES = {
    "all": "t.status IN ('open', 'closed')",
    "open": "t.status = 'open'",
    "closed": "t.status = 'closed'",
    "liquidated": "t.liquidated",
    "pending": "t.status = 'pending'",
    "cancelled": "t.status = 'cancelled'",
}
OrderTypeFilter = Literal["market", "limit", "stop"]
CloseReasonFilter = Literal["manual", "sl", "tp", "liquidation"]


@dataclass(slots=True)
class HistoryFilter:
    user_id: str
    status: Status = "all"
    asset: str | None = None
    trade_type: str | None = None  # "long" | "short"
    profitable: bool | None = None
    liquidated: bool | None = None
    from_date: datetime | None = None
    to_date: datetime | None = None
    limit: int = 50
    offset: int = 0
    sort_by: SortBy = "createdAt"
    sort_order: Literal["asc", "desc"] = "desc"
    order_type: OrderTypeFilter | None = None
    close_reason: CloseReasonFilter | None = None  # that of the trade's last close

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["t.user_id = :user_id"]
        params: dict[str, Any] = {"user_id": self.user_id}
        if self.status in _STATUS_CLAUSES:
            clauses.append(_STATUS_CLAUSES[self.status])
        if self.asset is not None:
            clauses.append("a.symbol = :asset")
            params["asset"] = self.asset
        if self.trade_type is not None:
            clauses.append("t.trade_type = :trade_type")
            params["trade_type"] = self.trade_type.upper()
        if self.profitable is not None:
            clauses.append("t.pnl > 0" if self.profitable else "t.pnl <= 0")
        if self.liquidated is not None:
            clauses.append("t.liquidated = :liquidated")
            params["liquidated"] = self.liquidated
        if self.from_date is not None:
            clauses.append("t.created_at >= :from_date")
            params["from_date"] = self.from_date
        if self.to_date is not None:
            clauses.append("t.created_at <= :to_date")
            params["to_date"] = self.to_date
        if self.order_type is not None:
            clauses.append("t.order_type = :order_type")
            params["order_type"] = self.order_type
        if self.close_reason is not None:
            clauses.append("t.close_reason = :close_reason")
            params["close_reason"] = self.close_reason
        return " AND ".join(clauses), params

    def order_by(self) -> str:
        # Rows that tie on the key come in the order they were made: created_at, then the row
        # id (a batch inserts its rows in order-id order, so the id alone is not creation order).
        direction = "ASC" if self.sort_order == "asc" else "DESC"
        key = f"{SORT_COLUMNS[self.sort_by]} {direction} NULLS LAST, "
        if self.sort_by == "createdAt":
            key = ""
        return f"{key}t.created_at {direction}, t.id {direction}"


@dataclass(slots=True)
class TradeHistory:
    rows: list[dict[str, Any]]
    total: int
    analytics: dict[str, Any]


CLOSE_REASONS = ("manual", "sl", "tp", "liquidation")

_ANALYTICS = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE t.status = 'open') AS open,
       count(*) FILTER (WHERE t.status = 'closed' AND NOT t.liquidated) AS closed,
       count(*) FILTER (WHERE t.liquidated) AS liquidated,
       count(*) FILTER (WHERE t.status = 'pending') AS pending,
       count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE t.pnl > 0) AS profitable,
       count(*) FILTER (WHERE t.pnl <= 0) AS losing,
       count(*) FILTER (WHERE t.status = 'closed' AND t.pnl > 0) AS settled_won,
       coalesce(sum(t.margin), 0) AS total_margin,
       max(t.pnl) AS best,
       min(t.pnl) AS worst
FROM trades t JOIN assets a ON a.id = t.asset_id
WHERE {where}
"""

# The realized side from the close rows themselves, one row per reason.
_CLOSES = """
SELECT c.reason, count(*) AS closes, sum(c.pnl) AS pnl
FROM trade_closes c
JOIN trades t ON t.order_id = c.order_id
JOIN assets a ON a.id = t.asset_id
WHERE {where}
GROUP BY c.reason
"""

_ROWS = """
SELECT t.id, t.order_id, a.symbol, a.name AS asset_name, a.image_url AS asset_image,
       t.trade_type, t.order_type, t.status, t.margin, t.open_margin, t.leverage,
       t.trigger_price, t.open_price, t.close_price, t.liquidation_price, t.stop_loss,
       t.take_profit, t.pnl, t.liquidated, t.close_reason, t.created_at, t.opened_at,
       t.closed_at
FROM trades t JOIN assets a ON a.id = t.asset_id
WHERE {where}
ORDER BY {order}
"""


async def trade_history(db: AsyncEngine, query: HistoryFilter) -> TradeHistory:
    where, params = query.where()
    async with db.connect() as connection:
        summary = (await connection.execute(text(_ANALYTICS.format(where=where)), params)).one()
        closes = await connection.execute(text(_CLOSES.format(where=where)), params)
        by_reason = {row.reason: row for row in closes}
        page = await connection.execute(
            text(_ROWS.format(where=where, order=query.order_by()) + "LIMIT :limit OFFSET :offset"),
            {**params, "limit": query.limit, "offset": query.offset},
        )
        rows = [dict(row._mapping) for row in page]
    settled = summary.closed + summary.liquidated
    win_rate = (
        (Decimal(summary.settled_won * 100) / settled).quantize(Decimal("0.01"))
        if settled
        else Decimal("0.00")
    )
    analytics = {
        "totalTrades": summary.total,
        "openTrades": summary.open,
        "closedTrades": summary.closed,
        "liquidatedTrades": summary.liquidated,
        "pendingOrders": summary.pending,
        "cancelledOrders": summary.cancelled,
        "profitableTrades": summary.profitable,
        "losingTrades": summary.losing,
        "winRate": win_rate,
        "totalPnl": sum((row.pnl for row in by_reason.values()), Decimal("0.00")),
        "totalMargin": summary.total_margin,
        "bestTrade": summary.best,
        "worstTrade": summary.worst,
        "closes": sum(row.closes for row in by_reason.values()),
        "closeReasons": {
            reason: by_reason[reason].closes if reason in by_reason else 0
            for reason in CLOSE_REASONS
        },
    }
    return TradeHistory(rows, summary.total, analytics)


async def stream_trade_history(
    db: AsyncEngine, query: HistoryFilter, chunk_rows: int = 1000
) -> AsyncGenerator[Sequence[RowMapping], None]:
    """Every row the filter matches (no limit, no offset), in its order, `chunk_rows` at a time
    from a server-side cursor: never the whole result in memory, whatever its size. The
    connection (and its transaction, which the cursor needs) is held until the last chunk is
    taken or the iteration is closed."""
    where, params = query.where()
    sql = text(_ROWS.format(where=where, order=query.order_by()))
    async with db.connect() as connection:
        result = await connection.stream(sql, params)
        async for chunk in result.mappings().partitions(chunk_rows):
            yield chunk


_KLINES = """
SELECT {candle_start} AS start,
       (array_agg(b.open ORDER BY b.bucket))[1] AS open,
       max(b.high) AS high,
       min(b.low) AS low,
       (array_agg(b.close ORDER BY b.bucket DESC))[1] AS close,
       sum(b.ticks) AS ticks
FROM price_bars b JOIN assets a ON a.id = b.asset_id
WHERE a.symbol = :asset AND b.bucket >= :start AND b.bucket < :end
GROUP BY 1
ORDER BY 1
LIMIT :limit
"""
# A candle's start from a 1-minute bar's (domain/candles.py): a multiple of the length from
# the origin, or the calendar month in UTC.
_FIXED_START = (
    "to_timestamp(floor((extract(epoch FROM b.bucket) - :origin) / :step) * :step + :origin)"
)
_MONTH_START = "date_trunc('month', b.bucket AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


async def klines(
    db: AsyncEngine, asset: str, interval: Interval, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """The candles of `interval` from the 1-minute bars in `[start, end)` (both boundaries of
    the interval), oldest first, at most `limit`; a candle without a bar is left out."""
    sql = _KLINES.format(candle_start=_MONTH_START if interval.monthly else _FIXED_START)
    params: dict[str, Any] = {"asset": asset, "start": start, "end": end, "limit": limit}
    if not interval.monthly:
        params |= {"step": interval.seconds, "origin": interval.origin_s}
    async with db.connect() as connection:
        result = await connection.execute(text(sql), params)
        return [dict(row._mapping) for row in result]
