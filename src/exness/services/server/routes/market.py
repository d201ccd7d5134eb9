"""Assets and candles, from the main DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy import text

from exness.adapters.db.queries import klines
from exness.domain.assets import ASSETS
from exness.domain.candles import EPOCH, INTERVALS, Interval
from exness.services.server.deps import database_of
from exness.services.server.errors import ApiError
from exness.services.server.responses import ExactJSONResponse
from exness.services.server.routes import api_router
from exness.services.server.schemas import (
    Asset,
    Failure,
    Kline,
    KlineInterval,
    SupportedAssets,
)

router = api_router("market")

MAX_CANDLES = 1000
DEFAULT_CANDLES = 500  # the default window: the latest 500 candles, the current one included


@router.get("/supportedAssets", response_model=SupportedAssets)
async def supported_assets(request: Request) -> dict[str, list[dict[str, object]]]:
    """The tradable assets and the decimals their prices are counted in."""
    async with database_of(request).connect() as connection:
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
    return EPOCH + timedelta(seconds=seconds)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def window(
    interval: Interval, start_s: int | None, end_s: int | None, now: datetime
) -> tuple[datetime, datetime]:
    """The candle boundaries `[start, end)` a request covers: from the start of the candle
    holding `startTime` to the end of the one holding the last moment before `endTime`, so
    every candle is whole; by default the latest DEFAULT_CANDLES candles up to now."""
    end = (
        interval.ceil(_utc(end_s)) if end_s is not None else interval.shift(interval.floor(now), 1)
    )
    if start_s is None:
        return interval.shift(end, -DEFAULT_CANDLES), end
    start = _utc(start_s)
    if start >= (_utc(end_s) if end_s is not None else now):
        raise ApiError(400, "startTime must be before endTime (and before now)", "INVALID_REQUEST")
    return interval.floor(start), end


@router.get("/klines", response_model=list[Kline], responses={400: {"model": Failure}})
async def candles(
    request: Request,
    asset: Asset,
    interval: KlineInterval,
    startTime: Annotated[int | None, Query(ge=0, le=10**11, description="epoch s")] = None,
    endTime: Annotated[int | None, Query(ge=0, le=10**11, description="epoch s")] = None,
) -> ExactJSONResponse:
    """Candles in Backpack's format, built from the prices this platform itself received
    (1-minute bars kept by the DB processor), oldest first, at most 1000 (the first 1000 of
    the window). Intervals are aligned to UTC: hours and days on UTC boundaries, `3d` every
    third day from 1970-01-01, `1w` from Monday 00:00, `1month` from the 1st. By default the
    latest 500 candles; candles without any price are left out."""
    length = INTERVALS[interval]
    start, end = window(length, startTime, endTime, datetime.now(UTC))
    rows = await klines(database_of(request), asset, length, start, end, MAX_CANDLES)
    unit = Decimal(1).scaleb(-ASSETS[asset].decimals)
    return ExactJSONResponse(
        [
            {
                "start": _stamp(row["start"]),
                "end": _stamp(length.shift(row["start"], 1)),
                "open": str(row["open"].quantize(unit)),
                "high": str(row["high"].quantize(unit)),
                "low": str(row["low"].quantize(unit)),
                "close": str(row["close"].quantize(unit)),
                "volume": "0",
                "quoteVolume": "0",
                "trades": str(row["ticks"]),
            }
            for row in rows
        ]
    )
