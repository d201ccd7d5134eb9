"""The trade record: each field of a position, a pending order and a close, defined once.

Two writers show a trade: the HTTP answers (services/server/views.py, as Decimals that the
response models check) and the live `order` events (codec/events.py, as exact JSON numbers
spliced into text). Both take their fields from here, each passing how it writes a number
(`Number`: minor units and their places → the value) and the name of the side (`type` over
HTTP; `tradeType` in a live message, where `type` names the message). A new field of a trade
is a line here, its model in schemas.py, and the domain.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from exness.domain.assets import ASSETS
from exness.domain.messages import TradeClosed
from exness.domain.money import USD_DECIMALS
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position

__all__ = ["Number", "close_fields", "iso_from_us", "order_fields", "position_fields"]

Number = Callable[[int, int], Any]  # (minor units, their decimal places) -> the value shown

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso_from_us(us: int) -> str:
    """µs since the epoch as ISO 8601 UTC, as the API writes times."""
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def _level(number: Number, places: int, units: int | None) -> Any:
    return None if units is None else number(units, places)


def position_fields(position: Position, number: Number, side: str) -> dict[str, Any]:
    """An open position (before any close of it)."""
    places = ASSETS[position.asset].decimals
    return {
        "orderId": position.order_id,
        "asset": position.asset,
        side: position.side,
        "margin": number(position.margin, USD_DECIMALS),
        "leverage": position.leverage,
        "openPrice": number(position.open_price, places),
        "liquidationPrice": number(position.liquidation_price, places),
        "stopLoss": _level(number, places, position.stop_loss),
        "takeProfit": _level(number, places, position.take_profit),
        "createdAt": iso_from_us(position.opened_at),
    }


def order_fields(order: PendingOrder, number: Number, side: str) -> dict[str, Any]:
    """A limit or stop order waiting for its trigger."""
    places = ASSETS[order.asset].decimals
    return {
        "orderId": order.order_id,
        "asset": order.asset,
        side: order.side,
        "orderType": order.order_type,
        "triggerPrice": number(order.trigger_price, places),
        "margin": number(order.margin, USD_DECIMALS),
        "leverage": order.leverage,
        "stopLoss": _level(number, places, order.stop_loss),
        "takeProfit": _level(number, places, order.take_profit),
        "createdAt": iso_from_us(order.placed_at),
    }


def close_fields(close: TradeClosed, number: Number) -> dict[str, Any]:
    """What one close, whole or part, adds to the position's fields."""
    places = ASSETS[close.position.asset].decimals
    return {
        "status": "open" if close.remaining else "closed",
        "closedMargin": number(close.margin, USD_DECIMALS),
        "remainingMargin": number(close.remaining, USD_DECIMALS),
        "closePrice": number(close.close_price, places),
        "pnl": number(close.pnl, USD_DECIMALS),
        "closeReason": close.reason,
        "liquidated": close.liquidated,
        "closedAt": iso_from_us(close.closed_at),
    }
