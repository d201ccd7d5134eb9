"""The latest bid and ask of every asset (SPEC §7.1), as the engine last published them."""

from __future__ import annotations

import asyncio

from fastapi import Request

from exness.domain.assets import ASSETS
from exness.services.server.deps import quotes_of
from exness.services.server.responses import ExactJSONResponse, exact
from exness.services.server.routes import api_router
from exness.services.server.schemas import Failure, Quotes
from exness.services.server.views import quote_view

router = api_router("market")


@router.get("/quotes", response_model=Quotes, responses={503: {"model": Failure}})
async def quotes(request: Request) -> ExactJSONResponse:
    """Every asset's latest quote: `bid` (a long closes, a short opens there), `ask` (a long
    opens, a short closes there), `price` (the mid) in human units, exact; `ts` the feed's
    time in µs. No authentication: these are public prices. The live `quotes` channel of
    the WebSocket carries the same fields."""
    port = quotes_of(request)
    latest = await asyncio.gather(*(port.quote(asset) for asset in ASSETS))
    return exact(Quotes(quotes=[quote_view(a, q) for a, q in zip(ASSETS, latest, strict=True)]))
