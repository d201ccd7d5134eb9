"""Entries of `price_stream` and the `price-ASSET` keys (SPEC §2).

An entry's field `data` holds `{"price_updates": [{"asset": "SOL", "price": 201470000,
"decimals": 6, "bid": ..., "ask": ..., "ts": ...}, ...]}`: integer prices in the asset's
units (another number of decimals is rescaled when that is exact), `price` the mid, `bid`
and `ask` optional, `ts` the feed's own event time in µs, optional, defaulting to the
entry's own time. Updates are kept in order: a crossing inside a batch must liquidate.
"""

from __future__ import annotations

from typing import Any

import orjson

from exness.codec import CodecError
from exness.codec.records import decode_quote
from exness.codec.stream_ids import stream_id_us
from exness.domain.assets import ASSETS
from exness.domain.messages import PriceTick, Quote

__all__ = [
    "decode_asset_quote",
    "decode_price_entry",
    "decode_price_key",
    "encode_price_key",
    "encode_price_updates",
]


def _rescaled(raw: Any, decimals: int, target: int, name: str) -> int:
    if type(raw) is not int or raw <= 0:
        raise CodecError(f"{name} must be a positive integer in the asset's units")
    value: int = raw
    if decimals == target:
        return value
    if decimals < target:
        return value * int(10 ** (target - decimals))
    divisor = int(10 ** (decimals - target))
    if value % divisor:
        raise CodecError(f"{name} has more than {target} decimals")
    return value // divisor


def decode_update(update: Any, default_ts: int) -> PriceTick:
    if not isinstance(update, dict):
        raise CodecError("a price update must be an object")
    symbol = update.get("asset")
    asset = ASSETS.get(symbol) if isinstance(symbol, str) else None
    if asset is None:
        raise CodecError(f"unknown asset {update.get('asset')!r}")
    decimals = update.get("decimals", asset.decimals)
    if type(decimals) is not int or not 0 <= decimals <= 18:
        raise CodecError("decimals must be an integer from 0 to 18")
    price = _rescaled(update.get("price"), decimals, asset.decimals, "price")
    bid = update.get("bid")
    ask = update.get("ask")
    bid = None if bid is None else _rescaled(bid, decimals, asset.decimals, "bid")
    ask = None if ask is None else _rescaled(ask, decimals, asset.decimals, "ask")
    if bid is not None and ask is not None and bid > ask:
        raise CodecError("bid is above ask")
    ts = update.get("ts", default_ts)
    if type(ts) is not int or ts <= 0:
        raise CodecError("ts must be a positive integer (µs)")
    return PriceTick(asset.symbol, price, ts, bid, ask)


def decode_price_entry(
    entry_id: str | bytes, data: bytes | str
) -> tuple[list[PriceTick], list[str]]:
    """The ticks of one entry, in order, and a message for each update that was skipped."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise CodecError(f"price entry is not JSON: {error}") from None
    updates = body.get("price_updates") if isinstance(body, dict) else None
    if not isinstance(updates, list):
        raise CodecError('price entry needs a "price_updates" list')
    default_ts = stream_id_us(entry_id)
    ticks: list[PriceTick] = []
    problems: list[str] = []
    for update in updates:
        try:
            ticks.append(decode_update(update, default_ts))
        except CodecError as error:
            problems.append(str(error))
    return ticks, problems


def encode_price_updates(ticks: list[PriceTick]) -> bytes:
    return orjson.dumps(
        {
            "price_updates": [
                {
                    "asset": tick.asset,
                    "price": tick.price,
                    "decimals": ASSETS[tick.asset].decimals,
                    "bid": tick.bid,
                    "ask": tick.ask,
                    "ts": tick.ts,
                }
                for tick in ticks
            ]
        }
    )


def encode_price_key(asset: str, quote: Quote) -> bytes:
    return orjson.dumps(
        {
            "asset": asset,
            "price": quote.price,
            "decimals": ASSETS[asset].decimals,
            "bid": quote.bid,
            "ask": quote.ask,
            "ts": quote.ts,
        }
    )


def decode_price_key(raw: bytes | str) -> Quote:
    return decode_asset_quote(raw)[1]


def decode_asset_quote(raw: bytes | str) -> tuple[str, Quote]:
    """A `price-ASSET` value (also published on the prices channel): the asset and quote."""
    try:
        body = orjson.loads(raw)
        return str(body["asset"]), decode_quote(body)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CodecError(f"bad price key: {error}") from None
