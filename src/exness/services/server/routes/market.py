"""Assets and candles, from the main DB."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import text

from exness.adapters.db.queries import klines
from exness.domain.assets import ASSETS
from exness.services.server.deps import DatabaseDep
from exness.services.server.errors import ApiError
from exness.services.server.responses import ExactJSONResponse
from exness.services.server.schemas import Asset, Failure, Kline, SupportedAssets

router = APIRouter(tags=["market"])

INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
MAX_CANDLES = 1000
DEFAULT_CANDLES = 500


@router.get("/supportedAssets", response_model=SupportedAssets)
async def supported_assets(db: DatabaseDep) -> dict[str, list[dict[str, object]]]:
    """The tradable assets and the decimals their prices are counted in."""
    async with db.connect() as connection:
        rows = await connection.execute(
            text("SELECT symbol, name, decimals, image_url FROM assets ORDER BY id")
        )
        return {
            "assets": [
                {
                    "symbol": r.symbol,
                    "name": r.name,
                    "decimals": r.decimals,
                    "imageUrl": r.image_url,
                }
                for r in rows
            ]
        }


def _utc(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@router.get("/klines", response_model=list[Kline], responses={400: {"model": Failure}})
async def candles(
    db: DatabaseDep,
    asset: Asset,
    interval: Literal["1m", "5m", "15m", "1h", "1d"],
    startTime: Annotated[int | None, Query(ge=0, le=10**11, description="epoch s")] = None,
    endTime: Annotated[int | None, Query(ge=0, le=10**11, description="epoch s")] = None,
) -> ExactJSONResponse:
    """Candles in Backpack's format, built from the prices this platform itself received
    (1-minute bars kept by the DB processor). At most 1000 per request."""
    step = INTERVALS[interval]
    end = endTime if endTime is not None else int(time.time()) + step
    start = startTime if startTime is not None else end - DEFAULT_CANDLES * step
    if start >= end:
        raise ApiError(400, "startTime must be before endTime", "INVALID_REQUEST")
    start -= start % step  # whole intervals, like the exchange
    rows = await klines(db, asset, step, _utc(start), _utc(end), MAX_CANDLES)
    unit = Decimal(1).scaleb(-ASSETS[asset].decimals)
    return ExactJSONResponse(
        [
            {
                "start": _stamp(row["start"]),
                "end": _stamp(row["start"] + timedelta(seconds=step)),
                "open": str(row["open"].quantize(unit)),
                "high": str(row["high"].quantize(unit)),
                "low": str(row["low"].quantize(unit)),
                "close": str(row["close"].quantize(unit)),
                "volume": "0",
                "trades": str(row["ticks"]),
            }
            for row in rows
        ]
    )
