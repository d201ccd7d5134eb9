"""PRICE_FEED=sim: reproducible from its seed, realistic, never a nonsensical quote."""

from __future__ import annotations

import asyncio
import itertools
import math
from decimal import Decimal
from statistics import pstdev

import pytest

from exness.adapters.sim_feed import SECONDS_PER_YEAR, SimFeed
from exness.domain.assets import ASSETS
from exness.domain.messages import PriceTick

NOW = 1_727_000_000_000_000


def run(feed: SimFeed, rounds: int) -> list[PriceTick]:
    return [tick for i in range(rounds) for tick in feed.next_round(NOW + i)]


def test_same_seed_same_walk():
    assert run(SimFeed(7), 500) == run(SimFeed(7), 500)


def test_different_seeds_differ():
    assert run(SimFeed(7), 50) != run(SimFeed(8), 50)


def test_no_seed_picks_one_and_reports_it():
    feed = SimFeed()
    assert run(SimFeed(feed.seed), 20) == run(feed, 20)


def test_starts_near_realistic_prices():
    for seed in range(20):
        feed = SimFeed(seed)
        for symbol, human in (("SOL", 150), ("ETH", 3000), ("BTC", 60000)):
            start = Decimal(feed.prices[symbol]).scaleb(-ASSETS[symbol].decimals)
            assert abs(start / human - 1) <= Decimal("0.02"), (symbol, start)


def test_quotes_are_integers_bid_below_mid_below_ask_and_stamped():
    feed = SimFeed(3)
    for tick in run(feed, 3000):
        assert all(type(value) is int for value in (tick.price, tick.bid, tick.ask, tick.ts))
        assert 0 < tick.bid < tick.price < tick.ask
        assert tick.price == (tick.bid + tick.ask) // 2  # the mid, exactly (symmetric spread)
        assert tick.ts >= NOW
    assert {tick.asset for tick in run(feed, 1)} == {"SOL", "ETH", "BTC"}


def test_prices_stay_positive_even_at_absurd_volatility():
    feed = SimFeed(11, annual_volatility=500.0)  # a step σ far beyond any market
    for tick in run(feed, 5000):
        assert tick.bid > 0 and tick.bid < tick.ask


def test_volatility_is_realistic():
    """Annualised σ of log returns within 20 % of the one asked for."""
    feed = SimFeed(5, interval=0.1, updates_per_interval=3, annual_volatility=0.7)
    sol = [tick.price for tick in run(feed, 20_000) if tick.asset == "SOL"]
    returns = [math.log(b / a) for a, b in itertools.pairwise(sol)]
    annualised = pstdev(returns) / math.sqrt(feed.step_s / SECONDS_PER_YEAR)
    assert 0.56 < annualised < 0.84, annualised


def test_spread_is_small_but_at_least_one_unit():
    feed = SimFeed(1)
    for tick in run(feed, 10):
        spread_bps = (tick.ask - tick.bid) * 10_000 / tick.price
        assert tick.ask - tick.bid >= 2
        assert spread_bps < 5


def test_rejects_a_nonsensical_cadence():
    with pytest.raises(ValueError):
        SimFeed(1, updates_per_interval=0)


async def test_streams_a_few_updates_per_asset_every_interval():
    feed = SimFeed(2, interval=0.05, updates_per_interval=3)
    ticks: list[PriceTick] = []

    async def consume() -> None:
        async for tick in feed.ticks():
            ticks.append(tick)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.24)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    per_asset = sum(1 for tick in ticks if tick.asset == "SOL")
    assert 9 <= per_asset <= 18, per_asset  # ~3 per 50 ms for 240 ms
    assert feed.connected and feed.last_tick_at == ticks[-1].ts
