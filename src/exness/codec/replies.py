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
from exness.codec.records import decode_position, decode_quote, encode_position, encode_quote
from exness.domain.messages import (
    Balance,
    OpenPosition,
    OpenPositions,
    PositionClosed,
    PositionOpened,
    Reply,
    Result,
    WalletOpened,
)

__all__ = ["decode_reply", "encode_reply", "reply_body", "reply_from_body"]


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
        PositionClosed,
        "position_closed",
        lambda r: {
            "position": encode_position(r.position),
            "closePrice": r.close_price,
            "pnl": r.pnl,
            "closedAt": r.closed_at,
            "balance": r.balance,
            "liquidated": r.liquidated,
        },
        lambda b: PositionClosed(
            decode_position(b["position"]),
            int(b["closePrice"]),
            int(b["pnl"]),
            int(b["closedAt"]),
            int(b["balance"]),
            bool(b["liquidated"]),
        ),
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
