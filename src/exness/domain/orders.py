"""Pending orders and the levels that close positions (SPEC §7.2, §7.3).

A limit or stop order waits for the first tick that crosses its trigger, then fills at that
tick's ask (long) or bid (short); its margin is reserved from the balance meanwhile. Stop
loss and take profit close a position on the first tick that crosses them, at that tick's
bid (long) or ask (short). The rules that say which levels are valid live here, as pure
functions raising InvalidCommand with a message naming the field and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from exness.domain.errors import InvalidCommand
from exness.domain.positions import LONG, Side

__all__ = [
    "LIMIT",
    "MARKET",
    "ORDER_TYPES",
    "STOP",
    "OrderType",
    "PendingOrder",
    "check_protection",
    "check_trigger",
]

OrderType = Literal["market", "limit", "stop"]
MARKET: OrderType = "market"
LIMIT: OrderType = "limit"
STOP: OrderType = "stop"
ORDER_TYPES: tuple[OrderType, ...] = (MARKET, LIMIT, STOP)


@dataclass(slots=True)
class PendingOrder:
    """A limit or stop order waiting for its trigger. Never mutated once made."""

    order_id: str
    user_id: str
    asset: str
    side: Side
    order_type: OrderType  # LIMIT or STOP
    trigger_price: int  # asset units
    margin: int  # cents, reserved from the balance
    leverage: int
    placed_at: int  # µs
    stop_loss: int | None = None  # attached to the position at the fill
    take_profit: int | None = None

    def with_protection(self, stop_loss: int | None, take_profit: int | None) -> PendingOrder:
        return PendingOrder(
            self.order_id,
            self.user_id,
            self.asset,
            self.side,
            self.order_type,
            self.trigger_price,
            self.margin,
            self.leverage,
            self.placed_at,
            stop_loss,
            take_profit,
        )


def check_trigger(side: Side, order_type: OrderType, trigger: int, bid: int, ask: int) -> None:
    """A long limit waits for the ask to fall to its trigger, a long stop for it to rise; a
    short limit for the bid to rise, a short stop for it to fall. A trigger already crossed
    would fill at once: that is a market order, refused here."""
    if side == LONG:
        if order_type == LIMIT and not trigger < ask:
            raise InvalidCommand(
                f"triggerPrice {trigger} of a long limit must be below the ask {ask}"
            )
        if order_type == STOP and not trigger > ask:
            raise InvalidCommand(
                f"triggerPrice {trigger} of a long stop must be above the ask {ask}"
            )
    else:
        if order_type == LIMIT and not trigger > bid:
            raise InvalidCommand(
                f"triggerPrice {trigger} of a short limit must be above the bid {bid}"
            )
        if order_type == STOP and not trigger < bid:
            raise InvalidCommand(
                f"triggerPrice {trigger} of a short stop must be below the bid {bid}"
            )


def check_protection(
    side: Side,
    liquidation_price: int,
    reference: int,
    stop_loss: int | None,
    take_profit: int | None,
) -> None:
    """SL and TP must sit on either side of the reference price (the bid for a long, the ask
    for a short; the trigger price for a pending order) and the SL short of liquidation:
    long — liquidation < SL < bid < TP; short — TP < ask < SL < liquidation."""
    if side == LONG:
        if stop_loss is not None and not liquidation_price < stop_loss < reference:
            raise InvalidCommand(
                f"stopLoss {stop_loss} of a long must be above its liquidation price "
                f"{liquidation_price} and below {reference}"
            )
        if take_profit is not None and not take_profit > reference:
            raise InvalidCommand(f"takeProfit {take_profit} of a long must be above {reference}")
    else:
        if stop_loss is not None and not reference < stop_loss < liquidation_price:
            raise InvalidCommand(
                f"stopLoss {stop_loss} of a short must be above {reference} and below its "
                f"liquidation price {liquidation_price}"
            )
        if take_profit is not None and not take_profit < reference:
            raise InvalidCommand(f"takeProfit {take_profit} of a short must be below {reference}")
