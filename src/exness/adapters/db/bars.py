"""The 1-minute price bars of a window, for the live candle a server starts from (SPEC §8
`candles:ASSET:INTERVAL`): the bars the DB processor wrote, with the times of the ticks that
opened and closed them and the newest price_stream entry each has merged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.domain.assets import ASSETS

__all__ = ["Bar", "bars_between"]

_BARS = text(
    """
SELECT b.open, b.high, b.low, b.close, b.ticks, b.first_ts, b.last_ts,
       b.last_entry_ms, b.last_entry_seq
FROM price_bars b JOIN assets a ON a.id = b.asset_id
WHERE a.symbol = :asset AND b.bucket >= :start AND b.bucket < :end
ORDER BY b.bucket
"""
)


@dataclass(frozen=True, slots=True)
class Bar:
    open: int  # asset units
    high: int
    low: int
    close: int
    ticks: int
    first_ts: int  # µs: the tick that opened the bar
    last_ts: int  # µs: the tick that closed it
    last_entry: tuple[int, int]  # the newest price_stream entry merged, (ms, seq)


def _units(value: Decimal, decimals: int) -> int:
    return int(value.scaleb(decimals))


async def bars_between(db: AsyncEngine, asset: str, start: datetime, end: datetime) -> list[Bar]:
    """The bars of `asset` whose minute starts in `[start, end)`, oldest first."""
    decimals = ASSETS[asset].decimals
    async with db.connect() as connection:
        rows = await connection.execute(_BARS, {"asset": asset, "start": start, "end": end})
        return [
            Bar(
                _units(row.open, decimals),
                _units(row.high, decimals),
                _units(row.low, decimals),
                _units(row.close, decimals),
                int(row.ticks),
                int(row.first_ts),
                int(row.last_ts),
                (int(row.last_entry_ms), int(row.last_entry_seq)),
            )
            for row in rows
        ]
