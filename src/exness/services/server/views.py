"""Engine replies and DB rows as the API shows them: exact decimals in human units."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from exness.domain.assets import ASSETS
from exness.domain.money import USD_DECIMALS, to_decimal

__all__ = ["history_trade", "iso_from_us", "open_trade", "price", "usd"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def price(asset: str, units: int) -> Decimal:
    return to_decimal(units, ASSETS[asset].decimals)


def usd(cents: int) -> Decimal:
    return to_decimal(cents, USD_DECIMALS)


def iso_from_us(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat().replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def open_trade(trade: dict[str, Any]) -> dict[str, Any]:
    asset = trade["asset"]
    current = trade["currentPrice"]
    return {
        "orderId": trade["orderId"],
        "asset": asset,
        "type": trade["type"],
        "margin": usd(trade["margin"]),
        "leverage": trade["leverage"],
        "openPrice": price(asset, trade["openPrice"]),
        "liquidationPrice": price(asset, trade["liquidationPrice"]),
        "currentPrice": None if current is None else price(asset, current),
        "pnl": None if trade["pnl"] is None else usd(trade["pnl"]),
        "createdAt": iso_from_us(trade["openedAt"]),
    }


def _plain(value: Decimal | None, places: int) -> Decimal | None:
    """A NUMERIC column's value at the asset's own precision (201.4700000000 -> 201.470000)."""
    return None if value is None else value.quantize(Decimal(1).scaleb(-places))


def history_trade(row: dict[str, Any]) -> dict[str, Any]:
    asset = row["symbol"]
    places = ASSETS[asset].decimals
    if row["liquidated"]:
        status = "liquidated"
    elif row["closed_at"] is not None:
        status = "closed"
    else:
        status = "open"
    return {
        "orderId": row["order_id"],
        "asset": asset,
        "type": row["trade_type"].lower(),
        "status": status,
        "margin": row["margin"],
        "leverage": row["leverage"],
        "openPrice": _plain(row["open_price"], places),
        "closePrice": _plain(row["close_price"], places),
        "liquidationPrice": _plain(row["liquidation_price"], places),
        "pnl": row["pnl"],
        "liquidated": row["liquidated"],
        "createdAt": iso(row["created_at"]),
        "closedAt": iso(row["closed_at"]),
    }
