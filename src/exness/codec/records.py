"""The JSON of the records several entries share: a position and a quote.

One definition, used by DB operations (codec/operations.py), engine replies
(codec/replies.py) and anything else that carries a whole position.
"""

from __future__ import annotations

from typing import Any

from exness.codec import CodecError
from exness.domain.messages import Quote
from exness.domain.positions import SIDES, Position

__all__ = ["decode_position", "decode_quote", "encode_position", "encode_quote"]


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
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad position: {error!r}") from None


def encode_quote(quote: Quote) -> dict[str, Any]:
    return {"price": quote.price, "ts": quote.ts, "bid": quote.bid, "ask": quote.ask}


def decode_quote(body: Any) -> Quote:
    try:
        bid, ask = body.get("bid"), body.get("ask")
        return Quote(
            int(body["price"]),
            int(body["ts"]),
            None if bid is None else int(bid),
            None if ask is None else int(ask),
        )
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad quote: {error!r}") from None
