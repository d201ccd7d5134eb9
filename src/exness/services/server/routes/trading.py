"""Opening and closing positions, open positions live from the engine, history from the DB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Response

from exness.adapters.db.queries import (
    CloseReasonFilter,
    HistoryFilter,
    OrderTypeFilter,
    SortBy,
    Status,
    trade_history,
)
from exness.adapters.engine_port import QuotePort
from exness.domain.messages import (
    CloseTrade,
    CreateTrade,
    GetOpenTrades,
    OpenPositions,
    PositionClosed,
    PositionOpened,
    Reply,
    Result,
)
from exness.services.server.deps import DatabaseDep, EngineDep, QuotesDep, SessionDep
from exness.services.server.errors import ApiError, rejection_status
from exness.services.server.responses import ExactJSONResponse, exact
from exness.services.server.schemas import (
    Asset,
    Failure,
    History,
    HistoryAnalytics,
    OpenTrades,
    Pagination,
    TradeCloseBody,
    TradeClosedAnswer,
    TradeCreateBody,
    TradeCreated,
)
from exness.services.server.statement import csv_statement
from exness.services.server.views import closed_trade, created_trade, history_trade, open_trade

router = APIRouter(tags=["trading"])

Responses = dict[int | str, dict[str, Any]]
ENGINE_FAILURES: Responses = {
    400: {"model": Failure, "description": "bad input, insufficient balance, slippage exceeded"},
    401: {"model": Failure},
    503: {"model": Failure, "description": "no fresh price, or the engine is unreachable"},
    504: {"model": Failure, "description": "the engine did not answer in time"},
}

R = TypeVar("R", bound=Result)


def answered(reply: Reply, expected: type[R]) -> R:
    """The reply's result, or the rejection as an ApiError with its HTTP status."""
    if not reply.ok:
        raise ApiError(rejection_status(reply.code), reply.message or "rejected", reply.code)
    result = reply.result
    if not isinstance(result, expected):
        raise TypeError(f"the engine answered {type(result).__name__}, not {expected.__name__}")
    return result


async def current_quote(quotes: QuotePort, asset: str) -> int:
    """The price a trader sees now: the engine's latest, as published in price-ASSET."""
    quote = await quotes.quote(asset)
    if quote is None:
        raise ApiError(503, f"no {asset} price has been received yet", "PRICE_UNAVAILABLE")
    return quote.price


@router.post("/trade/create", response_model=TradeCreated, responses=ENGINE_FAILURES)
async def create_trade(
    body: TradeCreateBody, session: SessionDep, engine: EngineDep, quotes: QuotesDep
) -> ExactJSONResponse:
    """Open a position. The quote is `price` if given, else the latest price when the request
    arrives; the engine refuses to fill more than `slippage` bps away from it."""
    quote = body.price if body.price is not None else await current_quote(quotes, body.asset)
    command = CreateTrade(
        request_id=engine.new_request_id(),
        user_id=session.user_id,
        order_id=str(uuid.uuid4()),
        asset=body.asset,
        side=body.type,
        margin=body.margin,
        leverage=body.leverage,
        slippage_bps=body.slippage,
        quote=quote,
    )
    return exact(created_trade(answered(await engine.send(command), PositionOpened)))


@router.post(
    "/trade/close",
    response_model=TradeClosedAnswer,
    responses={
        **ENGINE_FAILURES,
        403: {"model": Failure, "description": "another trader's order"},
        404: {"model": Failure, "description": "no such order"},
        409: {"model": Failure, "description": "already closed or liquidated"},
    },
)
async def close_trade(
    body: TradeCloseBody, session: SessionDep, engine: EngineDep
) -> ExactJSONResponse:
    """Close a position at the engine's latest price; the wallet gets max(0, margin + pnl)."""
    command = CloseTrade(engine.new_request_id(), session.user_id, body.orderId)
    return exact(closed_trade(answered(await engine.send(command), PositionClosed)))


@router.get("/trades/open", response_model=OpenTrades, responses=ENGINE_FAILURES)
async def open_trades(session: SessionDep, engine: EngineDep) -> ExactJSONResponse:
    """The trader's open positions, live from the engine, with current price and PnL."""
    reply = await engine.send(GetOpenTrades(engine.new_request_id(), session.user_id))
    positions = answered(reply, OpenPositions).positions
    return exact(OpenTrades(trades=[open_trade(item) for item in positions]))


WHEN = "ISO 8601 date or date-time (UTC unless it says), or epoch seconds"
MAX_HISTORY_LIMIT = 1000  # the seed's web client asks for 1000 at once
TRADE_TYPE_ANY_CASE = "^([Ll][Oo][Nn][Gg]|[Ss][Hh][Oo][Rr][Tt])$"


def _utc(moment: datetime | None) -> datetime | None:
    """A date-time without a zone is UTC (so it compares with one that has a zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def history_filter(
    session: SessionDep,
    status: Annotated[
        Status,
        Query(
            description="all: every trade that opened (open or closed); open; closed (liquidated "
            "ones included); liquidated; pending and cancelled: limit/stop orders waiting or "
            "cancelled before they filled; any: every order, whatever its status"
        ),
    ] = "all",
    asset: Asset | None = None,
    tradeType: Annotated[
        str | None,
        Query(
            description="long or short, in any case (LONG, Long)",
            json_schema_extra={"pattern": TRADE_TYPE_ANY_CASE},
        ),
    ] = None,
    profitable: bool | None = None,
    liquidated: bool | None = None,
    fromDate: Annotated[datetime | None, Query(description=WHEN)] = None,
    toDate: Annotated[datetime | None, Query(description=WHEN)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sortBy: SortBy = "createdAt",
    sortOrder: Literal["asc", "desc"] = "desc",
    orderType: OrderTypeFilter | None = None,
    closeReason: Annotated[
        CloseReasonFilter | None, Query(description="that of the trade's last close")
    ] = None,
) -> HistoryFilter:
    fromDate, toDate = _utc(fromDate), _utc(toDate)
    if fromDate and toDate and fromDate > toDate:
        raise ApiError(400, "fromDate is after toDate", "INVALID_REQUEST")
    side = None if tradeType is None else tradeType.lower()
    if side not in (None, "long", "short"):
        raise ApiError(400, "tradeType must be long or short (in any case)", "INVALID_REQUEST")
    return HistoryFilter(
        session.user_id,
        status,
        asset,
        side,
        profitable,
        liquidated,
        fromDate,
        toDate,
        limit,
        offset,
        sortBy,
        sortOrder,
        orderType,
        closeReason,
    )


@router.get(
    "/trade/history",
    response_model=History,
    responses={
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "with format=csv: the statement, every matching row (limit and "
            "offset do not apply), a header row of the JSON field names, streamed",
        },
        401: {"model": Failure},
    },
)
async def history(
    query: Annotated[HistoryFilter, Depends(history_filter)],
    db: DatabaseDep,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: the statement (SPEC §7.7), as a file to download"),
    ] = "json",
) -> Response:
    """The trader's trades from the main DB, filtered, sorted and paginated, with analytics
    over everything the filter matches; or, with `format=csv`, all of them as a statement."""
    if format == "csv":
        return csv_statement(db, query)
    found = await trade_history(db, query)
    now = datetime.now(UTC)
    return exact(
        History(
            data=[history_trade(row, now) for row in found.rows],
            analytics=HistoryAnalytics(**found.analytics),
            pagination=Pagination(
                total=found.total,
                limit=query.limit,
                offset=query.offset,
                hasMore=query.offset + len(found.rows) < found.total,
            ),
        )
    )
