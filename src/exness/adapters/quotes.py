"""The latest price of each asset, pushed to the server instead of fetched per request.

The engine writes `price-ASSET` and, in the same MULTI, publishes the same JSON on the
`prices` channel. The server keeps what it hears in memory: a trade's quote costs no
round trip. If nothing was heard for an asset lately (a quiet market, a dropped
subscription), the quote is read from `price-ASSET`, as the SPEC describes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.backoff import Backoff
from exness.codec import CodecError
from exness.codec.prices import decode_asset_quote, decode_price_key
from exness.domain.messages import Quote
from exness.log import get_logger

__all__ = ["QuoteBook"]

log = get_logger(__name__)


class QuoteBook:
    """The quote port (adapters/engine_port.py) over Redis."""

    def __init__(self, url: str, client: aioredis.Redis, max_age_s: float = 1.0) -> None:
        self._url = url
        self._client = client
        self._max_age_s = max_age_s
        self._quotes: dict[str, tuple[Quote, float]] = {}  # asset -> (quote, heard at, monotonic)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="quotes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def quote(self, asset: str) -> Quote | None:
        """The latest quote of `asset`, or None if none was published yet."""
        heard = self._quotes.get(asset)
        if heard is not None and time.monotonic() - heard[1] < self._max_age_s:
            return heard[0]
        raw = await self._client.get(keys.price_key(asset))
        if raw is None:
            return None
        try:
            return decode_price_key(raw)
        except CodecError:
            return None

    def _heard(self, raw: bytes) -> None:
        try:
            asset, quote = decode_asset_quote(raw)
        except CodecError:
            return
        self._quotes[asset] = (quote, time.monotonic())

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.05, maximum=1.0)
        while True:
            client = aioredis.Redis.from_url(self._url)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(keys.PRICE_CHANNEL)
                    backoff.reset()
                    async for message in pubsub.listen():
                        self._heard(message["data"])
            except (RedisError, OSError) as error:
                log.warning("price subscription lost; reconnecting", error=repr(error))
                await asyncio.sleep(backoff.next_delay())
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
