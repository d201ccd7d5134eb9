"""Entries of `db_operations_queue` (engine -> dbprocessor): what happened to each order.

A DB operation is JSON with an `op`:

| op | what happened | body (besides `op`, `v`) |
|---|---|---|
| `user_created` | a wallet opened | userId, email, balance, createdAt |
| `order_placed` | a limit/stop order waits | the pending order (records.encode_pending) |
| `order_cancelled` | it was cancelled | the pending order, cancelledAt |
| `trade_opened` | a position opened | the position, filled (by a pending order's trigger) |
| `order_modified` | new stop loss / take profit | the position or pending order, modifiedAt |
| `trade_closed` | one close, whole or part | the position before it, closeMargin, closePrice, |
|  |  | pnl, reason, closedAt |

Every operation carries the whole order, so the DB processor can upsert its row from any single
operation, in any order, any number of times, and converge. Amounts are integers: cents for
money, asset units for prices, µs for times. Entries written before SPEC §7 (`trade_closed`
without a reason, `trade_liquidated`) still decode.
"""

from __future__ import annotations

from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.records import (
    decode_order,
    decode_pending,
    decode_position,
    encode_order,
    encode_pending,
    encode_position,
)
from exness.domain.messages import (
    CloseReason,
    DbOperation,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    TradeClosed,
    TradeOpened,
    UserCreated,
)

__all__ = [
    "decode_operation",
    "decode_operation_body",
    "decode_operations",
    "encode_operation",
    "encode_operations",
    "operation_body",
]

REASONS: tuple[CloseReason, ...] = ("manual", "sl", "tp", "liquidation")


def operation_body(operation: DbOperation) -> dict[str, Any]:
    body: dict[str, Any]
    if isinstance(operation, UserCreated):
        body = {
            "op": "user_created",
            "userId": operation.user_id,
            "email": operation.email,
            "balance": operation.balance,
            "createdAt": operation.created_at,
        }
    elif isinstance(operation, OrderPlaced):
        body = {"op": "order_placed", **encode_pending(operation.order)}
    elif isinstance(operation, OrderCancelled):
        body = {
            "op": "order_cancelled",
            **encode_pending(operation.order),
            "cancelledAt": operation.cancelled_at,
        }
    elif isinstance(operation, TradeOpened):
        body = {"op": "trade_opened", **encode_position(operation.position)}
        body["filled"] = operation.filled
    elif isinstance(operation, OrderModified):
        body = {
            "op": "order_modified",
            **encode_order(operation.order),
            "modifiedAt": operation.modified_at,
        }
    else:
        body = {
            "op": "trade_closed",
            **encode_position(operation.position),
            "closeMargin": operation.margin,
            "closePrice": operation.close_price,
            "pnl": operation.pnl,
            "reason": operation.reason,
            "closedAt": operation.closed_at,
        }
    body["v"] = 2
    return body


def encode_operation(operation: DbOperation) -> bytes:
    """One operation: the `data` field of an entry."""
    return orjson.dumps(operation_body(operation))


def encode_operations(operations: list[DbOperation]) -> bytes:
    """Several operations, in order: the `ops` field of an entry (the engine writes one such
    entry per batch, so a busy engine costs the stream one entry, not one per trade)."""
    return orjson.dumps([operation_body(operation) for operation in operations])


def _reason(value: Any) -> CloseReason:
    for reason in REASONS:
        if value == reason:
            return reason
    raise CodecError(f"unknown close reason {value!r}")


def decode_operation_body(body: Any) -> DbOperation:
    try:
        op = body["op"]
        if op == "user_created":
            return UserCreated(
                str(body["userId"]), body.get("email"), int(body["balance"]), int(body["createdAt"])
            )
        if op == "order_placed":
            return OrderPlaced(decode_pending(body))
        if op == "order_cancelled":
            return OrderCancelled(decode_pending(body), int(body["cancelledAt"]))
        if op == "trade_opened":
            return TradeOpened(decode_position(body), bool(body.get("filled", False)))
        if op == "order_modified":
            return OrderModified(decode_order(body), int(body["modifiedAt"]))
        if op in ("trade_closed", "trade_liquidated"):
            position = decode_position(body)
            reason = _reason(
                body.get("reason") or ("liquidation" if op == "trade_liquidated" else "manual")
            )
            return TradeClosed(
                position,
                int(body.get("closeMargin", position.margin)),
                int(body["closePrice"]),
                int(body["pnl"]),
                reason,
                int(body["closedAt"]),
            )
    except (KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad DB operation: {error!r}") from None
    raise CodecError(f"unknown DB operation {op!r}")


def decode_operation(raw: bytes | str) -> DbOperation:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise CodecError(f"bad DB operation: {error!r}") from None
    return decode_operation_body(body)


def decode_operations(raw: bytes | str) -> list[DbOperation | CodecError]:
    """The operations of an `ops` field, in order; each one that cannot be decoded is a
    CodecError in its place, so the rest can still be written."""
    try:
        bodies = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise CodecError(f"bad DB operations: {error!r}") from None
    if not isinstance(bodies, list):
        raise CodecError("DB operations must be a JSON array")
    decoded: list[DbOperation | CodecError] = []
    for body in bodies:
        try:
            decoded.append(decode_operation_body(body))
        except CodecError as error:
            decoded.append(error)
    return decoded
