"""Engine results and DB rows as the API shows them: exact decimals in human units.

Each function builds one response model (schemas.py) from a typed engine result or a row.
The fields of a trade are defined once, in codec/trades.py, for these answers and the live
events alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from exness.codec.trades import close_fields, iso_from_us, order_fields, position_fields
from exness.domain.assets import ASSETS
from exness.domain.messages import (
    Account,
    Cancelled,
    Modified,
    OpenPosition,
    PendingPlaced,
    PositionClosed,
    PositionOpened,
    Quote,
)
from exness.domain.money import USD_DECIMALS, percent, to_decimal
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position
from exness.services.server.schemas import (
    HISTORY_FIELDS,
    AccountAnswer,
    AssetBalance,
    Balances,
    HistoryTrade,
    ModifiedOrder,
    ModifiedPosition,
    OpenTrade,
    OrderCancelled,
    OrderPlaced,
    OrderView,
    QuoteView,
    TradeClosedAnswer,
    TradeCreated,
)

__all__ = [
    "account",
    "balances",
    "cancelled_order",
    "closed_trade",
    "created_trade",
    "duration",
    "history_fields",
    "history_trade",
    "iso_from_us",
    "modified",
    "open_trade",
    "pending_order",
    "placed_order",
    "price",
    "quote_view",
    "statement_row",
    "usd",
]


def price(asset: str, units: int) -> Decimal:
    return to_decimal(units, ASSETS[asset].decimals)


def usd(cents: int) -> Decimal:
    return to_decimal(cents, USD_DECIMALS)


def iso_from_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso_from_datetime(moment)


def _position_fields(position: Position) -> dict[str, Any]:
    return position_fields(position, to_decimal, "type")


def _order_fields(order: PendingOrder) -> dict[str, Any]:
    return order_fields(order, to_decimal, "type")


def created_trade(result: PositionOpened) -> TradeCreated:
    return TradeCreated(**_position_fields(result.position), balance=result.balance)


def placed_order(result: PendingPlaced) -> OrderPlaced:
    return OrderPlaced(**_order_fields(result.order), balance=result.balance)


def pending_order(order: PendingOrder) -> OrderView:
    return OrderView(**_order_fields(order))


def cancelled_order(result: Cancelled) -> OrderCancelled:
    return OrderCancelled(**_order_fields(result.order), balance=result.balance)


def modified(result: Modified) -> ModifiedPosition | ModifiedOrder:
    order = result.order
    if isinstance(order, Position):
        return ModifiedPosition(**_position_fields(order))
    return ModifiedOrder(**_order_fields(order))


def closed_trade(result: PositionClosed) -> TradeClosedAnswer:
    close = result.close
    return TradeClosedAnswer(
        **_position_fields(close.position),
        **close_fields(close, to_decimal),
        balance=result.balance,
    )


def open_trade(item: OpenPosition) -> OpenTrade:
    current, pnl = item.current_price, item.pnl
    return OpenTrade(
        **_position_fields(item.position),
        currentPrice=None if current is None else price(item.position.asset, current),
        pnl=None if pnl is None else usd(pnl),
    )


def account(result: Account) -> AccountAnswer:
    """SPEC §7.6 exactly: cents, and the margin level as a 2-place decimal or null."""
    return AccountAnswer(
        balance=result.balance,
        reserved=result.reserved,
        usedMargin=result.used_margin,
        unrealizedPnl=result.unrealized_pnl,
        equity=result.equity,
        marginLevel=result.margin_level,
        openPositions=result.open_positions,
        pendingOrders=result.pending_orders,
    )


def quote_view(asset: str, quote: Quote | None) -> QuoteView:
    if quote is None:
        return QuoteView(asset=asset, bid=None, ask=None, price=None, ts=None)  # type: ignore[arg-type]
    return QuoteView(
        asset=asset,  # type: ignore[arg-type]  # one of ASSETS
        bid=price(asset, quote.bid),
        ask=price(asset, quote.ask),
        price=price(asset, quote.price),
        ts=quote.ts,
    )


def balances(cents: int) -> Balances:
    """Every balance in the seed's shape: USDC in cents; coins are never held (CFDs)."""
    coins = {symbol: AssetBalance(balance=0, decimals=a.decimals) for symbol, a in ASSETS.items()}
    return Balances(USDC=AssetBalance(balance=cents, decimals=USD_DECIMALS), **coins)


def _plain(value: Decimal | None, places: int) -> Decimal | None:
    """A NUMERIC column's value at the asset's own precision (201.4700000000 -> 201.470000)."""
    return None if value is None else value.quantize(Decimal(1).scaleb(-places))


def duration(seconds: int) -> str:
    """A trade's age as the seed's clients show it, in whole units: "45s", "12m", "3h 5m",
    "2d 4h"."""
    seconds = max(0, seconds)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if minutes == 0:
        return f"{seconds}s"
    if hours == 0:
        return f"{minutes}m"
    if days == 0:
        return f"{hours}h {minutes % 60}m"
    return f"{days}d {hours % 24}h"


def history_fields(row: Mapping[Any, Any], now: datetime) -> dict[str, Any]:
    """A trades row (with its asset's symbol, name and image) as a history item's fields, in
    HistoryTrade's order; a trade still pending or open lasts up to `now`."""
    asset = row["symbol"]
    places = ASSETS[asset].decimals
    closed_at, pnl, opened_at = row["closed_at"], row["pnl"], row["opened_at"]
    side = row["trade_type"].lower()
    status = row["status"]
    started = opened_at or row["created_at"]
    seconds = max(0, ((closed_at or now) - started) // timedelta(seconds=1))
    return {
        "id": str(row["id"]),
        "orderId": row["order_id"],
        "asset": asset,
        "assetName": row["asset_name"],
        "assetImage": row["asset_image"],
        "type": side,
        "tradeType": side,
        "orderType": row["order_type"],
        "status": status,
        "margin": row["margin"],
        "openMargin": row["open_margin"],
        "leverage": row["leverage"],
        "triggerPrice": _plain(row["trigger_price"], places),
        "openPrice": _plain(row["open_price"], places),
        "closePrice": _plain(row["close_price"], places),
        "liquidationPrice": _plain(row["liquidation_price"], places),
        "stopLoss": _plain(row["stop_loss"], places),
        "takeProfit": _plain(row["take_profit"], places),
        "pnl": pnl,
        "pnlPercentage": (
            percent(pnl, row["margin"]) if status == "closed" and pnl is not None else None
        ),
        "isProfitable": pnl is not None and pnl > 0,
        "liquidated": row["liquidated"],
        "closeReason": row["close_reason"],
        "createdAt": iso_from_datetime(row["created_at"]),
        "openedAt": iso(opened_at),
        "closedAt": iso(closed_at),
        "duration": duration(seconds),
        "durationInSeconds": seconds,
    }


def history_trade(row: Mapping[Any, Any], now: datetime) -> HistoryTrade:
    """A trades row as a history item (history_fields, validated)."""
    return HistoryTrade(**history_fields(row, now))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, never an exponent: as the JSON writes it
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        # a text cell a spreadsheet would run as a formula (only an order id from a hostile
        # producer could start so; numbers are never text here, so -12.50 stays a number)
        return "'" + text
    return text


def statement_row(fields: dict[str, Any]) -> list[str]:
    """A history item's fields (history_fields) as the statement's CSV cells: exact decimals,
    ISO 8601 UTC times, true/false, empty for null."""
    return [_cell(fields[name]) for name in HISTORY_FIELDS]
