"""Commands on `trade_stream` / `user_wallet_stream` and the engine's replies.

A command is JSON::

    {"v": 1, "type": "CREATE_TRADE", "requestId": "…", "replyTo": "engine_replies:…",
     "userId": "…", "data": {"orderId": "…", "asset": "SOL", "type": "long",
     "margin": 1000, "leverage": 10, "slippage": 100, "price": 201470000}}

`data` of INITIALIZE_WALLET is `{"email": …}` (optional), of CLOSE_TRADE `{"orderId": …}`;
the balance and open-trades queries have none. Amounts are integers: margin in cents,
slippage in basis points, price (the trader's quote, optional) in the asset's units.
`replyTo` names the list the reply is pushed to; without it the command runs unanswered.

The engine service stamps the time (`ts`) when it takes the command into its journal;
a `ts` in the JSON is ignored, so a producer's clock cannot move the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from exness.codec import CodecError
from exness.domain.messages import (
    CloseTrade,
    Command,
    CreateTrade,
    GetOpenTrades,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    Reply,
)

__all__ = [
    "BadCommand",
    "Envelope",
    "decode_command",
    "decode_reply",
    "encode_command",
    "encode_reply",
]

WIRE_VERSION = 1
_MAX_ID_LENGTH = 128


@dataclass(slots=True)
class Envelope:
    command: Command
    reply_to: str | None


@dataclass(slots=True)
class BadCommand:
    """A command that could not be decoded; answered with INVALID_COMMAND when possible."""

    request_id: str | None
    reply_to: str | None
    message: str

    def reply(self) -> Reply | None:
        if self.request_id is None:
            return None
        return Reply(self.request_id, False, None, "INVALID_COMMAND", self.message)


def _text(body: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= _MAX_ID_LENGTH:
        raise CodecError(
            f"{name} must be a non-empty string of at most {_MAX_ID_LENGTH} characters"
        )
    return value


def _integer(body: dict[str, Any], name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if type(value) is not int:
        raise CodecError(f"{name} must be an integer")
    return value


def _decode(body: dict[str, Any], ts: int) -> Command:
    kind = body.get("type")
    request_id = _text(body, "requestId")
    user_id = _text(body, "userId")
    assert request_id is not None and user_id is not None
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise CodecError("data must be an object")
    if kind == "CREATE_TRADE":
        side = data.get("type")
        if side not in ("long", "short"):
            raise CodecError("data.type must be 'long' or 'short'")
        asset = data.get("asset")
        if not isinstance(asset, str):
            raise CodecError("data.asset must be a string")
        slippage = _integer(data, "slippage", required=False)
        return CreateTrade(
            request_id,
            user_id,
            _text(data, "orderId"),  # type: ignore[arg-type]
            asset,
            side,
            _integer(data, "margin"),  # type: ignore[arg-type]
            _integer(data, "leverage"),  # type: ignore[arg-type]
            100 if slippage is None else slippage,
            _integer(data, "price", required=False),
            ts,
        )
    if kind == "CLOSE_TRADE":
        return CloseTrade(request_id, user_id, _text(data, "orderId"), ts)  # type: ignore[arg-type]
    if kind == "INITIALIZE_WALLET":
        email = data.get("email")
        if email is not None and not isinstance(email, str):
            raise CodecError("data.email must be a string")
        return InitializeWallet(request_id, user_id, ts, email)
    if kind == "GET_USER_BALANCE":
        return GetUserBalance(request_id, user_id, ts)
    if kind == "GET_USDC_BALANCE":
        return GetUsdcBalance(request_id, user_id, ts)
    if kind == "GET_OPEN_TRADES":
        return GetOpenTrades(request_id, user_id, ts)
    raise CodecError(f"unknown command type {kind!r}")


def decode_command(raw: bytes | str, ts: int) -> Envelope | BadCommand:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return BadCommand(None, None, "command is not JSON")
    if not isinstance(body, dict):
        return BadCommand(None, None, "command must be a JSON object")
    request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
    reply_to = body.get("replyTo") if isinstance(body.get("replyTo"), str) else None
    try:
        return Envelope(_decode(body, ts), reply_to)
    except CodecError as error:
        return BadCommand(request_id, reply_to, str(error))


def encode_command(
    kind: str,
    request_id: str,
    user_id: str,
    reply_to: str | None,
    data: dict[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "v": WIRE_VERSION,
        "type": kind,
        "requestId": request_id,
        "userId": user_id,
    }
    if reply_to is not None:
        body["replyTo"] = reply_to
    if data:
        body["data"] = data
    return orjson.dumps(body)


def encode_reply(reply: Reply) -> bytes:
    return orjson.dumps(reply.to_dict())


def decode_reply(raw: bytes | str) -> Reply:
    try:
        return Reply.from_dict(orjson.loads(raw))
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise CodecError(f"bad reply: {error}") from None
