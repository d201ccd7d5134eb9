"""The DB processor's pure half: engine operations and price ticks as the rows it writes.

No I/O here (adapters/db/writer.py runs the SQL). Every conversion is exact: cents become
NUMERIC dollars and asset units NUMERIC human prices through `exness.domain.money.to_decimal`;
µs become aware UTC datetimes through integer timedeltas. Inputs the database cannot hold for
what they say (an unknown asset, a number out of range, a malformed id) raise DataRejected,
which the DB processor dead-letters instead of retrying.

Rows converge whatever the order and repetition of their inputs (see writer.py): every
operation on an order becomes a `trades` row of what it knows (`trade_row`), merged per order
by the same rules the SQL applies to the stored row (`merge_trade_rows`); each close, part or
whole, a `trade_closes` row keyed by (order id, margin open before it); users merged to the
earliest creation time; price bars aggregated per (asset, minute), skipping entries already
merged into a bar.
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
from exness.domain.messages import (
    DbOperation,
    OrderCancelled,
    OrderModified,
    OrderPlaced,
    PriceTick,
    TradeClosed,
    TradeOpened,
    UserCreated,
)
from exness.domain.money import USD_DECIMALS, to_decimal
from exness.domain.orders import PendingOrder
from exness.domain.positions import Position

__all__ = [
    "BarKey",
    "CloseRow",
    "DataRejected",
    "OrderOperation",
    "PriceEntry",
    "TradeRow",
    "aggregate_bars",
    "bar_rows",
    "bare_owners",
    "check_assets",
    "close_row",
    "datetime_to_us",
    "json_rows",
    "levels_version",
    "merge_user_rows",
    "minute_start_us",
    "order_rows",
    "parse_stream_id",
    "trade_row",
    "us_to_datetime",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE_US = 60_000_000
_INT32 = 2**31
_INT64 = 2**63
_DECIMALS = {symbol: asset.decimals for symbol, asset in ASSETS.items()}
_SIDES = {"long": "LONG", "short": "SHORT"}

# The operations about one order (every DB operation but user_created).
OrderOperation = OrderPlaced | OrderCancelled | TradeOpened | OrderModified | TradeClosed


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
    return to_decimal(units, _DECIMALS[asset])


@dataclass(slots=True)
class TradeRow:
    """What one operation (or several, merged) says of an order's `trades` row; orjson writes
    it as an object keyed by column. Every operation carries the whole order, so most fields
    are known from any one of them; those it does not know are None: a fill, a close or a
    modification of a position does not say whether the order was a market, limit or stop
    one (nor its trigger), and a pending order has no open price yet.

    The realized side (pnl, close price and reason, liquidated) is not here: it comes from the
    `trade_closes` rows the statement inserts (writer.py)."""

    order_id: str
    user_id: str
    asset_id: int
    trade_type: str
    order_type: str | None  # None: not known from this operation (a fill, a close, ...)
    trigger_price: Decimal | None
    margin: Decimal  # as placed or opened, as far as known: merged by the greatest
    open_margin: Decimal  # still held after this operation: merged by the least
    leverage: int
    open_price: Decimal | None
    liquidation_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    levels_version: int  # the stop loss and take profit with the greatest version win
    created_at: datetime  # exact when order_type is known, else the position's open time
    opened_at: datetime | None
    closed_at: datetime | None  # the last part closed, or the order was cancelled


@dataclass(slots=True)
class CloseRow:
    """A `trade_closes` row: one close, keyed by (order_id, margin_before)."""

    order_id: str
    margin_before: Decimal
    margin: Decimal
    close_price: Decimal
    pnl: Decimal
    reason: str
    closed_at: datetime


# levels_version = rank << 60 | order within the rank. An order's stop loss and take profit are
# set when it is placed or opened and changed only by modifications, so the operations that
# carry them are ranked by where they stand in the order's life:
#   0  placed                      the levels given with the order
#   1  modified while pending      by modification time (commands' times never go back)
#   2  opened, filled, closed      the position's levels; later the less margin is open
#      (and cancelled)             (a cancellation ends a pending order: nothing follows it)
#   3  modified while open         by modification time
# A fill carries the pending order's last levels and a close those of the position at that
# moment, so ranks 0 and 2 can only be passed by a modification carrying newer ones. (Ties:
# two modifications of one order within the same millisecond, delivered out of order, keep
# the one written last; reconcile would report it.)
_VERSION_BITS = 60
_VERSION_MAX = (1 << _VERSION_BITS) - 1
PLACED, MODIFIED_PENDING, POSITION, MODIFIED_OPEN = range(4)


def levels_version(rank: int, order: int) -> int:
    return rank << _VERSION_BITS | min(max(order, 0), _VERSION_MAX)


@dataclass(slots=True)
class _Facts:
    """What operations tell of an order, in the engine's integers (cents, asset units, µs):
    merged per order first, so a batch converts each order to decimals and datetimes once."""

    order_id: str
    user_id: str
    asset: str
    asset_id: int
    side: str  # LONG | SHORT
    order_type: str | None
    trigger_price: int | None
    margin: int
    open_margin: int
    leverage: int
    open_price: int | None
    liquidation_price: int | None
    stop_loss: int | None
    take_profit: int | None
    levels_version: int
    created_at: int
    opened_at: int | None
    closed_at: int | None

    def merge(self, other: _Facts) -> None:
        """`other` merged in: the rules of writer.WRITE_BATCH's ON CONFLICT, in Python (one
        statement may not upsert a row twice), so that merging here first changes nothing."""
        if self.order_type is None:
            if other.order_type is not None:  # its creation time is exact
                self.order_type, self.created_at = other.order_type, other.created_at
            else:
                self.created_at = min(self.created_at, other.created_at)
        if self.trigger_price is None:
            self.trigger_price = other.trigger_price
        self.margin = max(self.margin, other.margin)
        self.open_margin = min(self.open_margin, other.open_margin)
        if self.open_price is None:
            self.open_price, self.liquidation_price = other.open_price, other.liquidation_price
        if other.levels_version >= self.levels_version:
            self.stop_loss, self.take_profit = other.stop_loss, other.take_profit
            self.levels_version = other.levels_version
        if self.opened_at is None:
            self.opened_at = other.opened_at
        if self.closed_at is None:
            self.closed_at = other.closed_at

    def row(self) -> TradeRow:
        # Decimal(n).scaleb(-places) is to_decimal(n, places), spelled out on this hot path
        exponent = -_DECIMALS[self.asset]
        return TradeRow(
            self.order_id,
            self.user_id,
            self.asset_id,
            self.side,
            self.order_type,
            None if self.trigger_price is None else Decimal(self.trigger_price).scaleb(exponent),
            Decimal(self.margin).scaleb(-USD_DECIMALS),
            Decimal(self.open_margin).scaleb(-USD_DECIMALS),
            self.leverage,
            None if self.open_price is None else Decimal(self.open_price).scaleb(exponent),
            None
            if self.liquidation_price is None
            else Decimal(self.liquidation_price).scaleb(exponent),
            None if self.stop_loss is None else Decimal(self.stop_loss).scaleb(exponent),
            None if self.take_profit is None else Decimal(self.take_profit).scaleb(exponent),
            self.levels_version,
            us_to_datetime(self.created_at),
            None if self.opened_at is None else us_to_datetime(self.opened_at),
            None if self.closed_at is None else us_to_datetime(self.closed_at),
        )


def _checked(order: Position | PendingOrder, asset_ids: dict[str, int]) -> tuple[int, str]:
    """The order's asset id and side as the table writes them; DataRejected for what the
    database cannot hold for what it says."""
    asset, order_id = order.asset, order.order_id
    asset_id = asset_ids.get(asset)
    if asset_id is None or asset not in _DECIMALS:
        raise DataRejected(f"unknown asset {asset!r} in order {order_id}")
    side = _SIDES.get(order.side)
    if side is None:
        raise DataRejected(f"unknown side {order.side!r} in order {order_id}")
    _int(order.leverage, _INT32, "leverage")
    return asset_id, side


def _pending_facts(
    order: PendingOrder,
    asset_ids: dict[str, int],
    open_margin: int,
    version: int,
    closed_at: int | None = None,
) -> _Facts:
    asset_id, side = _checked(order, asset_ids)
    if order.order_type not in ("limit", "stop"):
        raise DataRejected(f"unknown order type {order.order_type!r} in order {order.order_id}")
    return _Facts(
        order.order_id,
        order.user_id,
        order.asset,
        asset_id,
        side,
        order.order_type,
        order.trigger_price,
        order.margin,
        open_margin,
        order.leverage,
        None,
        None,
        order.stop_loss,
        order.take_profit,
        version,
        order.placed_at,
        None,
        closed_at,
    )


def _position_facts(
    position: Position,
    asset_ids: dict[str, int],
    order_type: str | None,
    open_margin: int,
    version: int,
    closed_at: int | None = None,
) -> _Facts:
    asset_id, side = _checked(position, asset_ids)
    return _Facts(
        position.order_id,
        position.user_id,
        position.asset,
        asset_id,
        side,
        order_type,
        None,
        position.margin,
        open_margin,
        position.leverage,
        position.open_price,
        position.liquidation_price,
        position.stop_loss,
        position.take_profit,
        version,
        position.opened_at,
        position.opened_at,
        closed_at,
    )


def _facts(operation: OrderOperation, asset_ids: dict[str, int]) -> _Facts:
    if isinstance(operation, TradeOpened):
        position = operation.position
        return _position_facts(
            position,
            asset_ids,
            None if operation.filled else "market",
            position.margin,
            levels_version(POSITION, _VERSION_MAX - position.margin),
        )
    if isinstance(operation, TradeClosed):
        position, remaining = operation.position, operation.remaining
        if not 0 < operation.margin <= position.margin:
            raise DataRejected(
                f"order {position.order_id} closes {operation.margin} of {position.margin}"
            )
        return _position_facts(
            position,
            asset_ids,
            None,
            remaining,
            levels_version(POSITION, _VERSION_MAX - position.margin),
            operation.closed_at if remaining == 0 else None,
        )
    if isinstance(operation, OrderModified):
        order = operation.order
        if isinstance(order, PendingOrder):
            version = levels_version(MODIFIED_PENDING, operation.modified_at)
            return _pending_facts(order, asset_ids, order.margin, version)
        version = levels_version(MODIFIED_OPEN, operation.modified_at)
        return _position_facts(order, asset_ids, None, order.margin, version)
    if isinstance(operation, OrderPlaced):
        order = operation.order
        return _pending_facts(order, asset_ids, order.margin, levels_version(PLACED, 0))
    order = operation.order  # OrderCancelled: nothing is held any more
    version = levels_version(POSITION, _VERSION_MAX)
    return _pending_facts(order, asset_ids, 0, version, operation.cancelled_at)


def trade_row(operation: OrderOperation, asset_ids: dict[str, int]) -> TradeRow:
    """The `trades` row as far as one operation tells it."""
    return _facts(operation, asset_ids).row()


def close_row(operation: TradeClosed) -> CloseRow:
    # Decimal(n).scaleb(-places) is to_decimal(n, places), spelled out on this hot path
    position = operation.position
    return CloseRow(
        position.order_id,
        Decimal(position.margin).scaleb(-USD_DECIMALS),
        Decimal(operation.margin).scaleb(-USD_DECIMALS),
        Decimal(operation.close_price).scaleb(-_DECIMALS[position.asset]),
        Decimal(operation.pnl).scaleb(-USD_DECIMALS),
        operation.reason,
        us_to_datetime(operation.closed_at),
    )


def order_rows(
    operations: Iterable[DbOperation], asset_ids: dict[str, int]
) -> tuple[list[TradeRow], list[CloseRow]]:
    """The `trades` rows of a batch's order operations, one per order (each the merge of its
    operations, in order), sorted by order id so concurrent writers lock rows in the same
    order; and its `trade_closes` rows, a close repeated in the batch once (user_created
    operations are skipped)."""
    merged: dict[str, _Facts] = {}
    closes: dict[tuple[str, int], TradeClosed] = {}
    for operation in operations:
        if isinstance(operation, UserCreated):
            continue
        facts = _facts(operation, asset_ids)
        seen = merged.get(facts.order_id)
        if seen is None:
            merged[facts.order_id] = facts
        else:
            seen.merge(facts)
        if isinstance(operation, TradeClosed):
            closes.setdefault((facts.order_id, operation.position.margin), operation)
    trades = [merged[order_id].row() for order_id in sorted(merged)]
    return trades, [close_row(close) for close in closes.values()]


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
