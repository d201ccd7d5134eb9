"""Opening, closing and modifying positions (SPEC §4, §7), open positions live from the
engine, history from the DB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request, Response

from exness.adapters.db.queries import (
    CloseReasonFilter,
    HistoryFilter,
    OrderTypeFilter,
    SortBy,
    Status,
    trade_history,
)
from exness.adapters.engine_port import EnginePort, QuotePort
from exness.domain.messages import (
    CloseTrade,
    CreateTrade,
    GetOpenTrades,
    Modified,
    ModifyTrade,
    OpenPositions,
    PendingPlaced,
    PositionClosed,
    PositionOpened,
    Reply,
    Result,
)
from exness.services.server.deps import SessionDep, database_of, engine_of, quotes_of
from exness.services.server.errors import ApiError, rejection_status
from exness.services.server.idempotency import Attempt, attempt_of, deliver
from exness.services.server.responses import ExactJSONResponse, exact
from exness.services.server.routes import api_router
from exness.services.server.schemas import (
    Asset,
    Failure,
    History,
    HistoryAnalytics,
    ModifiedOrder,
    ModifiedPosition,
    OpenTrades,
    OrderPlaced,
    Pagination,
    TradeCloseBody,
    TradeClosedAnswer,
    TradeCreateBody,
    TradeCreated,
    TradeModifyBody,
)
from exness.services.server.statement import csv_statement
from exness.services.server.views import (
    closed_trade,
    created_trade,
    history_trade,
    modified,
    open_trade,
    placed_order,
)

router = api_router("trading")

Responses = dict[int | str, dict[str, Any]]
ENGINE_FAILURES: Responses = {
    400: {"model": Failure, "description": "bad input, insufficient balance, slippage exceeded"},
    401: {"model": Failure},
    503: {"model": Failure, "description": "no fresh price, or the engine is unreachable"},
    504: {
        "model": Failure,
        "description": "the engine did not answer in time: retry with the same Idempotency-Key "
        "to learn the outcome",
    },
}
ORDER_FAILURES: Responses = {
    403: {"model": Failure, "description": "another trader's order"},
    404: {"model": Failure, "description": "no such order"},
}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "1–255 visible ASCII characters. The first answer (every one but a 5xx) is "
    "kept 24 h for this trader and key and given back to a retry with the same body, with "
    "`Idempotent-Replayed: true`, without applying the request again; after a 504 the retry "
    "gives the real outcome. Another body with the same key is 422; a retry while the first "
    "attempt is in flight is 409.",
}
IDEMPOTENCY_FAILURES: Responses = {
    409: {
        "model": Failure,
        "description": "IDEMPOTENCY_IN_FLIGHT: the key's first attempt is "
        "still being answered; retry in a moment",
    },
    422: {
        "model": Failure,
        "description": "IDEMPOTENCY_KEY_REUSED: the key was used for a different request",
    },
}
IDEMPOTENT: dict[str, Any] = {"parameters": [IDEMPOTENCY_HEADER]}

R = TypeVar("R", bound=Result)


def answered(reply: Reply, expected: type[R]) -> R:
    """The reply's result, or the rejection as an ApiError with its HTTP status."""
    if not reply.ok:
        raise ApiError(rejection_status(reply.code), reply.message or "rejected", reply.code)
    result = reply.result
    if not isinstance(result, expected):
        raise TypeError(f"the engine answered {type(result).__name__}, not {expected.__name__}")
    return result


def request_id(engine: EnginePort, attempt: Attempt | None) -> str:
    """The engine request id: the idempotent attempt's, or a new one."""
    return attempt.request_id if attempt is not None else engine.new_request_id()


async def side_quote(quotes: QuotePort, asset: str, side: str) -> int:
    """The price a trader sees now for their side: the ask to buy (long), the bid to sell
    (short), as the engine last published it in price-ASSET."""
    quote = await quotes.quote(asset)
    if quote is None:
        raise ApiError(503, f"no {asset} price has been received yet", "PRICE_UNAVAILABLE")
    return quote.ask if side == "long" else quote.bid


@router.post(
    "/trade/create",
    response_model=TradeCreated | OrderPlaced,
    responses={**ENGINE_FAILURES, **IDEMPOTENCY_FAILURES},
    openapi_extra=IDEMPOTENT,
)
async def create_trade(
    request: Request, body: TradeCreateBody, session: SessionDep
) -> ExactJSONResponse:
    """Open a position at market, or place a limit or stop order (SPEC §7.1–7.3).

    A market order fills at the engine's ask (long) or bid (short) and is refused if that is
    more than `slippage` bps from the quote: `price` if given, else the ask (long) or bid
    (short) the server holds when the request arrives. A limit or stop order reserves its
    margin and fills at the first tick that crosses `triggerPrice`; the answer then has
    `"status": "pending"`. `stopLoss` and `takeProfit` attach to the position."""
    engine, quotes, attempt = engine_of(request), quotes_of(request), attempt_of(request)
    quote = None
    if body.orderType == "market" and (attempt is None or attempt.outcome is None):
        quote = (
            body.price
            if body.price is not None
            else await side_quote(quotes, body.asset, body.type)
        )
    command = CreateTrade(
        request_id=request_id(engine, attempt),
        user_id=session.user_id,
        order_id=str(uuid.uuid4()),
        asset=body.asset,
        side=body.type,
        margin=body.margin,
        leverage=body.leverage,
        slippage_bps=body.slippage or 0,
        quote=quote,
        order_type=body.orderType,
        trigger_price=body.triggerPrice,
        stop_loss=body.stopLoss,
        take_profit=body.takeProfit,
    )
    reply = await deliver(engine, command, attempt)
    if isinstance(reply.result, PendingPlaced):
        return exact(placed_order(reply.result))
    return exact(created_trade(answered(reply, PositionOpened)))


@router.post(
    "/trade/close",
    response_model=TradeClosedAnswer,
    responses={
        **ENGINE_FAILURES,
        **ORDER_FAILURES,
        409: {
            "model": Failure,
            "description": "already closed or liquidated; a pending order (cancel it); or "
            "IDEMPOTENCY_IN_FLIGHT",
        },
        422: IDEMPOTENCY_FAILURES[422],
    },
    openapi_extra=IDEMPOTENT,
)
async def close_trade(
    request: Request, body: TradeCloseBody, session: SessionDep
) -> ExactJSONResponse:
    """Close a position at the engine's latest bid (long) or ask (short), whole or `margin`
    cents of it (SPEC §7.4): that part's PnL is realized, the rest stays open with the same
    entry, leverage and liquidation price. The wallet gets max(0, part + pnl)."""
    engine, attempt = engine_of(request), attempt_of(request)
    command = CloseTrade(request_id(engine, attempt), session.user_id, body.orderId, body.margin)
    return exact(closed_trade(answered(await deliver(engine, command, attempt), PositionClosed)))


@router.post(
    "/trade/modify",
    response_model=ModifiedPosition | ModifiedOrder,
    responses={
        **ENGINE_FAILURES,
        **ORDER_FAILURES,
        409: {
            "model": Failure,
            "description": "already closed, liquidated or cancelled; or IDEMPOTENCY_IN_FLIGHT",
        },
        422: IDEMPOTENCY_FAILURES[422],
    },
    openapi_extra=IDEMPOTENT,
)
async def modify_trade(
    request: Request, body: TradeModifyBody, session: SessionDep
) -> ExactJSONResponse:
    """Set (an integer), clear (`null`) or keep (absent) the stop loss and take profit of an
    open position or a pending order (SPEC §7.2). Checked against the current bid (long) or
    ask (short) — the trigger price for a pending order — and the liquidation price."""
    engine, attempt = engine_of(request), attempt_of(request)
    given = body.model_fields_set
    command = ModifyTrade(
        request_id(engine, attempt),
        session.user_id,
        body.orderId,
        stop_loss=body.stopLoss,
        take_profit=body.takeProfit,
        change_stop_loss="stopLoss" in given,
        change_take_profit="takeProfit" in given,
    )
    return exact(modified(answered(await deliver(engine, command, attempt), Modified)))


@router.get("/trades/open", response_model=OpenTrades, responses=ENGINE_FAILURES)
async def open_trades(request: Request, session: SessionDep) -> ExactJSONResponse:
    """The trader's open positions, live from the engine, with their stop loss and take
    profit, the price each would close at now (bid for a long, ask for a short) and the PnL
    there."""
    engine = engine_of(request)
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
    request: Request,
    query: Annotated[HistoryFilter, Depends(history_filter)],
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: the statement (SPEC §7.7), as a file to download"),
    ] = "json",
) -> Response:
    """The trader's trades from the main DB, filtered, sorted and paginated, with analytics
    over everything the filter matches; or, with `format=csv`, all of them as a statement."""
    db = database_of(request)
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
