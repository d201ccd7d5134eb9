"""The JSON of the live updates (SPEC §8): the traders' private events, quotes and candles.

Private messages are built by the engine service, one body per event, in the order the
engine made them:

    {"channel":"account","type":"order","event":"closed","reason":"sl", ...the trade record}
    {"channel":"account","type":"account","balance":499000, ...the §7.6 account}

When the batch is written, Redis numbers each one for its trader (adapters/events.py puts
`"traderSeq":N` in front), keeps it in the trader's log and publishes it; a server puts the
socket's own `"seq":M` in front when it sends it. Both are splices of text, never a second
encoding: the body a trader gets is byte for byte what the engine built.

The trade record is the one the HTTP API shows (codec/trades.py defines it for both): prices and USD
amounts as exact decimal numbers in human units, times in ISO 8601 UTC; the side is
`tradeType` (as in history items), because `type` names the message (`order`, `account`).
Event names (SPEC §8): `placed` (a limit/stop order waits), `opened` (a position at
market), `filled` (a pending order's trigger opened it), `modified` (new stop loss / take
profit), `cancelled`, `closed` (one close, whole or part, with `reason` manual | sl | tp |
liquidation).

The pub/sub payload of an engine batch is text lines, two per event: the trader's id, then
the message (JSON never holds a raw newline; ids that do are refused by `order_event`'s
caller).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.trades import close_fields, iso_from_us, order_fields, position_fields
from exness.domain.account import Account
from exness.domain.assets import ASSETS
from exness.domain.messages import (
    DbOperation,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    TradeClosed,
    TradeOpened,
)
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.domain.quotes import Quote

__all__ = [
    "ACCOUNT_CHANNEL",
    "QUOTES_CHANNEL",
    "account_event",
    "candle_message",
    "decimal_text",
    "decode_live_batch",
    "encode_live_batch",
    "iso_from_us",
    "order_event",
    "order_owner",
    "pending_record",
    "position_record",
    "quote_message",
    "trader_seq",
    "with_seq",
]

ACCOUNT_CHANNEL = "account"
QUOTES_CHANNEL = "quotes"
_TRADER_SEQ = '{"traderSeq":'


def decimal_text(units: int, places: int) -> str:
    """Minor units as the exact decimal text in human units: (-1250, 2) is "-12.50", written
    as `format(Decimal(units).scaleb(-places), "f")` writes it, without building a Decimal."""
    if places == 0:
        return str(units)
    whole, fraction = divmod(abs(units), 10**places)
    return f"{'-' if units < 0 else ''}{whole}.{fraction:0{places}d}"


def _number(units: int, places: int) -> orjson.Fragment:
    """An exact decimal written as a JSON number, digit for digit."""
    return orjson.Fragment(decimal_text(units, places))


SIDE = "tradeType"  # `type` names the message


def position_record(position: Position) -> dict[str, Any]:
    """An open position as the HTTP API shows it (the create and open-trades answers)."""
    return {"status": "open", **position_fields(position, _number, SIDE)}


def pending_record(order: PendingOrder, status: str = "pending") -> dict[str, Any]:
    """A limit or stop order as the HTTP API shows it (GET /orders/pending)."""
    return {"status": status, **order_fields(order, _number, SIDE)}


def _closed_record(close: TradeClosed) -> dict[str, Any]:
    """One close, as the close answer shows it: the position before it, and the close."""
    return {**position_fields(close.position, _number, SIDE), **close_fields(close, _number)}


def order_owner(operation: DbOperation) -> str:
    """The trader an operation concerns."""
    if isinstance(operation, OrderPlaced | OrderCancelled | OrderModified):
        return operation.order.user_id
    if isinstance(operation, TradeOpened | TradeClosed):
        return operation.position.user_id
    return operation.user_id  # UserCreated


def order_event(operation: DbOperation) -> bytes | None:
    """The `order` message of an operation (without traderSeq), or None for one that is not
    an order's (a wallet opening)."""
    head: dict[str, Any] = {"channel": ACCOUNT_CHANNEL, "type": "order"}
    if isinstance(operation, TradeOpened):
        head["event"] = "filled" if operation.filled else "opened"
        record = position_record(operation.position)
    elif isinstance(operation, TradeClosed):
        head["event"] = "closed"
        head["reason"] = operation.reason
        record = _closed_record(operation)
    elif isinstance(operation, OrderPlaced):
        head["event"] = "placed"
        record = pending_record(operation.order)
    elif isinstance(operation, OrderCancelled):
        head["event"] = "cancelled"
        record = pending_record(operation.order, "cancelled")
        record["cancelledAt"] = iso_from_us(operation.cancelled_at)
    elif isinstance(operation, OrderModified):
        head["event"] = "modified"
        order = operation.order
        record = position_record(order) if isinstance(order, Position) else pending_record(order)
        record["modifiedAt"] = iso_from_us(operation.modified_at)
    else:
        return None
    return orjson.dumps(head | record)


def account_event(account: Account) -> bytes:
    """The `account` message (without traderSeq): the §7.6 body, cents as integers and the
    margin level as a 2-place decimal number or null."""
    level = account.margin_level
    return orjson.dumps(
        {
            "channel": ACCOUNT_CHANNEL,
            "type": "account",
            "balance": account.balance,
            "reserved": account.reserved,
            "usedMargin": account.used_margin,
            "unrealizedPnl": account.unrealized_pnl,
            "equity": account.equity,
            "marginLevel": None if level is None else orjson.Fragment(format(level, "f")),
            "openPositions": account.open_positions,
            "pendingOrders": account.pending_orders,
        }
    )


def quote_message(asset: str, quote: Quote) -> str:
    """A `quotes` message (without seq): the engine's bid, ask and mid in human units (exact
    decimal numbers) and the feed's time of the quote in µs."""
    places = ASSETS[asset].decimals
    return (
        f'{{"channel":"{QUOTES_CHANNEL}","asset":"{asset}",'
        f'"bid":{decimal_text(quote.bid, places)},"ask":{decimal_text(quote.ask, places)},'
        f'"price":{decimal_text(quote.price, places)},"ts":{quote.ts}}}'
    )


def candle_message(
    channel: str,
    asset: str,
    start: datetime,
    end: datetime,
    open_: int,
    high: int,
    low: int,
    close: int,
    trades: int,
) -> str:
    """A `candles:ASSET:INTERVAL` message (without seq): the candle in /klines' shape, every
    value a string, times "YYYY-MM-DD HH:MM:SS" UTC, prices in human units."""
    places = ASSETS[asset].decimals
    return orjson.dumps(
        {
            "channel": channel,
            "start": start.strftime("%Y-%m-%d %H:%M:%S"),
            "end": end.strftime("%Y-%m-%d %H:%M:%S"),
            "open": decimal_text(open_, places),
            "high": decimal_text(high, places),
            "low": decimal_text(low, places),
            "close": decimal_text(close, places),
            "volume": "0",
            "quoteVolume": "0",
            "trades": str(trades),
        }
    ).decode()


def with_seq(message: str, seq: int) -> str:
    """The frame of a data message: the socket's `seq` put in front of its fields."""
    return f'{{"seq":{seq},{message[1:]}'


def trader_seq(message: str) -> int:
    """The traderSeq of a private message (Redis wrote it first)."""
    if not message.startswith(_TRADER_SEQ):
        raise CodecError("a private message must start with its traderSeq")
    end = message.find(",", len(_TRADER_SEQ))
    try:
        return int(message[len(_TRADER_SEQ) : end])
    except ValueError:
        raise CodecError("a private message's traderSeq is not an integer") from None


def encode_live_batch(events: list[tuple[str, str]]) -> bytes:
    """The pub/sub payload of (trader, numbered message) pairs (what the engine's script
    publishes; here for tests and tools)."""
    return "\n".join(f"{trader}\n{message}" for trader, message in events).encode()


def decode_live_batch(payload: bytes | str) -> list[tuple[str, str]]:
    """The (trader, message) pairs of a pub/sub payload, in order."""
    text = payload.decode() if isinstance(payload, bytes) else payload
    lines = text.split("\n")
    if len(lines) % 2:
        raise CodecError("a live batch has a trader without a message")
    return list(zip(lines[0::2], lines[1::2], strict=True))
