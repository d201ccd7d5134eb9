"""Small builders for domain tests: human prices in, exact units out."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from exness.domain import ASSETS, CloseTrade, CreateTrade, Engine, InitializeWallet, PriceTick
from exness.domain.messages import Reply

SECOND = 1_000_000  # µs


def units(asset: str, human: str) -> int:
    """`units("SOL", "201.47") == 201_470_000`; refuses anything not exact in the asset's units."""
    scaled = Decimal(human).scaleb(ASSETS[asset].decimals)
    assert scaled == scaled.to_integral_value(), f"{human} is finer than {asset}'s units"
    return int(scaled)


class Desk:
    """Drives an Engine the way the engine service does, with ids and times supplied."""

    def __init__(self, engine: Engine | None = None, now: int = 1_700_000_000 * SECOND) -> None:
        self.engine = engine or Engine()
        self.now = now
        self._ids = count(1)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def wallet(self, user: str) -> Reply:
        reply = self.engine.apply(InitializeWallet(self.next_id("req"), user, self.now))[0]
        assert isinstance(reply, Reply)
        return reply

    def tick(self, asset: str, human: str, after_s: float = 0.001):
        self.now += int(after_s * SECOND)
        return self.engine.on_price(PriceTick(asset, units(asset, human), self.now))

    def open(
        self,
        user: str,
        asset: str,
        side: str,
        margin: int,
        leverage: int,
        slippage: int = 100,
        quote: int | None = None,
        order_id: str | None = None,
    ):
        self.now += 1
        command = CreateTrade(
            self.next_id("req"),
            user,
            order_id or self.next_id("order"),
            asset,
            side,  # type: ignore[arg-type]
            margin,
            leverage,
            slippage,
            quote,
            self.now,
        )
        return self.engine.apply(command)

    def close(self, user: str, order_id: str):
        self.now += 1
        return self.engine.apply(CloseTrade(self.next_id("req"), user, order_id, self.now))
