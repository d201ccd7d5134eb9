"""The engine's replies (engine -> server, and in snapshots for request-id dedupe).

A reply is JSON::

    {"requestId": "…", "ok": true, "result": {"kind": "position_opened", …}}
    {"requestId": "…", "ok": false, "code": "STALE_PRICE", "message": "…"}

Each kind of result has one entry in RESULTS: its class, its wire name, and how its fields
become JSON and back. Amounts are integers: cents, asset units, µs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.operations import decode_operation_body, operation_body
from exness.codec.records import (
    decode_order,
    decode_pending,
    decode_position,
    decode_quote,
    encode_order,
    encode_pending,
    encode_position,
    encode_quote,
)
from exness.domain.messages import (
    Account,
    Balance,
    Cancelled,
    Modified,
    OpenPosition,
    OpenPositions,
    PendingOrders,
    PendingPlaced,
    PositionClosed,
    PositionOpened,
    Reply,
    Result,
    TradeClosed,
    WalletOpened,
)

__all__ = ["RESULTS", "decode_reply", "encode_reply", "reply_body", "reply_from_body"]


@dataclass(frozen=True, slots=True)
class ResultCodec:
    cls: type[Any]
    kind: str
    encode: Callable[[Any], dict[str, Any]]
    decode: Callable[[dict[str, Any]], Result]


def _open_position(body: dict[str, Any]) -> OpenPosition:
    quote = body.get("quote")
    return OpenPosition(
        decode_position(body["position"]), None if quote is None else decode_quote(quote)
    )


def _close(body: dict[str, Any]) -> TradeClosed:
    close = decode_operation_body(body)
    if not isinstance(close, TradeClosed):
        raise CodecError("a close must be a trade_closed operation")
    return close


RESULTS = (
    ResultCodec(
        WalletOpened,
        "wallet_opened",
        lambda r: {"balance": r.balance, "created": r.created},
        lambda b: WalletOpened(int(b["balance"]), bool(b["created"])),
    ),
    ResultCodec(
        Balance,
        "balance",
        lambda r: {"balance": r.balance},
        lambda b: Balance(int(b["balance"])),
    ),
    ResultCodec(
        PositionOpened,
        "position_opened",
        lambda r: {"position": encode_position(r.position), "balance": r.balance},
        lambda b: PositionOpened(decode_position(b["position"]), int(b["balance"])),
    ),
    ResultCodec(
        PendingPlaced,
        "pending_placed",
        lambda r: {"order": encode_pending(r.order), "balance": r.balance},
        lambda b: PendingPlaced(decode_pending(b["order"]), int(b["balance"])),
    ),
    ResultCodec(
        PositionClosed,
        "position_closed",
        lambda r: {"close": operation_body(r.close), "balance": r.balance},
        lambda b: PositionClosed(_close(b["close"]), int(b["balance"])),
    ),
    ResultCodec(
        Modified,
        "modified",
        lambda r: {"order": encode_order(r.order)},
        lambda b: Modified(decode_order(b["order"])),
    ),
    ResultCodec(
        Cancelled,
        "cancelled",
        lambda r: {"order": encode_pending(r.order), "balance": r.balance},
        lambda b: Cancelled(decode_pending(b["order"]), int(b["balance"])),
    ),
    ResultCodec(
        OpenPositions,
        "open_positions",
        lambda r: {
            "positions": [
                {
                    "position": encode_position(item.position),
                    "quote": None if item.quote is None else encode_quote(item.quote),
                }
                for item in r.positions
            ]
        },
        lambda b: OpenPositions(tuple(_open_position(item) for item in b["positions"])),
    ),
    ResultCodec(
        PendingOrders,
        "pending_orders",
        lambda r: {"orders": [encode_pending(order) for order in r.orders]},
        lambda b: PendingOrders(tuple(decode_pending(order) for order in b["orders"])),
    ),
    ResultCodec(
        Account,
        "account",
        lambda r: {
            "balance": r.balance,
            "reserved": r.reserved,
            "usedMargin": r.used_margin,
            "unrealizedPnl": r.unrealized_pnl,
            "openPositions": r.open_positions,
            "pendingOrders": r.pending_orders,
        },
        lambda b: Account(
            int(b["balance"]),
            int(b["reserved"]),
            int(b["usedMargin"]),
            int(b["unrealizedPnl"]),
            int(b["openPositions"]),
            int(b["pendingOrders"]),
        ),
    ),
)
_BY_CLASS = {codec.cls: codec for codec in RESULTS}
_BY_KIND = {codec.kind: codec for codec in RESULTS}


def reply_body(reply: Reply) -> dict[str, Any]:
    if not reply.ok:
        return {
            "requestId": reply.request_id,
            "ok": False,
            "code": reply.code,
            "message": reply.message,
        }
    body: dict[str, Any] = {"requestId": reply.request_id, "ok": True}
    if reply.result is not None:
        codec = _BY_CLASS[type(reply.result)]
        body["result"] = {"kind": codec.kind, **codec.encode(reply.result)}
    return body


def reply_from_body(body: Any) -> Reply:
    try:
        request_id = body["requestId"]
        if not isinstance(request_id, str):
            raise CodecError("requestId must be a string")
        if not body["ok"]:
            return Reply.rejected(request_id, str(body["code"]), str(body.get("message") or ""))
        raw = body.get("result")
        if raw is None:
            return Reply(request_id)
        codec = _BY_KIND.get(raw.get("kind"))
        if codec is None:
            raise CodecError(f"unknown result kind {raw.get('kind')!r}")
        return Reply(request_id, codec.decode(raw))
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad reply: {error!r}") from None


def encode_reply(reply: Reply) -> bytes:
    return orjson.dumps(reply_body(reply))


def decode_reply(raw: bytes | str) -> Reply:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise CodecError(f"bad reply: {error}") from None
    return reply_from_body(body)
