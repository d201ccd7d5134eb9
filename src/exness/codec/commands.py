"""Commands on `trade_stream` / `user_wallet_stream`: one table drives encoding and decoding.

A command is JSON::

    {"v": 1, "type": "CREATE_TRADE", "requestId": "…", "replyTo": "engine_replies:…",
     "userId": "…", "deadline": 1700000000000000, "data": {"orderId": "…", "asset": "SOL",
     "type": "long", "margin": 1000, "leverage": 10, "slippage": 100, "price": 201470000}}

COMMANDS has one row per command class: its wire name, the queue it travels on, and its
fields (attribute, JSON name in `data`, how the value is checked, and its default when
absent). Amounts are integers: margin in cents, slippage in basis points, prices (the
trader's quote, a trigger, a stop loss or take profit) in the asset's units. `replyTo` names
the list the reply is pushed to; without it the command runs unanswered. `deadline` (µs,
optional) is when the sender stops waiting: the engine refuses the command after it.

MODIFY_TRADE tells "absent" (keep the level) from `null` (clear it): a `stopLoss` or
`takeProfit` key present in `data` changes that level.

The engine service stamps the time (`ts`) when it takes the command into its journal;
a `ts` in the JSON is ignored, so a producer's clock cannot move the engine's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from exness.adapters import keys
from exness.codec import CodecError
from exness.domain.messages import (
    CancelOrder,
    CloseTrade,
    Command,
    CreateTrade,
    GetAccount,
    GetOpenTrades,
    GetPendingOrders,
    GetUsdcBalance,
    GetUserBalance,
    InitializeWallet,
    ModifyTrade,
    Reply,
)
from exness.domain.orders import ORDER_TYPES
from exness.domain.positions import SIDES

__all__ = [
    "COMMANDS",
    "BadCommand",
    "CommandSpec",
    "Envelope",
    "decode_command",
    "encode_command",
    "queue_of",
    "wire_name",
]

WIRE_VERSION = 1
MAX_ID_LENGTH = 128

Check = Callable[[Any, str], Any]  # (value, its JSON name) -> the value, or CodecError


def identifier(value: Any, name: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise CodecError(f"{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


def text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise CodecError(f"{name} must be a string")
    return value


def integer(value: Any, name: str) -> int:
    if type(value) is not int:  # bool is not an amount
        raise CodecError(f"{name} must be an integer")
    return value


def side(value: Any, name: str) -> str:
    if value not in SIDES:
        raise CodecError(f"{name} must be 'long' or 'short'")
    return str(value)


def order_type(value: Any, name: str) -> str:
    if value not in ORDER_TYPES:
        raise CodecError(f"{name} must be one of {', '.join(ORDER_TYPES)}")
    return str(value)


_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Field:
    attr: str  # the command's attribute
    wire: str  # its name in `data`
    check: Check
    default: Any = _REQUIRED  # None: optional, and null/absent means None
    present: str | None = None  # an attribute told whether the key was there at all

    def decode(self, data: dict[str, Any], values: dict[str, Any]) -> None:
        if self.present is not None:
            values[self.present] = self.wire in data
        value = data.get(self.wire)
        if value is None:
            if self.default is _REQUIRED:
                raise CodecError(f"data.{self.wire} is required")
            values[self.attr] = self.default
        else:
            values[self.attr] = self.check(value, f"data.{self.wire}")

    def encode(self, command: Command, data: dict[str, Any]) -> None:
        value = getattr(command, self.attr)
        if self.present is not None:
            if getattr(command, self.present):
                data[self.wire] = value  # null clears
        elif value is not None:
            data[self.wire] = value


@dataclass(frozen=True, slots=True)
class CommandSpec:
    cls: type[Any]
    name: str  # the wire "type"
    queue: str  # the list it is pushed onto
    fields: tuple[Field, ...] = ()


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        CreateTrade,
        "CREATE_TRADE",
        keys.TRADE_QUEUE,
        (
            Field("order_id", "orderId", identifier),
            Field("asset", "asset", text),
            Field("side", "type", side),
            Field("margin", "margin", integer),
            Field("leverage", "leverage", integer),
            Field("slippage_bps", "slippage", integer, default=100),
            Field("quote", "price", integer, default=None),
            Field("order_type", "orderType", order_type, default="market"),
            Field("trigger_price", "triggerPrice", integer, default=None),
            Field("stop_loss", "stopLoss", integer, default=None),
            Field("take_profit", "takeProfit", integer, default=None),
        ),
    ),
    CommandSpec(
        CloseTrade,
        "CLOSE_TRADE",
        keys.TRADE_QUEUE,
        (Field("order_id", "orderId", identifier), Field("margin", "margin", integer, None)),
    ),
    CommandSpec(
        ModifyTrade,
        "MODIFY_TRADE",
        keys.TRADE_QUEUE,
        (
            Field("order_id", "orderId", identifier),
            Field("stop_loss", "stopLoss", integer, None, present="change_stop_loss"),
            Field("take_profit", "takeProfit", integer, None, present="change_take_profit"),
        ),
    ),
    CommandSpec(
        CancelOrder, "CANCEL_ORDER", keys.TRADE_QUEUE, (Field("order_id", "orderId", identifier),)
    ),
    CommandSpec(
        InitializeWallet,
        "INITIALIZE_WALLET",
        keys.WALLET_QUEUE,
        (Field("email", "email", text, default=None),),
    ),
    CommandSpec(GetUserBalance, "GET_USER_BALANCE", keys.WALLET_QUEUE),
    CommandSpec(GetUsdcBalance, "GET_USDC_BALANCE", keys.WALLET_QUEUE),
    CommandSpec(GetOpenTrades, "GET_OPEN_TRADES", keys.WALLET_QUEUE),
    CommandSpec(GetPendingOrders, "GET_PENDING_ORDERS", keys.WALLET_QUEUE),
    CommandSpec(GetAccount, "GET_ACCOUNT", keys.WALLET_QUEUE),
)
_BY_CLASS: dict[type[Any], CommandSpec] = {spec.cls: spec for spec in COMMANDS}
_BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}


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
        return Reply.rejected(self.request_id, "INVALID_COMMAND", self.message)


def queue_of(command: Command) -> str:
    return _BY_CLASS[type(command)].queue


def wire_name(command: Command) -> str:
    """The command's "type" on the wire (CREATE_TRADE, ...)."""
    return _BY_CLASS[type(command)].name


def encode_command(command: Command, reply_to: str | None) -> bytes:
    spec = _BY_CLASS[type(command)]
    body: dict[str, Any] = {
        "v": WIRE_VERSION,
        "type": spec.name,
        "requestId": command.request_id,
        "userId": command.user_id,
    }
    if reply_to is not None:
        body["replyTo"] = reply_to
    if command.deadline is not None:
        body["deadline"] = command.deadline
    if spec.fields:
        data: dict[str, Any] = {}
        for field in spec.fields:
            field.encode(command, data)
        body["data"] = data
    return orjson.dumps(body)


def _decode(body: dict[str, Any], ts: int) -> Command:
    kind = body.get("type")
    spec = _BY_NAME.get(kind) if isinstance(kind, str) else None
    request_id = identifier(body.get("requestId"), "requestId")
    user_id = identifier(body.get("userId"), "userId")
    if spec is None:
        raise CodecError(f"unknown command type {body.get('type')!r}")
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise CodecError("data must be an object")
    values: dict[str, Any] = {}
    for field in spec.fields:
        field.decode(data, values)
    deadline = body.get("deadline")
    if deadline is not None:
        deadline = integer(deadline, "deadline")
    command: Command = spec.cls(
        request_id=request_id, user_id=user_id, ts=ts, deadline=deadline, **values
    )
    return command


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
