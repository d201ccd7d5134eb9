"""Candle intervals (SPEC §4 `/klines`): Backpack's names, each aligned to UTC boundaries.

A candle covers `[start, next start)`. Every interval of a fixed length starts on a multiple
of its length counted from an origin: the Unix epoch (1970-01-01 00:00 UTC) for all of them
except the week, which starts on Monday 00:00 UTC (1970-01-05 is the first Monday after the
epoch). So 1h..12h and 1d start at UTC hours and midnights, and 3d every third UTC midnight
counted from the epoch (as Binance counts them): the same boundaries whatever the request
asks, and no candle ever straddles two. A month starts on the 1st at 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["EPOCH", "INTERVALS", "Interval"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR


@dataclass(frozen=True, slots=True)
class Interval:
    name: str
    seconds: int  # the fixed length; 0 for the calendar month
    origin: datetime = EPOCH  # boundaries are origin + k * seconds

    @property
    def monthly(self) -> bool:
        return self.seconds == 0

    def floor(self, moment: datetime) -> datetime:
        """The start of the candle that holds `moment` (an aware datetime)."""
        moment = moment.astimezone(UTC)
        if self.monthly:
            return datetime(moment.year, moment.month, 1, tzinfo=UTC)
        length = timedelta(seconds=self.seconds)
        return self.origin + ((moment - self.origin) // length) * length

    def ceil(self, moment: datetime) -> datetime:
        """`moment` if it is a boundary, else the start of the next candle."""
        start = self.floor(moment)
        return start if start == moment else self.shift(start, 1)

    def shift(self, start: datetime, candles: int) -> datetime:
        """The boundary `candles` candles after (before, if negative) the boundary `start`."""
        if self.monthly:
            index = start.year * 12 + (start.month - 1) + candles
            return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)
        return start + timedelta(seconds=self.seconds * candles)

    @property
    def origin_s(self) -> int:
        """The origin in epoch seconds (for grouping in SQL)."""
        return (self.origin - EPOCH) // timedelta(seconds=1)


INTERVALS: dict[str, Interval] = {
    interval.name: interval
    for interval in (
        Interval("1m", _MINUTE),
        Interval("3m", 3 * _MINUTE),
        Interval("5m", 5 * _MINUTE),
        Interval("15m", 15 * _MINUTE),
        Interval("30m", 30 * _MINUTE),
        Interval("1h", _HOUR),
        Interval("2h", 2 * _HOUR),
        Interval("4h", 4 * _HOUR),
        Interval("6h", 6 * _HOUR),
        Interval("8h", 8 * _HOUR),
        Interval("12h", 12 * _HOUR),
        Interval("1d", _DAY),
        Interval("3d", 3 * _DAY),
        Interval("1w", 7 * _DAY, _MONDAY),
        Interval("1month", 0),
    )
}
