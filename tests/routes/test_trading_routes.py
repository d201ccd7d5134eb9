"""The trading and wallet routes in-process against the real engine core: every answer's
shape and exact values, and every rejection's status and message."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.routes.conftest import Desk, exact, failure

SOL_150 = 150_000_000


LONG = {"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 100}


async def test_create_open_close_share_one_position_view(desk: Desk):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL_150)

    created = await desk.client.post("/trade/create", json=LONG, headers=alice)
    assert created.status_code == 200, created.text
    opened = exact(created)
    position_fields = {
        "orderId",
        "asset",
        "type",
        "margin",
        "leverage",
        "openPrice",
        "liquidationPrice",
        "stopLoss",
        "takeProfit",
        "createdAt",
    }
    assert set(opened) == position_fields | {"orderType", "status", "balance"}
    assert opened["orderType"] == "market" and opened["status"] == "open"
    assert opened["stopLoss"] is None and opened["takeProfit"] is None
    assert opened["margin"] == Decimal("10.00") and opened["balance"] == 499_000
    assert opened["openPrice"] == Decimal("150.000000")
    assert opened["liquidationPrice"] == Decimal("135.000000")
    assert '"margin":10.00' in created.text  # a JSON number with its cents, not a string

    desk.price("SOL", 151_500_000)
    [live] = exact(await desk.client.get("/trades/open", headers=alice))["trades"]
    assert set(live) == position_fields | {"currentPrice", "pnl"}
    assert {k: live[k] for k in position_fields} == {k: opened[k] for k in position_fields}
    assert live["currentPrice"] == Decimal("151.500000") and live["pnl"] == Decimal("1.00")

    closed = exact(
        await desk.client.post("/trade/close", json={"orderId": opened["orderId"]}, headers=alice)
    )
    assert set(closed) == position_fields | {
        "closedMargin",
        "remainingMargin",
        "status",
        "closePrice",
        "pnl",
        "closeReason",
        "liquidated",
        "closedAt",
        "balance",
    }
    assert closed["closedMargin"] == Decimal("10.00") and closed["remainingMargin"] == 0
    assert closed["status"] == "closed" and closed["closeReason"] == "manual"
    assert {k: closed[k] for k in position_fields} == {k: opened[k] for k in position_fields}
    assert closed["pnl"] == Decimal("1.00") and closed["balance"] == 500_100
    assert closed["liquidated"] is False and closed["closedAt"] >= closed["createdAt"]
    assert exact(await desk.client.get("/trades/open", headers=alice)) == {"trades": []}


async def test_balances_come_from_the_engine_in_minor_units(desk: Desk):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL_150)
    await desk.client.post("/trade/create", json=LONG, headers=alice)
    assert (await desk.client.get("/balance/usd", headers=alice)).json() == {"balance": 499_000}
    assert (await desk.client.get("/balance", headers=alice)).json() == {
        "USDC": {"balance": 499_000, "decimals": 2},
        "BTC": {"balance": 0, "decimals": 4},
        "ETH": {"balance": 0, "decimals": 6},
        "SOL": {"balance": 0, "decimals": 6},
    }


@pytest.mark.parametrize(
    ("change", "status", "mentions"),
    [
        ({"margin": 600_000}, 400, "exceeds the balance"),
        ({"price": 160_000_000}, 400, "more than the 100 bps"),
        ({"asset": "ETH"}, 503, "no ETH price"),
        ({"margin": "10"}, 400, "margin"),
        ({"leverage": 101}, 400, "leverage"),
        ({"type": "sideways"}, 400, "type"),
    ],
)
async def test_rejections_are_clear_and_change_nothing(desk: Desk, change, status, mentions):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL_150)
    answer = await desk.client.post("/trade/create", json={**LONG, **change}, headers=alice)
    failure(answer, status, mentions)
    assert (await desk.client.get("/balance/usd", headers=alice)).json() == {"balance": 500_000}
    assert desk.engine.engine.open_positions == 0


async def test_a_stale_price_is_503(desk: Desk):
    alice = await desk.trader("alice")
    desk.price("SOL", SOL_150)
    desk.now += 11_000_000
    failure(await desk.client.post("/trade/create", json=LONG, headers=alice), 503, "old")


async def test_closing_someone_elses_unknown_or_closed_order(desk: Desk):
    alice, bob = await desk.trader("alice"), await desk.trader("bob")
    desk.price("SOL", SOL_150)
    order_id = (await desk.client.post("/trade/create", json=LONG, headers=alice)).json()["orderId"]
    failure(await desk.client.post("/trade/close", json={"orderId": "nope"}, headers=alice), 404)
    failure(await desk.client.post("/trade/close", json={"orderId": order_id}, headers=bob), 403)
    ok = await desk.client.post("/trade/close", json={"orderId": order_id}, headers=alice)
    assert ok.status_code == 200
    again = await desk.client.post("/trade/close", json={"orderId": order_id}, headers=alice)
    failure(again, 409, "already closed")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/trade/create"),
        ("POST", "/trade/close"),
        ("GET", "/trades/open"),
        ("GET", "/balance"),
        ("GET", "/balance/usd"),
    ],
)
async def test_every_trading_route_needs_a_session(desk: Desk, method, path):
    failure(await desk.client.request(method, path, json={}), 401, "sign in")
    forged = {"authorization": "Bearer not-a-token"}
    failure(await desk.client.request(method, path, json={}, headers=forged), 401)


async def test_the_schema_documents_the_answers(desk: Desk):
    schema = (await desk.client.get("http://test/openapi.json")).json()
    components = schema["components"]["schemas"]
    created = components["TradeCreated"]["properties"]
    assert created["margin"]["type"] == "number" and created["balance"]["type"] == "integer"
    assert "closedAt" in components["TradeClosedAnswer"]["properties"]
    assert {"currentPrice", "pnl"} <= set(components["OpenTrade"]["properties"])
