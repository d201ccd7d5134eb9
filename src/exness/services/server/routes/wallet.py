"""Balances and the account, live from the engine (integers in minor units)."""

from __future__ import annotations

from fastapi import Request

from exness.domain.messages import Account, Balance, GetAccount, GetUsdcBalance, GetUserBalance
from exness.services.server.deps import SessionDep, engine_of
from exness.services.server.responses import ExactJSONResponse, exact
from exness.services.server.routes import api_router
from exness.services.server.routes.trading import ENGINE_FAILURES, answered
from exness.services.server.schemas import AccountAnswer, Balances, UsdBalance
from exness.services.server.views import account, balances

router = api_router("wallet")


@router.get("/balance", response_model=Balances, responses=ENGINE_FAILURES)
async def balance(request: Request, session: SessionDep) -> ExactJSONResponse:
    """Every balance in the seed's shape: USDC in cents (decimals 2); coins are never held."""
    engine = engine_of(request)
    reply = await engine.send(GetUserBalance(engine.new_request_id(), session.user_id))
    return exact(balances(answered(reply, Balance).balance))


@router.get("/balance/usd", response_model=UsdBalance, responses=ENGINE_FAILURES)
async def usd_balance(request: Request, session: SessionDep) -> ExactJSONResponse:
    """The USD balance in cents."""
    engine = engine_of(request)
    reply = await engine.send(GetUsdcBalance(engine.new_request_id(), session.user_id))
    return exact(UsdBalance(balance=answered(reply, Balance).balance))


@router.get("/account", response_model=AccountAnswer, responses=ENGINE_FAILURES)
async def trader_account(request: Request, session: SessionDep) -> ExactJSONResponse:
    """The account at a glance (SPEC §7.6), in cents: free balance, margin reserved by
    pending orders, margin in open positions, their unrealized PnL at the current bid/ask
    (each position's loss capped at its margin), equity, and the margin level (equity ÷ used
    margin × 100, 2 decimals, null with no position)."""
    engine = engine_of(request)
    reply = await engine.send(GetAccount(engine.new_request_id(), session.user_id))
    return exact(account(answered(reply, Account)))
