"""The engine snapshot format: `EngineState` as versioned JSON, and `snapshot_queue` entries.

The one definition of what a snapshot holds, shared by the engine service (which publishes
them), the snapshot store (which splits the big parts into columns of their own and puts the
keys back in order) and recovery. A snapshot is::

    {"version": 2,
     "balances": {user id: cents},
     "open_orders": [[order id, user id, asset, side, margin, leverage, open price,
                      liquidation price, opened at µs], ...],      # oldest first
     "closed_orders": {order id: [owner, liquidated]},
     "quotes": {asset: [price, ts, bid, ask]},
     "recent_replies": [reply JSON (codec/replies.py), ...],        # oldest first
     "ledger": [deposits, realized pnl, liquidated margin]}

Rows are arrays, not objects: a snapshot holds every open position, and arrays are about
half the size and time. Version 1 (before replies were typed) still loads: its positions,
balances and ledger are the same; of its remembered replies only the rejections are kept
(their successful answers carried no owner, so they cannot be rebuilt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.replies import reply_body, reply_from_body
from exness.domain.messages import Quote, Reply
from exness.domain.positions import Position
from exness.domain.state import ClosedOrder, EngineState, Ledger

__all__ = [
    "KEY_ORDER",
    "SNAPSHOT_VERSION",
    "SPLIT_KEYS",
    "SnapshotEntry",
    "decode_snapshot",
    "decode_state",
    "encode_snapshot",
    "encode_state",
]

SNAPSHOT_VERSION = 2
# the keys of a snapshot in the order encode_state writes them
KEY_ORDER = (
    "version",
    "balances",
    "open_orders",
    "closed_orders",
    "quotes",
    "recent_replies",
    "ledger",
)
# the big parts, which the snapshot store keeps in columns of their own
SPLIT_KEYS = ("balances", "open_orders", "closed_orders")


def _position_row(position: Position) -> list[Any]:
    return [
        position.order_id,
        position.user_id,
        position.asset,
        position.side,
        position.margin,
        position.leverage,
        position.open_price,
        position.liquidation_price,
        position.opened_at,
    ]


def encode_state(state: EngineState) -> dict[str, Any]:
    """The state as plain JSON-able data."""
    ledger = state.ledger
    return {
        "version": SNAPSHOT_VERSION,
        "balances": dict(state.balances),
        "open_orders": [_position_row(position) for position in state.positions],
        "closed_orders": {
            order_id: [closed.owner, closed.liquidated] for order_id, closed in state.closed.items()
        },
        "quotes": {a: [q.price, q.ts, q.bid, q.ask] for a, q in state.quotes.items()},
        "recent_replies": [reply_body(reply) for reply in state.recent_replies],
        "ledger": [ledger.deposits, ledger.realized_pnl, ledger.liquidated_margin],
    }


def _v1_reply(body: dict[str, Any]) -> Reply | None:
    if body.get("ok"):
        return None
    return Reply.rejected(str(body["requestId"]), str(body["code"]), str(body.get("message")))


def decode_state(snapshot: dict[str, Any]) -> EngineState:
    version = snapshot.get("version")
    if version not in (1, SNAPSHOT_VERSION):
        raise CodecError(f"unsupported snapshot version {version!r}")
    try:
        if version == 1:
            replies = [r for r in map(_v1_reply, snapshot["recent_replies"]) if r is not None]
        else:
            replies = [reply_from_body(body) for body in snapshot["recent_replies"]]
        return EngineState(
            balances=dict(snapshot["balances"]),
            positions=[Position(*row) for row in snapshot["open_orders"]],
            closed={
                order_id: ClosedOrder(owner, liquidated)
                for order_id, (owner, liquidated) in snapshot["closed_orders"].items()
            },
            quotes={
                asset: Quote(price, ts, bid, ask)
                for asset, (price, ts, bid, ask) in snapshot["quotes"].items()
            },
            recent_replies=replies,
            ledger=Ledger(*snapshot["ledger"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad snapshot: {error!r}") from None


@dataclass(slots=True)
class SnapshotEntry:
    journal_id: str  # the last journal entry the state includes
    created_at: int  # µs
    state: dict[str, Any]  # encode_state(...)


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
