"""The services as processes, over real Redis and PostgreSQL, with a Backpack-protocol feed
(issue #3): a quote reaches `price-SOL`, a command pushed onto `trade_stream` is answered
and recorded, a crossing quote liquidates, and bad entries are skipped, not fatal."""

from __future__ import annotations

import uuid
from decimal import Decimal

import orjson
import pytest
import redis

from exness.adapters import keys
from exness.codec.prices import decode_price_key
from tests.e2e.api import db_fetch
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until
from tests.fakes.wire import wire_command

pytestmark = pytest.mark.e2e

REPLIES = "engine_replies:e2e"


class Bus:
    """A test talking to the engine the way the server does, straight over Redis."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url)

    def ask(self, kind: str, user: str, data: dict | None = None) -> dict:
        """The engine's raw JSON reply (codec/replies.py documents it)."""
        request_id = uuid.uuid4().hex
        queue = keys.TRADE_QUEUE if "TRADE" in kind else keys.WALLET_QUEUE
        self.redis.lpush(queue, wire_command(kind, request_id, user, REPLIES, data))
        while True:
            popped = self.redis.brpop([REPLIES], timeout=20)
            assert popped is not None, f"no reply to {kind}"
            reply = orjson.loads(popped[1])
            if reply["requestId"] == request_id:
                return reply


def test_quotes_trades_and_liquidations_flow_through_the_services(stack: Stack):
    bus = Bus(stack.env["REDIS_URL"])
    database = stack.env["DATABASE_URL"]

    # a quote from the feed reaches price-SOL, as the exact integer mid
    stack.feed.quote("SOL_USDC", "150.000000", "0")
    quote = wait_until(lambda: bus.redis.get(keys.price_key("SOL")), 20, "price-SOL")
    assert decode_price_key(quote).price == 150_000_000

    # a CREATE_TRADE pushed onto trade_stream is answered and becomes a trades row
    assert bus.ask("INITIALIZE_WALLET", "trader-1")["ok"]
    order_id = f"order-{uuid.uuid4().hex}"
    opened = bus.ask(
        "CREATE_TRADE",
        "trader-1",
        {"orderId": order_id, "asset": "SOL", "type": "long", "margin": 2500, "leverage": 10},
    )
    assert opened["ok"], opened
    assert opened["result"]["position"]["liquidationPrice"] == 135_000_000
    [row] = wait_until(
        lambda: db_fetch(database, "SELECT * FROM trades WHERE order_id = $1", order_id),
        20,
        "the trades row",
    )
    assert row["margin"] == Decimal("25.00") and row["open_price"] == Decimal("150")
    assert row["closed_at"] is None

    # a quote through the liquidation price liquidates it into the trades table
    stack.feed.quote("SOL_USDC", "134.990000", "0")
    [row] = wait_until(
        lambda: db_fetch(
            database, "SELECT * FROM trades WHERE order_id = $1 AND liquidated", order_id
        ),
        20,
        "the liquidated row",
    )
    assert row["pnl"] == Decimal("-25.00")
    assert row["close_price"] == Decimal("134.99")
    balance = bus.ask("GET_USDC_BALANCE", "trader-1")["result"]
    assert balance == {"kind": "balance", "balance": 500_000 - 2500}


def test_bad_entries_on_every_stream_are_skipped_without_stopping_a_service(stack: Stack):
    bus = Bus(stack.env["REDIS_URL"])
    bus.redis.lpush(keys.TRADE_QUEUE, b"\xff not json")
    bus.redis.lpush(keys.WALLET_QUEUE, orjson.dumps({"type": "FLY", "requestId": "x"}))
    bus.redis.xadd(keys.PRICE_STREAM, {"data": b"{nope"})
    bus.redis.xadd(keys.PRICE_STREAM, {"other": b"field"})
    bus.redis.xadd(keys.DB_OPERATIONS, {"data": b'{"op": "teleport"}'})
    bus.redis.xadd(keys.SNAPSHOTS, {"data": b"[]"})

    # every service still works
    stack.feed.quote("ETH_USDC", "3000")
    wait_until(lambda: bus.redis.get(keys.price_key("ETH")), 20, "price-ETH")
    assert bus.ask("INITIALIZE_WALLET", "trader-2")["ok"]
    wait_until(
        lambda: db_fetch(stack.env["DATABASE_URL"], "SELECT id FROM users WHERE id = 'trader-2'"),
        20,
        "the user row",
    )
    dead = wait_until(lambda: bus.redis.xlen(keys.DEAD_LETTERS) >= 2, 20, "dead letters")
    assert dead
    assert all(service.running for service in stack.services.by_name.values())
