"""Pending limit and stop orders (SPEC §7.3): the trader's list, and cancelling one."""

from __future__ import annotations

from fastapi import Request

from exness.domain.messages import Cancelled, CancelOrder, GetPendingOrders, PendingOrders
from exness.services.server.deps import SessionDep, engine_of
from exness.services.server.idempotency import attempt_of, deliver
from exness.services.server.responses import ExactJSONResponse, exact
from exness.services.server.routes import api_router
from exness.services.server.routes.trading import (
    ENGINE_FAILURES,
    IDEMPOTENCY_FAILURES,
    IDEMPOTENT,
    ORDER_FAILURES,
    answered,
    request_id,
)
from exness.services.server.schemas import Failure, OrderCancelBody, OrderCancelled
from exness.services.server.schemas import PendingOrders as PendingOrdersAnswer
from exness.services.server.views import cancelled_order, pending_order

router = api_router("orders")


@router.get("/orders/pending", response_model=PendingOrdersAnswer, responses=ENGINE_FAILURES)
async def pending_orders(request: Request, session: SessionDep) -> ExactJSONResponse:
    """The trader's limit and stop orders waiting for their trigger, oldest first, live from
    the engine."""
    engine = engine_of(request)
    reply = await engine.send(GetPendingOrders(engine.new_request_id(), session.user_id))
    orders = answered(reply, PendingOrders).orders
    return exact(PendingOrdersAnswer(orders=[pending_order(order) for order in orders]))


@router.post(
    "/order/cancel",
    response_model=OrderCancelled,
    responses={
        **ENGINE_FAILURES,
        **ORDER_FAILURES,
        409: {
            "model": Failure,
            "description": "ORDER_NOT_PENDING: already filled (close it instead) or cancelled; "
            "or IDEMPOTENCY_IN_FLIGHT",
        },
        422: IDEMPOTENCY_FAILURES[422],
    },
    openapi_extra=IDEMPOTENT,
)
async def cancel_order(
    request: Request, body: OrderCancelBody, session: SessionDep
) -> ExactJSONResponse:
    """Cancel a pending order: its reserved margin returns to the balance in full."""
    engine, attempt = engine_of(request), attempt_of(request)
    command = CancelOrder(request_id(engine, attempt), session.user_id, body.orderId)
    return exact(cancelled_order(answered(await deliver(engine, command, attempt), Cancelled)))
