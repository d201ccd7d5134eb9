"""Entries of `db_operations_queue` and `snapshot_queue` (engine -> dbprocessor).

A DB operation is JSON with an `op` of `user_created`, `trade_opened`, `trade_closed` or
`trade_liquidated`. Every trade operation carries the whole trade, so the DB processor can
upsert a row from any single operation, in any order, any number of times, and converge.
Amounts are integers: cents for money, asset units for prices, µs for times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec import CodecError
from exness.domain.messages import (
    DbOperation,
    TradeClosed,
    TradeLiquidated,
    TradeOpened,
    UserCreated,
)
from exness.domain.positions import Position

__all__ = [
    "SnapshotEntry",
    "decode_operation",
    "decode_operations",
    "decode_snapshot",
    "encode_operation",
    "encode_operations",
    "encode_snapshot",
]


def _position_fields(position: Position) -> dict[str, Any]:
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
        body = {"op": "trade_opened", **_position_fields(operation.position)}
    else:
        body = {
            "op": "trade_liquidated" if operation.liquidated else "trade_closed",
            **_position_fields(operation.position),
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


def _position(body: dict[str, Any]) -> Position:
    return Position(
        str(body["orderId"]),
        str(body["userId"]),
        str(body["asset"]),
        body["side"],
        int(body["margin"]),
        int(body["leverage"]),
        int(body["openPrice"]),
        int(body["liquidationPrice"]),
        int(body["openedAt"]),
    )


def decode_operation_body(body: Any) -> DbOperation:
    try:
        op = body["op"]
        if op == "user_created":
            return UserCreated(
                str(body["userId"]), body.get("email"), int(body["balance"]), int(body["createdAt"])
            )
        if op == "trade_opened":
            return TradeOpened(_position(body))
        if op in ("trade_closed", "trade_liquidated"):
            cls = TradeLiquidated if op == "trade_liquidated" else TradeClosed
            return cls(
                _position(body), int(body["closePrice"]), int(body["pnl"]), int(body["closedAt"])
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


@dataclass(slots=True)
class SnapshotEntry:
    journal_id: str  # the last journal entry the state includes
    created_at: int  # µs
    state: dict[str, Any]  # Engine.to_snapshot()


def encode_snapshot(entry: SnapshotEntry) -> bytes:
    return orjson.dumps(
        {"v": 1, "journalId": entry.journal_id, "createdAt": entry.created_at, "state": entry.state}
    )


def decode_snapshot(raw: bytes | str) -> SnapshotEntry:
    try:
        body = orjson.loads(raw)
        return SnapshotEntry(str(body["journalId"]), int(body["createdAt"]), dict(body["state"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad snapshot entry: {error!r}") from None
