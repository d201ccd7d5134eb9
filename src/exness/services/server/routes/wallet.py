"""Balances, live from the engine (integers in minor units)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from exness.services.server.deps import PlatformDep, SessionDep
from exness.services.server.routes.trading import ENGINE_FAILURES, answered
from exness.services.server.schemas import Balances, UsdBalance

router = APIRouter(tags=["wallet"])


@router.get("/balance", response_model=Balances, responses=ENGINE_FAILURES)
async def balance(session: SessionDep, platform: PlatformDep) -> dict[str, Any]:
    """Every balance in the seed's shape: USDC in cents (decimals 2); coins are never held."""
    return answered(await platform.engine.call("GET_USER_BALANCE", session.user_id))


@router.get("/balance/usd", response_model=UsdBalance, responses=ENGINE_FAILURES)
async def usd_balance(session: SessionDep, platform: PlatformDep) -> dict[str, Any]:
    """The USD balance in cents."""
    return answered(await platform.engine.call("GET_USDC_BALANCE", session.user_id))
