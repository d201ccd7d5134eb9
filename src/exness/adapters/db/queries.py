"""What the HTTP server reads from (and, for sign-in, writes to) the main database.

Trades are written only by the DB processor; the server reads them for history. Money
comes back as `Decimal` (NUMERIC), exact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.domain.candles import Interval

__all__ = ["HistoryFilter", "TradeHistory", "Users", "klines", "trade_history"]


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
    "status": "(t.closed_at IS NOT NULL)",
    "duration": "(coalesce(t.closed_at, now()) - t.created_at)",
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
# closed: every settled trade, liquidated ones included (as their `status` says);
# liquidated: only those
Status = Literal["all", "open", "closed", "liquidated"]


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

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["t.user_id = :user_id"]
        params: dict[str, Any] = {"user_id": self.user_id}
        if self.status == "open":
            clauses.append("t.closed_at IS NULL")
        elif self.status == "closed":
            clauses.append("t.closed_at IS NOT NULL")
        elif self.status == "liquidated":
            clauses.append("t.liquidated")
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
        return " AND ".join(clauses), params


@dataclass(slots=True)
class TradeHistory:
    rows: list[dict[str, Any]]
    total: int
    analytics: dict[str, Any]


_ANALYTICS = """
SELECT count(*) AS total,
       count(*) FILTER (WHERE t.closed_at IS NULL) AS open,
       count(*) FILTER (WHERE t.closed_at IS NOT NULL AND NOT t.liquidated) AS closed,
       count(*) FILTER (WHERE t.liquidated) AS liquidated,
       count(*) FILTER (WHERE t.pnl > 0) AS profitable,
       count(*) FILTER (WHERE t.pnl <= 0) AS losing,
       coalesce(sum(t.pnl), 0) AS total_pnl,
       coalesce(sum(t.margin), 0) AS total_margin,
       max(t.pnl) AS best,
       min(t.pnl) AS worst
FROM trades t JOIN assets a ON a.id = t.asset_id
WHERE {where}
"""

_PAGE = """
SELECT t.id, t.order_id, a.symbol, a.name AS asset_name, a.image_url AS asset_image,
       t.trade_type, t.margin, t.leverage, t.open_price, t.close_price, t.liquidation_price,
       t.pnl, t.liquidated, t.created_at, t.closed_at
FROM trades t JOIN assets a ON a.id = t.asset_id
WHERE {where}
ORDER BY {order} NULLS LAST, t.id {direction}
LIMIT :limit OFFSET :offset
"""


async def trade_history(db: AsyncEngine, query: HistoryFilter) -> TradeHistory:
    where, params = query.where()
    direction = "ASC" if query.sort_order == "asc" else "DESC"
    order = f"{SORT_COLUMNS[query.sort_by]} {direction}"
    async with db.connect() as connection:
        summary = (await connection.execute(text(_ANALYTICS.format(where=where)), params)).one()
        page = await connection.execute(
            text(_PAGE.format(where=where, order=order, direction=direction)),
            {**params, "limit": query.limit, "offset": query.offset},
        )
        rows = [dict(row._mapping) for row in page]
    settled = summary.closed + summary.liquidated
    win_rate = (
        (Decimal(summary.profitable * 100) / settled).quantize(Decimal("0.01"))
        if settled
        else Decimal("0.00")
    )
    analytics = {
        "totalTrades": summary.total,
        "openTrades": summary.open,
        "closedTrades": summary.closed,
        "liquidatedTrades": summary.liquidated,
        "profitableTrades": summary.profitable,
        "losingTrades": summary.losing,
        "winRate": win_rate,
        "totalPnl": summary.total_pnl,
        "totalMargin": summary.total_margin,
        "bestTrade": summary.best,
        "worstTrade": summary.worst,
    }
    return TradeHistory(rows, summary.total, analytics)


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
