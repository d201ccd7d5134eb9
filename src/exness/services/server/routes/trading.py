"""Opening and closing positions, open positions live from the engine, history from the DB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from exness.adapters.db.queries import HistoryFilter, SortBy, Status, trade_history
from exness.domain.messages import Reply
from exness.services.server.deps import Platform, PlatformDep, SessionDep
from exness.services.server.errors import ApiError, rejection_status
from exness.services.server.responses import ExactJSONResponse
from exness.services.server.schemas import (
    Asset,
    Failure,
    History,
    OpenTrades,
    TradeCloseBody,
    TradeClosedAnswer,
    TradeCreateBody,
    TradeCreated,
    TradeType,
)
from exness.services.server.views import history_trade, open_trade, price, usd

router = APIRouter(tags=["trading"])

ENGINE_FAILURES = {
    400: {"model": Failure, "description": "bad input, insufficient balance, slippage exceeded"},
    401: {"model": Failure},
    503: {"model": Failure, "description": "no fresh price, or the engine is unreachable"},
    504: {"model": Failure, "description": "the engine did not answer in time"},
}


def answered(reply: Reply) -> dict:  # type: ignore[type-arg]
    if not reply.ok:
        raise ApiError(rejection_status(reply.code), reply.message or "rejected", reply.code)
    assert reply.data is not None
    return reply.data


async def current_quote(platform: Platform, asset: str) -> int:
    """The price a trader sees now: the engine's latest, as published in price-ASSET."""
    price = await platform.quotes.price(asset)
    if price is None:
        raise ApiError(503, f"no {asset} price has been received yet", "PRICE_UNAVAILABLE")
    return price


@router.post("/trade/create", response_model=TradeCreated, responses=ENGINE_FAILURES)
async def create_trade(
    body: TradeCreateBody, session: SessionDep, platform: PlatformDep
) -> ExactJSONResponse:
    """Open a position. The quote is `price` if given, else the latest price when the request
    arrives; the engine refuses to fill more than `slippage` bps away from it."""
    quote = body.price if body.price is not None else await current_quote(platform, body.asset)
    order_id = str(uuid.uuid4())
    reply = await platform.engine.call(
        "CREATE_TRADE",
        session.user_id,
        {
            "orderId": order_id,
            "asset": body.asset,
            "type": body.type,
            "margin": body.margin,
            "leverage": body.leverage,
            "slippage": body.slippage,
            "price": quote,
        },
    )
    data = answered(reply)
    return ExactJSONResponse(
        {
            "orderId": data["orderId"],
            "asset": data["asset"],
            "type": data["type"],
            "margin": data["margin"],
            "leverage": data["leverage"],
            "openPrice": price(data["asset"], data["openPrice"]),
            "liquidationPrice": price(data["asset"], data["liquidationPrice"]),
            "balance": data["balance"],
        }
    )


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
    body: TradeCloseBody, session: SessionDep, platform: PlatformDep
) -> ExactJSONResponse:
    """Close a position at the engine's latest price; the wallet gets max(0, margin + pnl)."""
    reply = await platform.engine.call("CLOSE_TRADE", session.user_id, {"orderId": body.orderId})
    data = answered(reply)
    return ExactJSONResponse(
        {
            "orderId": data["orderId"],
            "closePrice": price(data["asset"], data["closePrice"]),
            "pnl": usd(data["pnl"]),
            "liquidated": data["liquidated"],
            "balance": data["balance"],
        }
    )


@router.get("/trades/open", response_model=OpenTrades, responses=ENGINE_FAILURES)
async def open_trades(session: SessionDep, platform: PlatformDep) -> ExactJSONResponse:
    """The trader's open positions, live from the engine, with current price and PnL."""
    data = answered(await platform.engine.call("GET_OPEN_TRADES", session.user_id))
    return ExactJSONResponse({"trades": [open_trade(trade) for trade in data["trades"]]})


WHEN = "ISO 8601 date or date-time (UTC unless it says), or epoch seconds"


def _utc(moment: datetime | None) -> datetime | None:
    """A date-time without a zone is UTC (so it compares with one that has a zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def history_filter(
    session: SessionDep,
    status: Status = "all",
    asset: Asset | None = None,
    tradeType: TradeType | None = None,
    profitable: bool | None = None,
    liquidated: bool | None = None,
    fromDate: Annotated[datetime | None, Query(description=WHEN)] = None,
    toDate: Annotated[datetime | None, Query(description=WHEN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sortBy: SortBy = "createdAt",
    sortOrder: Literal["asc", "desc"] = "desc",
) -> HistoryFilter:
    fromDate, toDate = _utc(fromDate), _utc(toDate)
    if fromDate and toDate and fromDate > toDate:
        raise ApiError(400, "fromDate is after toDate", "INVALID_REQUEST")
    return HistoryFilter(
        session.user_id,
        status,
        asset,
        tradeType,
        profitable,
        liquidated,
        fromDate,
        toDate,
        limit,
        offset,
        sortBy,
        sortOrder,
    )


@router.get("/trade/history", response_model=History, responses={401: {"model": Failure}})
async def history(
    query: Annotated[HistoryFilter, Depends(history_filter)], platform: PlatformDep
) -> ExactJSONResponse:
    """The trader's trades from the main DB, filtered, sorted and paginated, with analytics
    over everything the filter matches."""
    found = await trade_history(platform.db, query)
    return ExactJSONResponse(
        {
            "success": True,
            "data": [history_trade(row) for row in found.rows],
            "analytics": found.analytics,
            "pagination": {
                "total": found.total,
                "limit": query.limit,
                "offset": query.offset,
                "hasMore": query.offset + len(found.rows) < found.total,
            },
        }
    )
