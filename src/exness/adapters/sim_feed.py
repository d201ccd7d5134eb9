"""PRICE_FEED=sim: a seeded random walk of SOL, ETH and BTC, for running offline.

Each asset follows a geometric random walk with a realistic volatility (by default ~70 %
a year, scaled to the step), starting near a realistic price (SOL ≈ 150, ETH ≈ 3000,
BTC ≈ 60000, each moved by up to ±2 % by the seed). The random draw is a float, but the
price itself is an integer in the asset's units and every step is applied with integer
arithmetic (a relative move in parts per billion, rounded half-to-even), so a run is
reproducible from its seed and no float ever becomes a price. The quote has a small
spread around the mid (at least one unit each side), so bid < mid < ask.

The same interface as `BackpackClient` (`ticks()`, `connected`, `reconnects`,
`last_tick_at`, `name`), so the poller does not care which one it reads.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from decimal import Decimal

from exness.domain.assets import ASSETS
from exness.domain.messages import PriceTick
from exness.domain.money import div_round_half_even

__all__ = ["START_PRICES", "SimFeed"]

START_PRICES: Mapping[str, Decimal] = {
    "SOL": Decimal("150"),
    "ETH": Decimal("3000"),
    "BTC": Decimal("60000"),
}
SECONDS_PER_YEAR = 365.25 * 24 * 3600
PPB = 1_000_000_000  # moves are applied in parts per billion


def _now_us() -> int:
    return time.time_ns() // 1000


class SimFeed:
    """A random walk of bid/ask quotes; `next_round()` is the deterministic core."""

    name = "sim"

    def __init__(
        self,
        seed: int | None = None,
        *,
        interval: float = 0.1,
        updates_per_interval: int = 3,
        annual_volatility: float = 0.7,
        spread_bps: float = 1.0,
        start_prices: Mapping[str, Decimal] = START_PRICES,
        clock_us: Callable[[], int] = _now_us,
    ) -> None:
        if updates_per_interval < 1 or interval <= 0:
            raise ValueError("interval must be positive and updates_per_interval at least 1")
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**63)
        self._rng = random.Random(self.seed)
        self.interval = interval
        self.updates_per_interval = updates_per_interval
        self.step_s = interval / updates_per_interval
        # σ of one step's relative move: σ_annual · √(step in years)
        self.step_sigma = annual_volatility * math.sqrt(self.step_s / SECONDS_PER_YEAR)
        self.spread_bps = spread_bps
        self.clock_us = clock_us
        self.prices: dict[str, int] = {}
        self._floors: dict[str, int] = {}
        for symbol, start in start_prices.items():
            asset = ASSETS[symbol]
            jitter = Decimal(self._rng.randint(-200, 200)) / 10_000  # up to ±2 %
            self.prices[symbol] = int((start * (1 + jitter)).scaleb(asset.decimals))
            self._floors[symbol] = max(asset.scale // 100, 1)  # never below 0.01 USD
        self.connected = True  # a simulation is never disconnected
        self.reconnects = 0
        self.last_tick_at: int | None = None

    def next_round(self, now_us: int | None = None) -> list[PriceTick]:
        """One step of every asset's walk: one tick per asset, at `now_us`."""
        ts = self.clock_us() if now_us is None else now_us
        ticks = []
        for symbol, price in self.prices.items():
            move_ppb = round(self._rng.gauss(0.0, self.step_sigma) * PPB)
            mid = max(price + div_round_half_even(price * move_ppb, PPB), self._floors[symbol])
            self.prices[symbol] = mid
            half_spread = max(
                1, div_round_half_even(mid * round(self.spread_bps * 1000), 20_000_000)
            )
            ticks.append(PriceTick(symbol, mid, ts, mid - half_spread, mid + half_spread))
        self.last_tick_at = ts
        return ticks

    async def ticks(self) -> AsyncGenerator[PriceTick, None]:
        """A round every `interval / updates_per_interval` s, forever."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            for tick in self.next_round():
                yield tick
            next_at += self.step_s
            delay = next_at - loop.time()
            if delay < -self.interval:  # fell far behind (a stalled loop): do not burst
                next_at = loop.time()
                delay = 0.0
            await asyncio.sleep(max(delay, 0.0))
