"""The server's price book against real Redis: pushed on the channel, read from the key
when nothing was heard."""

from __future__ import annotations

import asyncio

import pytest

from exness.adapters import keys
from exness.adapters.quotes import QuoteBook
from exness.codec.prices import encode_price_key
from exness.domain.messages import Quote

pytestmark = pytest.mark.integration


async def test_published_prices_are_held_and_the_key_is_the_fallback(redis_client, redis_url):
    book = QuoteBook(redis_url, redis_client, max_age_s=0.5)
    assert await book.quote("SOL") is None  # nothing anywhere yet
    await redis_client.set(keys.price_key("SOL"), encode_price_key("SOL", Quote(150, 1, 150, 150)))
    assert await book.quote("SOL") == Quote(150, 1, 150, 150)  # from the key
    await book.start()
    try:
        while not await redis_client.pubsub_numsub(keys.PRICE_CHANNEL) or (
            (await redis_client.pubsub_numsub(keys.PRICE_CHANNEL))[0][1] == 0
        ):
            await asyncio.sleep(0.01)
        await redis_client.publish(
            keys.PRICE_CHANNEL, encode_price_key("SOL", Quote(151, 2, 151, 151))
        )
        while await book.quote("SOL") != Quote(
            151, 2, 151, 151
        ):  # heard, though the key still says 150
            await asyncio.sleep(0.01)
        await redis_client.publish(keys.PRICE_CHANNEL, b"not a price")  # ignored
        await asyncio.sleep(0.6)  # nothing heard for longer than max_age: the key again
        assert await book.quote("SOL") == Quote(150, 1, 150, 150)
    finally:
        await book.stop()
