"""Entries of `db_operations_queue` (engine -> dbprocessor).

A DB operation is JSON with an `op` of `user_created`, `trade_opened`, `trade_closed` or
`trade_liquidated`. Every trade operation carries the whole trade, so the DB processor can
upsert a row from any single operation, in any order, any number of times, and converge.
Amounts are integers: cents for money, asset units for prices, µs for times.
"""

from __future__ import annotations

from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.records import decode_position, encode_position
from exness.domain.messages import (
    DbOperation,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
)

__all__ = [
    "decode_operation",
    "decode_operations",
    "encode_operation",
    "encode_operations",
    "operation_body",
]


def operation_body(operation: DbOperation) -> dict[str, Any]:
    if isinstance(operation, UserCreated):
        body: dict[str, Any] = {
            "op": "user_created",
            "userId": operation.user_id,
            "email": operation.email,
            "balance": operation.balance,
            "createdAt": operation.created_at,
        }
    elif isinstance(operation, TradeOpened):
        body = {"op": "trade_opened", **encode_position(operation.position)}
    else:
        body = {
            "op": "trade_liquidated" if operation.liquidated else "trade_closed",
            **encode_position(operation.position),
            "closePrice": operation.close_price,
            "pnl": operation.pnl,
            "closedAt": operation.closed_at,
        }
    body["v"] = 1
    return body


def encode_operation(operation: DbOperation) -> bytes:
    """One operation: the `data` field of an entry."""
    return orjson.dumps(operation_body(operation))


def encode_operations(operations: list[DbOperation]) -> bytes:
    """Several operations, in order: the `ops` field of an entry (the engine writes one such
    entry per batch, so a busy engine costs the stream one entry, not one per trade)."""
    return orjson.dumps([operation_body(operation) for operation in operations])


def decode_operation_body(body: Any) -> DbOperation:
    try:
        op = body["op"]
        if op == "user_created":
            return UserCreated(
                str(body["userId"]), body.get("email"), int(body["balance"]), int(body["createdAt"])
            )
        if op == "trade_opened":
            return TradeOpened(decode_position(body))
        if op in ("trade_closed", "trade_liquidated"):
            cls = TradeLiquidated if op == "trade_liquidated" else TradeClosed
            return cls(
                decode_position(body),
                int(body["closePrice"]),
                int(body["pnl"]),
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
