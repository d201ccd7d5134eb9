"""Small builders for domain tests: human prices in, exact units out."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from exness.domain import (
    ASSETS,
    CancelOrder,
    CloseTrade,
    CreateTrade,
    Engine,
    InitializeWallet,
    ModifyTrade,
    PriceTick,
)
from exness.domain.messages import Reply

SECOND = 1_000_000  # µs
KEEP = object()  # modify(): leave this level as it is


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
        reply = self.engine.apply(InitializeWallet(self.next_id("req"), user, ts=self.now))[0]
        assert isinstance(reply, Reply)
        return reply

    def tick(self, asset: str, human: str, after_s: float = 0.001, bid=None, ask=None):
        """A tick at the mid `human`; `bid`/`ask` (human) quote the two sides."""
        self.now += int(after_s * SECOND)
        return self.engine.on_price(
            PriceTick(
                asset,
                units(asset, human),
                self.now,
                None if bid is None else units(asset, bid),
                None if ask is None else units(asset, ask),
            )
        )

    def quote(self, asset: str, bid: str, ask: str, after_s: float = 0.001):
        """A tick quoting `bid` and `ask` (its mid need not be exact: it is only shown)."""
        self.now += int(after_s * SECOND)
        bid_units, ask_units = units(asset, bid), units(asset, ask)
        tick = PriceTick(asset, (bid_units + ask_units) // 2, self.now, bid_units, ask_units)
        return self.engine.on_price(tick)

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
        **extra,
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
            ts=self.now,
            **extra,
        )
        return self.engine.apply(command)

    def close(self, user: str, order_id: str, margin: int | None = None):
        self.now += 1
        command = CloseTrade(self.next_id("req"), user, order_id, margin, ts=self.now)
        return self.engine.apply(command)

    def modify(self, user: str, order_id: str, stop_loss=KEEP, take_profit=KEEP):
        self.now += 1
        command = ModifyTrade(
            self.next_id("req"),
            user,
            order_id,
            None if stop_loss is KEEP else stop_loss,
            None if take_profit is KEEP else take_profit,
            change_stop_loss=stop_loss is not KEEP,
            change_take_profit=take_profit is not KEEP,
            ts=self.now,
        )
        return self.engine.apply(command)

    def cancel(self, user: str, order_id: str):
        self.now += 1
        return self.engine.apply(CancelOrder(self.next_id("req"), user, order_id, ts=self.now))
