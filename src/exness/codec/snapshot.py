"""The engine snapshot format: `EngineState` as versioned JSON, and `snapshot_queue` entries.

The one definition of what a snapshot holds, shared by the engine service (which publishes
them), the snapshot store (which splits the big parts into columns of their own and puts the
keys back in order) and recovery. A snapshot (version 5) is::

    {"version": 5,
     "balances": {user id: free cents},
     "open_orders": [[order id, user id, asset, side, margin, leverage, open price,
                      liquidation price, opened at µs, stop loss, take profit], ...],
     "pending_orders": [[order id, user id, asset, side, order type, trigger price, margin,
                         leverage, placed at µs, stop loss, take profit], ...],
     "closed_orders": {order id: [owner, "closed" | "liquidated" | "cancelled"]},
     "quotes": {asset: [price, ts, bid, ask]},
     "recent_replies": [
         ["o", request id, kept until µs, balance, *open order row],   # a market open
         ["c", request id, kept until µs, balance, margin closed, close price, pnl,
          reason, closed at µs, *open order row as it was before the close],  # a close
         [reply JSON (codec/replies.py), kept until µs], ...],          # any other answer
     "ledger": [deposits, realized pnl, liquidated margin]}

Orders are oldest first; rows are arrays, not objects: a snapshot holds every open position,
and arrays are about half the size and time. The same goes for the answers kept to recognise
a redelivered request: under load they are most of a snapshot (60 of 70 MB after 45 s of
the e2e benchmark, nearly all opens and closes), so those two kinds are rows too (version 4;
version 3 kept each as its reply JSON, twice the bytes and more time to write). Version 5
records when each answer may go rather than when it was applied (an answer to a request sent
once goes at its deadline, Engine). Older versions still load: version 4 has the time
applied, kept the 120 s window from it; version 3 also has only reply JSON in
`recent_replies`; version 2 (before
SPEC §7) has no stop loss, take profit or pending orders, a boolean for "liquidated" in
closed orders, quotes perhaps without bid/ask, and replies without their time; version 1
(before typed replies) also keeps only the rejections of its remembered replies (its
successful answers carried no owner, so they cannot be rebuilt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.replies import reply_body, reply_from_body
from exness.domain.engine import DEDUPE_WINDOW_US
from exness.domain.messages import PositionClosed, PositionOpened, Reply, TradeClosed
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.domain.quotes import Quote
from exness.domain.state import ClosedOrder, EngineState, Ledger, RecentReply

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

SNAPSHOT_VERSION = 5
# the keys of a snapshot in the order encode_state writes them
KEY_ORDER = (
    "version",
    "balances",
    "open_orders",
    "pending_orders",
    "closed_orders",
    "quotes",
    "recent_replies",
    "ledger",
)
# the big parts, which the snapshot store keeps in columns of their own
SPLIT_KEYS = ("balances", "open_orders", "closed_orders")


def _position_row(p: Position) -> list[Any]:
    return [
        p.order_id,
        p.user_id,
        p.asset,
        p.side,
        p.margin,
        p.leverage,
        p.open_price,
        p.liquidation_price,
        p.opened_at,
        p.stop_loss,
        p.take_profit,
    ]


def _pending_row(o: PendingOrder) -> list[Any]:
    return [
        o.order_id,
        o.user_id,
        o.asset,
        o.side,
        o.order_type,
        o.trigger_price,
        o.margin,
        o.leverage,
        o.placed_at,
        o.stop_loss,
        o.take_profit,
    ]


def encode_state(state: EngineState) -> dict[str, Any]:
    """The state as plain JSON-able data."""
    ledger = state.ledger
    return {
        "version": SNAPSHOT_VERSION,
        "balances": dict(state.balances),
        "open_orders": [_position_row(position) for position in state.positions],
        "pending_orders": [_pending_row(order) for order in state.pending],
        "closed_orders": {
            order_id: [closed.owner, closed.outcome] for order_id, closed in state.closed.items()
        },
        "quotes": {a: [q.price, q.ts, q.bid, q.ask] for a, q in state.quotes.items()},
        "recent_replies": [_reply_row(reply, until) for reply, until in state.recent_replies],
        "ledger": [ledger.deposits, ledger.realized_pnl, ledger.liquidated_margin],
    }


def _reply_row(reply: Reply, until: int) -> list[Any]:
    result = reply.result
    if type(result) is PositionOpened:
        return ["o", reply.request_id, until, result.balance, *_position_row(result.position)]
    if type(result) is PositionClosed:
        close = result.close
        return [
            *("c", reply.request_id, until, result.balance, close.margin, close.close_price),
            *(close.pnl, close.reason, close.closed_at, *_position_row(close.position)),
        ]
    return [reply_body(reply), until]


def _recent_reply(row: list[Any], later: int) -> RecentReply:
    """A row of `recent_replies`; `later` turns its time into the time it is kept until
    (versions 3 and 4 recorded when it was applied)."""
    kind = row[0]
    if kind == "o":
        opened = PositionOpened(Position(*row[4:]), row[3])
        return RecentReply(Reply(row[1], opened), int(row[2]) + later)
    if kind == "c":
        close = TradeClosed(Position(*row[9:]), *row[4:9])
        return RecentReply(Reply(row[1], PositionClosed(close, row[3])), int(row[2]) + later)
    body, ts = row
    return RecentReply(reply_from_body(body), int(ts) + later)


def _v1_reply(body: dict[str, Any]) -> RecentReply | None:
    if body.get("ok"):
        return None
    reply = Reply.rejected(str(body["requestId"]), str(body["code"]), str(body.get("message")))
    return RecentReply(reply, 0)


def _outcome(value: Any) -> Any:
    """Version 2 said whether a closed order was liquidated; version 3 names the outcome."""
    if isinstance(value, bool):
        return "liquidated" if value else "closed"
    if value not in ("closed", "liquidated", "cancelled"):
        raise ValueError(f"unknown outcome {value!r}")
    return value


def _quote(price: int, ts: int, bid: int | None, ask: int | None) -> Quote:
    return Quote(price, ts, price if bid is None else bid, price if ask is None else ask)


def decode_state(snapshot: dict[str, Any]) -> EngineState:
    version = snapshot.get("version")
    if version not in (1, 2, 3, 4, SNAPSHOT_VERSION):
        raise CodecError(f"unsupported snapshot version {version!r}")
    try:
        recent = snapshot["recent_replies"]
        if version == 1:
            replies = [r for r in map(_v1_reply, recent) if r is not None]
        elif version == 2:
            replies = [RecentReply(reply_from_body(body), 0) for body in recent]
        else:  # version 3's rows are all [reply JSON, ts], which version 4 reads too
            later = 0 if version == SNAPSHOT_VERSION else DEDUPE_WINDOW_US
            replies = [_recent_reply(row, later) for row in recent]
        return EngineState(
            balances=dict(snapshot["balances"]),
            positions=[Position(*row) for row in snapshot["open_orders"]],
            pending=[PendingOrder(*row) for row in snapshot.get("pending_orders", ())],
            closed={
                order_id: ClosedOrder(owner, _outcome(outcome))
                for order_id, (owner, outcome) in snapshot["closed_orders"].items()
            },
            quotes={asset: _quote(*quote) for asset, quote in snapshot["quotes"].items()},
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
