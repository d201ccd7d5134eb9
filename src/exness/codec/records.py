"""The JSON of the records several entries share: a position, a pending order, a quote.

One definition, used by DB operations (codec/operations.py), engine replies
(codec/replies.py) and the traders' live events.
"""

from __future__ import annotations

from typing import Any

from exness.codec import CodecError
from exness.domain.orders import ORDER_TYPES, PendingOrder
from exness.domain.positions import SIDES, Position
from exness.domain.quotes import Quote

__all__ = [
    "decode_order",
    "decode_pending",
    "decode_position",
    "decode_quote",
    "encode_order",
    "encode_pending",
    "encode_position",
    "encode_quote",
]


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def encode_position(position: Position) -> dict[str, Any]:
    return {
        "orderId": position.order_id,
        "userId": position.user_id,
        "asset": position.asset,
        "side": position.side,
        "margin": position.margin,
        "leverage": position.leverage,
        "openPrice": position.open_price,
        "liquidationPrice": position.liquidation_price,
        "openedAt": position.opened_at,
        "stopLoss": position.stop_loss,
        "takeProfit": position.take_profit,
    }


def decode_position(body: Any) -> Position:
    try:
        side = body["side"]
        if side not in SIDES:
            raise CodecError(f"unknown side {side!r}")
        return Position(
            str(body["orderId"]),
            str(body["userId"]),
            str(body["asset"]),
            side,
            int(body["margin"]),
            int(body["leverage"]),
            int(body["openPrice"]),
            int(body["liquidationPrice"]),
            int(body["openedAt"]),
            _optional_int(body.get("stopLoss")),
            _optional_int(body.get("takeProfit")),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad position: {error!r}") from None


def encode_pending(order: PendingOrder) -> dict[str, Any]:
    return {
        "orderId": order.order_id,
        "userId": order.user_id,
        "asset": order.asset,
        "side": order.side,
        "orderType": order.order_type,
        "triggerPrice": order.trigger_price,
        "margin": order.margin,
        "leverage": order.leverage,
        "placedAt": order.placed_at,
        "stopLoss": order.stop_loss,
        "takeProfit": order.take_profit,
    }


def decode_pending(body: Any) -> PendingOrder:
    try:
        side, order_type = body["side"], body["orderType"]
        if side not in SIDES or order_type not in ORDER_TYPES[1:]:
            raise CodecError(f"unknown side {side!r} or order type {order_type!r}")
        return PendingOrder(
            str(body["orderId"]),
            str(body["userId"]),
            str(body["asset"]),
            side,
            order_type,
            int(body["triggerPrice"]),
            int(body["margin"]),
            int(body["leverage"]),
            int(body["placedAt"]),
            _optional_int(body.get("stopLoss")),
            _optional_int(body.get("takeProfit")),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad pending order: {error!r}") from None


def encode_order(order: Position | PendingOrder) -> dict[str, Any]:
    """A position or a pending order, told apart by `orderType` (absent on a position)."""
    return encode_position(order) if isinstance(order, Position) else encode_pending(order)


def decode_order(body: Any) -> Position | PendingOrder:
    if isinstance(body, dict) and "orderType" in body:
        return decode_pending(body)
    return decode_position(body)


def encode_quote(quote: Quote) -> dict[str, Any]:
    return {"price": quote.price, "ts": quote.ts, "bid": quote.bid, "ask": quote.ask}


def decode_quote(body: Any) -> Quote:
    """A quote; one written without bid and ask (before SPEC §7) quotes the price both ways."""
    try:
        price = int(body["price"])
        bid, ask = body.get("bid"), body.get("ask")
        return Quote(
            price,
            int(body["ts"]),
            price if bid is None else int(bid),
            price if ask is None else int(ask),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad quote: {error!r}") from None
