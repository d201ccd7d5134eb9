"""The DB processor's pure half: engine operations and price ticks as the rows it writes.

No I/O here (adapters/db/writer.py runs the SQL). Every conversion is exact: cents become
NUMERIC dollars and asset units NUMERIC human prices through `exness.domain.money.to_decimal`;
µs become aware UTC datetimes through integer timedeltas. Inputs the database cannot hold for
what they say (an unknown asset, a number out of range, a malformed id) raise DataRejected,
which the DB processor dead-letters instead of retrying.

Rows converge whatever the order and repetition of their inputs (see writer.py): one row per
order id (the first closed operation if any, else the first open one), users merged to the
earliest creation time, and price bars aggregated per (asset, minute), skipping entries
already merged into a bar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from exness.codec.stream_ids import stream_id_key
from exness.domain.assets import ASSETS
from exness.domain.messages import PriceTick, TradeClosed, TradeOpened
from exness.domain.money import USD_DECIMALS, to_decimal

__all__ = [
    "BarKey",
    "DataRejected",
    "PriceEntry",
    "TradeRow",
    "aggregate_bars",
    "bar_rows",
    "bare_owners",
    "check_assets",
    "datetime_to_us",
    "json_rows",
    "merge_trade_operations",
    "merge_user_rows",
    "minute_start_us",
    "parse_stream_id",
    "trade_record",
    "us_to_datetime",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_US = 60_000_000
_INT32 = 2**31
_INT64 = 2**63

Trade = TradeOpened | TradeClosed


class DataRejected(ValueError):
    """An input the database cannot hold for what it says (unknown asset, a number out of
    range, a malformed id); the DB processor dead-letters it instead of retrying."""


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """The decoded ticks of one price_stream entry."""

    entry_id: str
    ticks: list[PriceTick]


def us_to_datetime(us: int) -> datetime:
    """µs since the epoch as an aware UTC datetime, exactly (no float on the way)."""
    try:
        return EPOCH + timedelta(microseconds=us)
    except (OverflowError, TypeError) as error:
        raise DataRejected(f"time {us!r} µs is out of range") from error


def parse_stream_id(entry_id: str | bytes) -> tuple[int, int]:
    """A Redis stream id `<ms>-<seq>` (or a bare `<ms>`) as a pair that orders like the id."""
    try:
        parsed = stream_id_key(entry_id)
    except ValueError:
        raise DataRejected(f"{entry_id!r} is not a stream id") from None
    if not all(0 <= part < _INT64 for part in parsed):  # they go into BIGINT columns
        raise DataRejected(f"{entry_id!r} is not a stream id")
    return parsed


def minute_start_us(ts: int) -> int:
    return ts - ts % MINUTE_US


def _int(value: int, bound: int, name: str) -> int:
    if type(value) is not int or not -bound <= value < bound:
        raise DataRejected(f"{name} {value!r} is out of range")
    return value


def _price(asset: str, units: int) -> Decimal:
    return to_decimal(units, ASSETS[asset].decimals)


@dataclass(slots=True)
class TradeRow:
    """A `trades` row (orjson writes it as an object keyed by column)."""

    order_id: str
    user_id: str
    asset_id: int
    trade_type: str
    margin: Decimal
    leverage: int
    open_price: Decimal
    liquidation_price: Decimal
    close_price: Decimal | None
    pnl: Decimal | None
    liquidated: bool
    created_at: datetime
    closed_at: datetime | None


def trade_record(operation: Trade, asset_ids: dict[str, int]) -> TradeRow:
    """The `trades` row an operation describes (closing fields None for an opened trade)."""
    position = operation.position
    closing = operation if isinstance(operation, TradeClosed) else None
    asset = position.asset
    asset_id = asset_ids.get(asset)
    if asset_id is None or asset not in ASSETS:
        raise DataRejected(f"unknown asset {asset!r} in order {position.order_id}")
    if position.side not in ("long", "short"):
        raise DataRejected(f"unknown side {position.side!r} in order {position.order_id}")
    return TradeRow(
        position.order_id,
        position.user_id,
        asset_id,
        position.side.upper(),
        to_decimal(position.margin, USD_DECIMALS),
        _int(position.leverage, _INT32, "leverage"),
        _price(asset, position.open_price),
        _price(asset, position.liquidation_price),
        None if closing is None else _price(asset, closing.close_price),
        None if closing is None else to_decimal(closing.pnl, USD_DECIMALS),
        closing is not None and closing.liquidated,
        us_to_datetime(position.opened_at),
        None if closing is None else us_to_datetime(closing.closed_at),
    )


def merge_trade_operations(operations: Iterable[Trade]) -> list[Trade]:
    """One operation per order id: the first closed one if there is one, else the first open
    one (one statement may not upsert a row twice)."""
    chosen: dict[str, Trade] = {}
    for operation in operations:
        key = operation.position.order_id
        seen = chosen.get(key)
        if seen is None or (
            not isinstance(seen, TradeClosed) and isinstance(operation, TradeClosed)
        ):
            chosen[key] = operation
    return list(chosen.values())


def merge_user_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per user id: the earliest creation time and the first email given."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["id"])
        if seen is None:
            merged[row["id"]] = dict(row)
            continue
        seen["created_at"] = min(seen["created_at"], row["created_at"])
        seen["email"] = seen["email"] or row["email"]
    return list(merged.values())


def bare_owners(trades: Iterable[TradeRow], created: set[str]) -> list[dict[str, Any]]:
    """User rows for the trades' users without a `user_created` in the batch, each created
    with its earliest trade: a bare row keeps the foreign key satisfied until `user_created`
    arrives (it may come later, or have been dead-lettered)."""
    owners: dict[str, datetime] = {}
    for row in trades:
        if row.user_id in created:
            continue
        seen = owners.get(row.user_id)
        if seen is None or row.created_at < seen:
            owners[row.user_id] = row.created_at
    return [{"id": user_id, "created_at": at} for user_id, at in owners.items()]


def json_rows(rows: Sequence[object]) -> str:
    """Rows (dicts or dataclasses) as the JSON text of a `json_to_recordset` parameter.

    Decimals, the one type of theirs orjson does not write itself, become their exact text
    (`default=str`, a C call per value), which PostgreSQL reads back as the same NUMERIC."""
    try:
        return orjson.dumps(rows, default=str).decode()
    except orjson.JSONEncodeError as error:  # an integer beyond 64 bits, a broken string
        raise DataRejected(f"cannot be written: {error}") from None


BarKey = tuple[str, int]  # (asset symbol, minute start in µs)


def aggregate_bars(
    entries: Sequence[PriceEntry], merged_up_to: dict[BarKey, tuple[int, int]]
) -> dict[BarKey, dict[str, Any]]:
    """The bars of `entries`, leaving out, per bar, every entry not newer than the newest
    already merged into it (`merged_up_to`), with the oldest and newest entry each took.
    Values stay in asset units here."""
    bars: dict[BarKey, dict[str, Any]] = {}
    for entry in entries:
        entry_id = parse_stream_id(entry.entry_id)
        for tick in entry.ticks:
            _int(tick.ts, _INT64, "tick time")
            key = (tick.asset, minute_start_us(tick.ts))
            guard = merged_up_to.get(key)
            if guard is not None and entry_id <= guard:
                continue
            bar = bars.get(key)
            if bar is None:
                bars[key] = {
                    "open": tick.price,
                    "high": tick.price,
                    "low": tick.price,
                    "close": tick.price,
                    "ticks": 1,
                    "first_ts": tick.ts,
                    "last_ts": tick.ts,
                    "first_entry": entry_id,
                    "last_entry": entry_id,
                }
                continue
            if tick.ts < bar["first_ts"]:  # on a tie the earlier tick (in stream order) opens
                bar["open"], bar["first_ts"] = tick.price, tick.ts
            if tick.ts >= bar["last_ts"]:  # on a tie the later tick closes
                bar["close"], bar["last_ts"] = tick.price, tick.ts
            bar["high"] = max(bar["high"], tick.price)
            bar["low"] = min(bar["low"], tick.price)
            bar["ticks"] += 1
            bar["first_entry"] = min(bar["first_entry"], entry_id)
            bar["last_entry"] = max(bar["last_entry"], entry_id)
    return bars


def datetime_to_us(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def bar_rows(
    aggregated: dict[BarKey, dict[str, Any]], asset_ids: dict[str, int]
) -> list[dict[str, Any]]:
    """`aggregate_bars`' bars as price_bars rows (and the oldest entry each took)."""
    return [
        {
            "asset_id": asset_ids[asset],
            "bucket": us_to_datetime(start),
            "open": _price(asset, bar["open"]),
            "high": _price(asset, bar["high"]),
            "low": _price(asset, bar["low"]),
            "close": _price(asset, bar["close"]),
            "ticks": _int(bar["ticks"], _INT32, "ticks"),
            "first_ts": bar["first_ts"],
            "last_ts": bar["last_ts"],
            "first_entry_ms": bar["first_entry"][0],
            "first_entry_seq": bar["first_entry"][1],
            "last_entry_ms": bar["last_entry"][0],
            "last_entry_seq": bar["last_entry"][1],
        }
        for (asset, start), bar in aggregated.items()
    ]


def check_assets(entries: Sequence[PriceEntry], asset_ids: dict[str, int]) -> None:
    for entry in entries:
        for tick in entry.ticks:
            if tick.asset not in asset_ids or tick.asset not in ASSETS:
                raise DataRejected(f"unknown asset {tick.asset!r} in entry {entry.entry_id}")
