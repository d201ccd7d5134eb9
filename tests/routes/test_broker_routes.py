"""The broker's routes (SPEC §7) in-process against the real engine core: bid/ask execution,
stop loss and take profit, limit and stop orders, cancel, partial close, modify, the account
and quotes; every answer's exact values and every rejection's status and message."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exness.domain.messages import TradeClosed, TradeOpened
from tests.routes.conftest import Desk, exact, failure

# SOL quoted 149.99 / 150.01 (mid 150), in SOL's units (6 decimals)
MID, BID, ASK = 150_000_000, 149_990_000, 150_010_000
LONG = {"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 100}
SHORT = {**LONG, "type": "short"}


def quote(desk: Desk, bid: int = BID, ask: int = ASK) -> None:
    desk.price("SOL", (bid + ask) // 2, bid, ask)


async def open_trades(desk: Desk, who: dict) -> list[dict]:
    answer = await desk.client.get("/trades/open", headers=who)
    assert answer.status_code == 200, answer.text
    return exact(answer)["trades"]


async def balance(desk: Desk, who: dict) -> int:
    return (await desk.client.get("/balance/usd", headers=who)).json()["balance"]


async def post(desk: Desk, path: str, body: dict, who: dict, status: int = 200) -> dict:
    answer = await desk.client.post(path, json=body, headers=who)
    assert answer.status_code == status, answer.text
    return exact(answer)


# ---- §7.1 bid and ask --------------------------------------------------------------------


async def test_a_long_opens_at_the_ask_and_is_valued_at_the_bid_a_short_the_other_way(desk):
    alice = await desk.trader("alice")
    quote(desk)
    long = await post(desk, "/trade/create", LONG, alice)
    short = await post(desk, "/trade/create", SHORT, alice)
    assert long["openPrice"] == Decimal("150.010000")
    assert short["openPrice"] == Decimal("149.990000")
    # liquidation from the open price: 150.01 × 9/10 = 135.009; 149.99 × 11/10 = 164.989
    assert long["liquidationPrice"] == Decimal("135.009000")
    assert short["liquidationPrice"] == Decimal("164.989000")

    quote(desk, 151_000_000, 151_020_000)
    by_side = {t["type"]: t for t in await open_trades(desk, alice)}
    assert by_side["long"]["currentPrice"] == Decimal("151.000000")  # the bid
    assert by_side["short"]["currentPrice"] == Decimal("151.020000")  # the ask
    # long: 1000 × 10 × (151.00 − 150.01) / 150.01 = 65.996 → 66 cents
    assert by_side["long"]["pnl"] == Decimal("0.66")
    # short: 1000 × 10 × (149.99 − 151.02) / 149.99 = −68.671 → −69 cents
    assert by_side["short"]["pnl"] == Decimal("-0.69")

    closed = await post(desk, "/trade/close", {"orderId": long["orderId"]}, alice)
    assert closed["closePrice"] == Decimal("151.000000") and closed["pnl"] == Decimal("0.66")


async def test_the_slippage_quote_is_the_side_being_traded(desk):
    """With a spread of 20 (bid 140, ask 160), a 10 bps tolerance only passes if the quote
    is the ask for a long and the bid for a short: the mid (150) is 667 bps away from both."""
    alice = await desk.trader("alice")
    quote(desk, 140_000_000, 160_000_000)
    tight = {"slippage": 10}
    long = await post(desk, "/trade/create", {**LONG, **tight}, alice)
    short = await post(desk, "/trade/create", {**SHORT, **tight}, alice)
    assert long["openPrice"] == Decimal("160.000000") and short["openPrice"] == Decimal("140.0")
    # the client's own quote (the mid) is checked against the side's price, and refused
    at_mid = {**LONG, **tight, "price": MID}
    mid = await desk.client.post("/trade/create", json=at_mid, headers=alice)
    failure(mid, 400, "more than the 10 bps")
    assert mid.json()["code"] == "SLIPPAGE_EXCEEDED"


async def test_quotes_carry_bid_ask_and_mid_of_every_asset_exactly(desk):
    empty = exact(await desk.client.get("/quotes"))
    assert empty == {
        "quotes": [
            {"asset": a, "bid": None, "ask": None, "price": None, "ts": None}
            for a in ("SOL", "ETH", "BTC")
        ]
    }
    quote(desk)
    desk.price("BTC", 600_000_000, 599_995_000, 600_005_000)  # 4 decimals
    answer = await desk.client.get("/quotes")
    quotes = {q["asset"]: q for q in exact(answer)["quotes"]}
    assert quotes["SOL"]["bid"] == Decimal("149.990000")
    assert quotes["SOL"]["ask"] == Decimal("150.010000")
    assert quotes["SOL"]["price"] == Decimal("150.000000")
    assert quotes["SOL"]["ts"] == desk.now - 1  # the feed's time of the SOL tick, µs
    assert (quotes["BTC"]["bid"], quotes["BTC"]["ask"]) == (Decimal("59999.5"), Decimal("60000.5"))
    assert '"bid":59999.5000,' in answer.text  # exact numbers, every digit of the asset
    assert quotes["ETH"]["bid"] is None


# ---- §7.2 stop loss and take profit -------------------------------------------------------


async def test_stop_loss_and_take_profit_are_shown_and_fire_at_the_tick_price(desk):
    alice = await desk.trader("alice")
    quote(desk)
    body = {**LONG, "stopLoss": 145_000_000, "takeProfit": 155_000_000}
    opened = await post(desk, "/trade/create", body, alice)
    assert opened["stopLoss"] == Decimal("145.000000")
    assert opened["takeProfit"] == Decimal("155.000000")
    [live] = await open_trades(desk, alice)
    assert (live["stopLoss"], live["takeProfit"]) == (opened["stopLoss"], opened["takeProfit"])

    quote(desk, 156_000_000, 156_020_000)  # the bid gaps past the take profit
    assert await open_trades(desk, alice) == []
    [close] = [op for op in desk.engine.operations if isinstance(op, TradeClosed)]
    assert close.reason == "tp" and close.close_price == 156_000_000  # the bid, not the level
    # 1000 × 10 × (156.00 − 150.01) / 150.01 = 399.3 → 399 cents
    assert close.pnl == 399 and await balance(desk, alice) == 500_000 + 399


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"stopLoss": 151_000_000}, "stopLoss 151000000 of a long must be above its liquidation"),
        ({"stopLoss": 130_000_000}, "stopLoss"),  # beyond the liquidation price 135.009
        ({"takeProfit": 149_000_000}, "takeProfit 149000000 of a long must be above 149990000"),
        ({"type": "short", "stopLoss": 149_000_000}, "stopLoss 149000000 of a short"),
        ({"type": "short", "takeProfit": 151_000_000}, "takeProfit"),
        ({"stopLoss": 0}, "stopLoss: Input should be greater than 0"),
        ({"takeProfit": "155"}, "takeProfit"),
    ],
)
async def test_levels_on_the_wrong_side_are_400_saying_why(desk, change, mentions):
    alice = await desk.trader("alice")
    quote(desk)
    failure(await desk.client.post("/trade/create", json={**LONG, **change}, headers=alice), 400)
    answer = await desk.client.post("/trade/create", json={**LONG, **change}, headers=alice)
    failure(answer, 400, mentions)
    assert await balance(desk, alice) == 500_000


async def test_modify_sets_clears_and_keeps_each_level(desk):
    alice = await desk.trader("alice")
    quote(desk)
    body = {**LONG, "stopLoss": 140_000_000, "takeProfit": 160_000_000}
    order_id = (await post(desk, "/trade/create", body, alice))["orderId"]

    moved = await post(desk, "/trade/modify", {"orderId": order_id, "stopLoss": 145_000_000}, alice)
    assert moved["status"] == "open" and moved["orderId"] == order_id
    assert moved["stopLoss"] == Decimal("145.000000")
    assert moved["takeProfit"] == Decimal("160.000000")  # absent: kept

    cleared = await post(desk, "/trade/modify", {"orderId": order_id, "takeProfit": None}, alice)
    assert cleared["takeProfit"] is None and cleared["stopLoss"] == Decimal("145.000000")
    [live] = await open_trades(desk, alice)
    assert live["takeProfit"] is None and live["stopLoss"] == Decimal("145.000000")

    both = {"orderId": order_id, "stopLoss": None, "takeProfit": 170_000_000}
    changed = await post(desk, "/trade/modify", both, alice)
    assert changed["stopLoss"] is None and changed["takeProfit"] == Decimal("170.000000")

    quote(desk, 144_000_000, 144_020_000)  # the cleared stop loss does not fire
    assert len(await open_trades(desk, alice)) == 1


async def test_modify_rejections(desk):
    alice, bob = await desk.trader("alice"), await desk.trader("bob")
    quote(desk)
    order_id = (await post(desk, "/trade/create", LONG, alice))["orderId"]
    modify = "/trade/modify"

    async def refused(body: dict, who: dict, status: int, mentions: str = "") -> dict:
        return failure(await desk.client.post(modify, json=body, headers=who), status, mentions)

    await refused({"orderId": order_id}, alice, 400, "give stopLoss and/or takeProfit")
    await refused({"stopLoss": 1}, alice, 400, "orderId is required")
    await refused({"orderId": order_id, "stopLoss": 149_995_000}, alice, 400, "stopLoss")
    await refused({"orderId": order_id, "takeProfit": -5}, alice, 400, "takeProfit")
    await refused({"orderId": "nope", "stopLoss": 140_000_000}, alice, 404, "no order")
    await refused({"orderId": order_id, "stopLoss": 140_000_000}, bob, 403, "another user")
    await post(desk, "/trade/close", {"orderId": order_id}, alice)
    body = await refused({"orderId": order_id, "stopLoss": 140_000_000}, alice, 409, "closed")
    assert body["code"] == "ORDER_ALREADY_CLOSED"


# ---- §7.3 pending orders ------------------------------------------------------------------


async def test_a_limit_order_reserves_its_margin_fills_at_the_tick_and_keeps_its_id(desk):
    alice = await desk.trader("alice")
    quote(desk)
    body = {
        "asset": "SOL",
        "type": "long",
        "orderType": "limit",
        "triggerPrice": 148_000_000,
        "margin": 2_000,
        "leverage": 5,
        "stopLoss": 140_000_000,
    }  # no slippage: optional on a limit order
    placed = await post(desk, "/trade/create", body, alice)
    assert placed == {
        "orderId": placed["orderId"],
        "asset": "SOL",
        "type": "long",
        "orderType": "limit",
        "triggerPrice": Decimal("148.000000"),
        "margin": Decimal("20.00"),
        "leverage": 5,
        "stopLoss": Decimal("140.000000"),
        "takeProfit": None,
        "createdAt": placed["createdAt"],
        "status": "pending",
        "balance": 498_000,
    }
    pending = exact(await desk.client.get("/orders/pending", headers=alice))["orders"]
    assert [o["orderId"] for o in pending] == [placed["orderId"]]
    assert "status" not in pending[0] and pending[0]["triggerPrice"] == Decimal("148.000000")
    assert await open_trades(desk, alice) == []

    quote(desk, 148_500_000, 148_510_000)  # the ask is still above the trigger
    assert len(exact(await desk.client.get("/orders/pending", headers=alice))["orders"]) == 1
    quote(desk, 147_500_000, 147_520_000)  # the ask falls through it: fills at this ask
    assert exact(await desk.client.get("/orders/pending", headers=alice)) == {"orders": []}
    [position] = await open_trades(desk, alice)
    assert position["orderId"] == placed["orderId"]
    assert position["openPrice"] == Decimal("147.520000")
    assert position["liquidationPrice"] == Decimal("118.016000")  # 147.52 × 4/5
    assert position["stopLoss"] == Decimal("140.000000") and position["margin"] == Decimal("20")
    assert await balance(desk, alice) == 498_000  # the reserve became the position's margin
    [fill] = [op for op in desk.engine.operations if isinstance(op, TradeOpened)]
    assert fill.filled


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"orderType": "limit", "triggerPrice": 151_000_000}, "of a long limit must be below"),
        ({"orderType": "stop", "triggerPrice": 149_000_000}, "of a long stop must be above"),
        ({"type": "short", "orderType": "limit", "triggerPrice": 149_000_000}, "short limit"),
        ({"type": "short", "orderType": "stop", "triggerPrice": 151_000_000}, "short stop"),
        ({"orderType": "limit"}, "triggerPrice is required for a limit order"),
        ({"orderType": "market", "triggerPrice": 149_000_000}, "triggerPrice is for limit"),
        ({"orderType": "twap", "triggerPrice": 149_000_000}, "orderType"),
        ({"orderType": "market", "slippage": None}, "slippage is required for a market order"),
        (
            {"orderType": "limit", "triggerPrice": 140_000_000, "stopLoss": 141_000_000},
            "stopLoss 141000000 of a long must be above its liquidation price 126000000 and "
            "below 140000000",  # checked against the trigger, liquidation from the trigger
        ),
        ({"orderType": "limit", "triggerPrice": 140_000_000, "margin": 500_001}, "exceeds"),
    ],
)
async def test_pending_order_rejections_say_why_and_reserve_nothing(desk, change, mentions):
    alice = await desk.trader("alice")
    quote(desk)
    answer = await desk.client.post("/trade/create", json={**LONG, **change}, headers=alice)
    failure(answer, 400, mentions)
    assert await balance(desk, alice) == 500_000


async def test_cancel_returns_the_reserve_and_refuses_what_is_not_pending(desk):
    alice, bob = await desk.trader("alice"), await desk.trader("bob")
    quote(desk)
    stop = {**LONG, "orderType": "stop", "triggerPrice": 152_000_000, "margin": 3_000}
    order_id = (await post(desk, "/trade/create", stop, alice))["orderId"]
    assert await balance(desk, alice) == 497_000

    cancel = "/order/cancel"
    failure(await desk.client.post(cancel, json={"orderId": "nope"}, headers=alice), 404)
    failure(await desk.client.post(cancel, json={"orderId": order_id}, headers=bob), 403)
    closing = await desk.client.post("/trade/close", json={"orderId": order_id}, headers=alice)
    assert failure(closing, 409, "cancel it instead")["code"] == "ORDER_IS_PENDING"

    cancelled = await post(desk, cancel, {"orderId": order_id}, alice)
    assert cancelled["status"] == "cancelled" and cancelled["balance"] == 500_000
    assert cancelled["triggerPrice"] == Decimal("152.000000")
    again = await desk.client.post(cancel, json={"orderId": order_id}, headers=alice)
    assert failure(again, 409, "already cancelled")["code"] == "ORDER_ALREADY_CLOSED"
    assert await balance(desk, alice) == 500_000

    filled_id = (await post(desk, "/trade/create", stop, alice))["orderId"]
    quote(desk, 152_000_000, 152_020_000)  # the ask rises through the stop: fills
    filled = await desk.client.post(cancel, json={"orderId": filled_id}, headers=alice)
    assert failure(filled, 409, "already filled")["code"] == "ORDER_NOT_PENDING"
    failure(await desk.client.post(cancel, json={}, headers=alice), 400, "orderId is required")


async def test_a_pending_order_can_be_modified_before_it_fills(desk):
    alice = await desk.trader("alice")
    quote(desk)
    limit = {**LONG, "orderType": "limit", "triggerPrice": 148_000_000}
    order_id = (await post(desk, "/trade/create", limit, alice))["orderId"]
    body = {"orderId": order_id, "takeProfit": 155_000_000}
    changed = await post(desk, "/trade/modify", body, alice)
    assert changed["status"] == "pending" and changed["orderType"] == "limit"
    assert changed["takeProfit"] == Decimal("155.000000") and changed["stopLoss"] is None
    # validated against the trigger price: a take profit below it is refused
    low = await desk.client.post(
        "/trade/modify", json={"orderId": order_id, "takeProfit": 147_000_000}, headers=alice
    )
    failure(low, 400, "takeProfit 147000000 of a long must be above 148000000")


# ---- §7.4 partial close ------------------------------------------------------------------


async def test_a_partial_close_realizes_its_part_and_leaves_the_rest_on_the_same_terms(desk):
    alice = await desk.trader("alice")
    quote(desk)
    opened = await post(desk, "/trade/create", LONG, alice)  # 10.00 at 150.01, 10x
    quote(desk, 153_010_000, 153_030_000)
    part = await post(desk, "/trade/close", {"orderId": opened["orderId"], "margin": 400}, alice)
    # 400 × 10 × (153.01 − 150.01) / 150.01 = 79.99 → 80 cents
    assert part["pnl"] == Decimal("0.80") and part["closePrice"] == Decimal("153.010000")
    assert part["margin"] == Decimal("10.00")  # the position before this close
    assert part["closedMargin"] == Decimal("4.00") and part["remainingMargin"] == Decimal("6.00")
    assert part["status"] == "open" and part["closeReason"] == "manual"
    assert part["balance"] == 499_000 + 400 + 80

    [rest] = await open_trades(desk, alice)
    assert rest["margin"] == Decimal("6.00")
    for same in ("orderId", "openPrice", "liquidationPrice", "leverage", "createdAt"):
        assert rest[same] == opened[same]

    too_much = {"orderId": opened["orderId"], "margin": 601}
    failure(await desk.client.post("/trade/close", json=too_much, headers=alice), 400, "600")
    zero = {"orderId": opened["orderId"], "margin": 0}
    failure(await desk.client.post("/trade/close", json=zero, headers=alice), 400, "margin")

    last = await post(desk, "/trade/close", {"orderId": opened["orderId"], "margin": 600}, alice)
    assert last["status"] == "closed" and last["remainingMargin"] == 0
    assert last["pnl"] == Decimal("1.20")  # 600 × 10 × 3.00 / 150.01 = 119.99 → 120
    assert await balance(desk, alice) == 500_000 + 80 + 120
    assert await open_trades(desk, alice) == []


# ---- §7.6 account ------------------------------------------------------------------------


async def test_the_account_is_the_spec_body_exactly(desk):
    alice = await desk.trader("alice")
    answer = await desk.client.get("/account", headers=alice)
    assert exact(answer) == {
        "balance": 500_000,
        "reserved": 0,
        "usedMargin": 0,
        "unrealizedPnl": 0,
        "equity": 500_000,
        "marginLevel": None,
        "openPositions": 0,
        "pendingOrders": 0,
    }
    quote(desk)
    await post(desk, "/trade/create", LONG, alice)  # 10.00 at the ask 150.01, 10x
    await post(desk, "/trade/create", {**SHORT, "margin": 500, "leverage": 100}, alice)
    limit = {**LONG, "orderType": "limit", "triggerPrice": 140_000_000, "margin": 2_500}
    await post(desk, "/trade/create", limit, alice)
    quote(desk, 151_000_000, 151_020_000)
    answer = await desk.client.get("/account", headers=alice)
    # long: 1000 × 10 × (151.00 − 150.01) / 150.01 = 65.996 → 66;
    # short at 149.99, 100x: 500 × 100 × (149.99 − 151.02) / 149.99 = −343.4 → capped at −500
    assert exact(answer) == {
        "balance": 500_000 - 1_000 - 500 - 2_500,
        "reserved": 2_500,
        "usedMargin": 1_500,
        "unrealizedPnl": 66 - 343,
        "equity": 500_000 + 66 - 343,
        "marginLevel": Decimal("33314.87"),  # 499723 / 1500 × 100
        "openPositions": 2,
        "pendingOrders": 1,
    }
    assert '"marginLevel":33314.87,' in answer.text  # a number with 2 places


async def test_account_margin_level_has_two_places_half_even(desk):
    alice = await desk.trader("alice")
    quote(desk, MID, MID)
    for _ in range(3):  # 3 × 1.00 used; equity 5000.00 → 166666.666… % → 166666.67
        await post(desk, "/trade/create", {**LONG, "margin": 100, "leverage": 1}, alice)
    body = exact(await desk.client.get("/account", headers=alice))
    assert body["marginLevel"] == Decimal("166666.67") and body["usedMargin"] == 300


# ---- every route ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/trade/modify"),
        ("POST", "/order/cancel"),
        ("GET", "/orders/pending"),
        ("GET", "/account"),
    ],
)
async def test_the_broker_routes_need_a_session(desk, method, path):
    failure(await desk.client.request(method, path, json={}), 401, "sign in")


async def test_quotes_need_no_session(desk):
    assert (await desk.client.get("/quotes")).status_code == 200


async def test_the_schema_documents_every_request_and_answer(desk):
    schema = (await desk.client.get("http://test/openapi.json")).json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    for path, method, request, answer in [
        ("/api/v1/trade/create", "post", "TradeCreateBody", {"TradeCreated", "OrderPlaced"}),
        ("/api/v1/trade/close", "post", "TradeCloseBody", {"TradeClosedAnswer"}),
        ("/api/v1/trade/modify", "post", "TradeModifyBody", {"ModifiedPosition", "ModifiedOrder"}),
        ("/api/v1/order/cancel", "post", "OrderCancelBody", {"OrderCancelled"}),
        ("/api/v1/orders/pending", "get", None, {"PendingOrders"}),
        ("/api/v1/account", "get", None, {"AccountAnswer"}),
        ("/api/v1/quotes", "get", None, {"Quotes"}),
    ]:
        operation = paths[path][method]
        if request is not None:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            assert body["$ref"].endswith(request), (path, body)
            header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
            assert header and header[0]["in"] == "header", path
            assert {"409", "422", "504"} <= set(operation["responses"]), path
        ok = str(operation["responses"]["200"]["content"]["application/json"]["schema"])
        assert all(name in ok for name in answer), (path, ok)
        assert "400" in operation["responses"] or method == "get" or path.endswith("quotes")
    create = components["TradeCreateBody"]["properties"]
    assert {"orderType", "triggerPrice", "stopLoss", "takeProfit", "slippage"} <= set(create)
    assert set(components["AccountAnswer"]["properties"]) == {
        "balance",
        "reserved",
        "usedMargin",
        "unrealizedPnl",
        "equity",
        "marginLevel",
        "openPositions",
        "pendingOrders",
    }
    assert {"closedMargin", "remainingMargin", "closeReason"} <= set(
        components["TradeClosedAnswer"]["properties"]
    )
