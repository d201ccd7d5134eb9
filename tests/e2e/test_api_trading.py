"""Trading through HTTP alone, exact to the cent (SPEC §3, §4): a position's whole life (open,
the price moves, close, the history row), a liquidation by a crossing quote, who may close
what (403, 404, 409), and the history's filters, sorting and pagination.

Prices come from the Backpack-protocol feed process, through the poller and the engine;
every number is read from the raw JSON as an exact `Decimal`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.api import Trader, assert_failure, exact, module_stack, set_price, sign_up
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

D = Decimal


# One stack for the module; each test trades with traders of its own and sets the prices it
# needs. Prices stay fresh for the whole module.
stack = module_stack("api-trading", 2, PRICE_MAX_AGE_S="3600")


def assert_exactly(value: object, expected: str) -> None:
    """`value` is a JSON number (not a string, not null) equal to `expected`; read with
    `exact`, it is an int or a Decimal, never a binary float."""
    assert isinstance(value, int | Decimal) and not isinstance(value, bool), (value, type(value))
    assert value == D(expected), (value, expected)


def test_a_trade_from_open_to_close_to_history_exact_to_the_cent(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "SOL", "150.000000")

    # open a long: margin USD 10.00 at 10x, exposure USD 100.00
    answer = trader.post(
        "/trade/create",
        json={"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 100},
    )
    assert answer.status_code == 200, answer.text
    opened = exact(answer)
    order_id = opened["orderId"]
    assert opened["asset"] == "SOL" and opened["type"] == "long"
    assert opened["leverage"] == 10
    assert_exactly(opened["margin"], "10.00")  # USD, like every trade record (SPEC §4)
    assert_exactly(opened["openPrice"], "150")
    assert_exactly(opened["liquidationPrice"], "135")  # 150 * (10 - 1) / 10
    assert opened["balance"] == 500_000 - 1000
    assert trader.balance() == 499_000

    # the open position, live from the engine, before and after the price moves 1 %
    [position] = trader.open_trades()
    assert position["orderId"] == order_id
    assert_exactly(position["margin"], "10.00")
    assert_exactly(position["currentPrice"], "150")
    assert_exactly(position["pnl"], "0")

    set_price(stack, "SOL", "151.500000")
    [position] = trader.open_trades()
    assert_exactly(position["openPrice"], "150")
    assert_exactly(position["currentPrice"], "151.5")
    assert_exactly(position["pnl"], "1.00")  # 100.00 * 1.5 / 150
    assert position["createdAt"].endswith("Z")

    # close: USD 10.00 margin + USD 1.00 profit come back
    answer = trader.post("/trade/close", json={"orderId": order_id})
    assert answer.status_code == 200, answer.text
    assert '"pnl":1.00' in answer.text.replace(" ", "")
    closed = exact(answer)
    assert closed["orderId"] == order_id
    assert closed["createdAt"] == position["createdAt"] <= closed["closedAt"]
    assert_exactly(closed["margin"], "10.00")
    assert_exactly(closed["closePrice"], "151.5")
    assert_exactly(closed["pnl"], "1.00")
    assert closed["liquidated"] is False
    assert closed["balance"] == 500_100
    assert trader.balance() == 500_100
    assert trader.open_trades() == []

    # the history row, written by the DB processor
    row = trader.history_row(order_id, "closed")
    assert row["asset"] == "SOL" and row["type"] == "long"
    assert row["leverage"] == 10 and row["liquidated"] is False
    assert_exactly(row["margin"], "10.00")
    assert_exactly(row["openPrice"], "150")
    assert_exactly(row["closePrice"], "151.5")
    assert_exactly(row["liquidationPrice"], "135")
    assert_exactly(row["pnl"], "1.00")
    assert row["createdAt"] <= row["closedAt"]
    analytics = trader.history()["analytics"]
    assert analytics["totalTrades"] == 1 and analytics["closedTrades"] == 1
    assert analytics["openTrades"] == 0 and analytics["liquidatedTrades"] == 0
    assert analytics["profitableTrades"] == 1 and analytics["losingTrades"] == 0
    assert_exactly(analytics["totalPnl"], "1.00")
    assert_exactly(analytics["totalMargin"], "10.00")
    assert_exactly(analytics["winRate"], "100")
    assert_exactly(analytics["bestTrade"], "1.00")
    assert_exactly(analytics["worstTrade"], "1.00")

    # closing it again is a conflict and changes nothing
    assert_failure(trader.post("/trade/close", json={"orderId": order_id}), 409)
    assert trader.balance() == 500_100


def test_a_crossing_quote_liquidates_and_the_history_shows_it(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "ETH", "2000.000000")
    # a short of USD 20.00 at 20x: liquidated at 2000 * 21 / 20 = 2100
    short = trader.open("ETH", "short", 2000, 20)
    assert_exactly(short["liquidationPrice"], "2100")
    # a long on the same asset that the rise does not touch
    keeper = trader.open("ETH", "long", 1500, 2)
    assert trader.balance() == 500_000 - 3500

    set_price(stack, "ETH", "2099.990000")  # not yet: one cent short of the crossing
    assert {t["orderId"] for t in trader.open_trades()} == {short["orderId"], keeper["orderId"]}

    set_price(stack, "ETH", "2100.010000")  # crosses
    wait_until(
        lambda: [t["orderId"] for t in trader.open_trades()] == [keeper["orderId"]],
        20,
        "the short to be liquidated",
    )
    assert trader.balance() == 500_000 - 3500  # the margin is lost, nothing comes back

    row = trader.history_row(short["orderId"], "closed")  # closed, by liquidation
    assert row["liquidated"] is True and row["type"] == "short"
    assert_exactly(row["pnl"], "-20.00")
    assert_exactly(row["margin"], "20.00")
    assert_exactly(row["closePrice"], "2100.01")
    assert row["closedAt"] is not None

    # a liquidated position cannot be closed
    failure = assert_failure(trader.post("/trade/close", json={"orderId": short["orderId"]}), 409)
    assert failure["code"] == "ORDER_ALREADY_CLOSED"
    assert trader.balance() == 500_000 - 3500

    # the long still lives, and closes at the new price: 30.00 * (2100.01 - 2000) / 2000
    closed = trader.close(keeper["orderId"])
    assert_exactly(closed["pnl"], "1.50")  # 1.50015 rounded half-to-even to the cent
    assert closed["balance"] == 500_000 - 3500 + 1500 + 150
    trader.history_row(keeper["orderId"], "closed")
    analytics = trader.history()["analytics"]
    assert analytics["liquidatedTrades"] == 1 and analytics["closedTrades"] == 1
    assert_exactly(analytics["totalPnl"], "-18.50")
    assert_exactly(analytics["winRate"], "50")


def test_only_the_owner_closes_an_order_and_only_once(stack: Stack):
    owner, other = sign_up(stack), sign_up(stack)
    set_price(stack, "BTC", "60000.0000")
    order = owner.open("BTC", "long", 5000, 5)
    order_id = order["orderId"]

    # another trader may neither close it nor learn more than that it is not theirs
    assert_failure(other.post("/trade/close", json={"orderId": order_id}), 403, "NOT_ORDER_OWNER")
    assert other.balance() == 500_000
    assert [t["orderId"] for t in owner.open_trades()] == [order_id]
    assert other.open_trades() == []

    # an order nobody placed
    assert_failure(
        owner.post("/trade/close", json={"orderId": "no-such-order"}), 404, "UNKNOWN_ORDER"
    )

    # the owner closes it at an unchanged price: pnl 0, the margin comes back
    closed = owner.close(order_id)
    assert_exactly(closed["pnl"], "0")
    assert_exactly(closed["closePrice"], "60000")
    assert closed["balance"] == 500_000

    # twice is a conflict; for the other trader it is still not theirs
    assert_failure(
        owner.post("/trade/close", json={"orderId": order_id}), 409, "ORDER_ALREADY_CLOSED"
    )
    assert_failure(other.post("/trade/close", json={"orderId": order_id}), 403, "NOT_ORDER_OWNER")
    assert owner.balance() == 500_000 and other.balance() == 500_000


# ---- history: filters, sorting, pagination -------------------------------------------------


@pytest.fixture(scope="module")
def book(stack: Stack) -> tuple[Trader, dict[str, dict]]:
    """One trader's five trades, made in this order:

    | name | asset | side  | margin | lev | open  | end                      | pnl   |
    |------|-------|-------|--------|-----|-------|--------------------------|-------|
    | t1   | SOL   | long  | 10.00  | 10  | 100   | closed at 102            |  2.00 |
    | t2   | ETH   | short |  5.00  |  5  | 3000  | closed at 3060           | -0.50 |
    | t3   | SOL   | short |  3.00  | 50  | 100   | liquidated at 102 ≥ 102  | -3.00 |
    | t4   | BTC   | long  | 20.00  |  2  | 50000 | open                     |  –    |
    | t5   | ETH   | long  |  7.00  |  3  | 3060  | open                     |  –    |
    """
    trader = sign_up(stack)
    set_price(stack, "SOL", "100")
    set_price(stack, "ETH", "3000")
    set_price(stack, "BTC", "50000")
    trades = {
        "t1": trader.open("SOL", "long", 1000, 10),
        "t2": trader.open("ETH", "short", 500, 5),
        "t3": trader.open("SOL", "short", 300, 50),
    }
    assert_exactly(trades["t3"]["liquidationPrice"], "102")  # 100 * 51 / 50
    set_price(stack, "SOL", "102")  # liquidates t3
    set_price(stack, "ETH", "3060")
    wait_until(lambda: len(trader.open_trades()) == 2, 20, "t3 to be liquidated")
    assert_exactly(trader.close(trades["t1"]["orderId"])["pnl"], "2.00")
    assert_exactly(trader.close(trades["t2"]["orderId"])["pnl"], "-0.50")
    trades["t4"] = trader.open("BTC", "long", 2000, 2)
    trades["t5"] = trader.open("ETH", "long", 700, 3)
    wait_until(
        lambda: (
            trader.history(status="open")["pagination"]["total"] == 2
            and trader.history(status="closed")["pagination"]["total"] == 3
            and trader.history(status="liquidated")["pagination"]["total"] == 1
        ),
        20,
        "the DB processor to write all five trades",
    )
    return trader, trades


def names(book: tuple[Trader, dict[str, dict]], **params: object) -> list[str]:
    trader, trades = book
    by_id = {trade["orderId"]: name for name, trade in trades.items()}
    return [by_id[row["orderId"]] for row in trader.history(**params)["data"]]


HISTORY_CASES = [
    ({}, ["t5", "t4", "t3", "t2", "t1"]),  # newest first by default
    ({"status": "all", "sortOrder": "asc"}, ["t1", "t2", "t3", "t4", "t5"]),
    ({"status": "open", "sortOrder": "asc"}, ["t4", "t5"]),
    ({"status": "closed", "sortOrder": "asc"}, ["t1", "t2", "t3"]),  # liquidated included
    ({"status": "closed", "liquidated": "false", "sortOrder": "asc"}, ["t1", "t2"]),
    ({"status": "liquidated"}, ["t3"]),
    ({"asset": "SOL", "sortOrder": "asc"}, ["t1", "t3"]),
    ({"asset": "BTC"}, ["t4"]),
    ({"tradeType": "short", "sortOrder": "asc"}, ["t2", "t3"]),
    ({"tradeType": "long", "asset": "ETH"}, ["t5"]),
    ({"tradeType": "SHORT", "sortOrder": "asc"}, ["t2", "t3"]),  # any case
    ({"tradeType": "Long", "sortOrder": "asc"}, ["t1", "t4", "t5"]),
    ({"profitable": "true"}, ["t1"]),
    ({"profitable": "false", "sortOrder": "asc"}, ["t2", "t3"]),
    ({"liquidated": "true"}, ["t3"]),
    ({"liquidated": "false", "sortOrder": "asc"}, ["t1", "t2", "t4", "t5"]),
    ({"sortBy": "margin"}, ["t4", "t1", "t5", "t2", "t3"]),
    ({"sortBy": "margin", "sortOrder": "asc"}, ["t3", "t2", "t5", "t1", "t4"]),
    ({"sortBy": "pnl", "sortOrder": "asc"}, ["t3", "t2", "t1", "t4", "t5"]),  # NULLs last
    ({"sortBy": "leverage"}, ["t3", "t1", "t2", "t5", "t4"]),
    ({"sortBy": "openPrice", "sortOrder": "asc"}, ["t1", "t3", "t2", "t5", "t4"]),
    ({"sortBy": "closedAt", "sortOrder": "asc"}, ["t3", "t1", "t2", "t4", "t5"]),
    # the other columns the seed's web client sorts by
    ({"sortBy": "closePrice", "sortOrder": "asc"}, ["t1", "t3", "t2", "t4", "t5"]),
    ({"sortBy": "asset", "sortOrder": "asc"}, ["t4", "t2", "t5", "t1", "t3"]),
    ({"sortBy": "tradeType", "sortOrder": "asc"}, ["t1", "t4", "t5", "t2", "t3"]),
    ({"sortBy": "status", "sortOrder": "asc"}, ["t4", "t5", "t1", "t2", "t3"]),
]


@pytest.mark.parametrize(
    ("params", "expected"),
    HISTORY_CASES,
    ids=[
        "&".join(f"{k}={v}" for k, v in params.items()) or "default" for params, _ in HISTORY_CASES
    ],
)
def test_history_filters_and_sorting(book, params, expected):
    assert names(book, **params) == expected


def test_history_date_range_is_inclusive(book):
    trader, trades = book
    created = {row["orderId"]: row["createdAt"] for row in trader.history()["data"]}
    at = {name: created[trade["orderId"]] for name, trade in trades.items()}
    assert names(book, fromDate=at["t3"], sortOrder="asc") == ["t3", "t4", "t5"]
    assert names(book, toDate=at["t2"], sortOrder="asc") == ["t1", "t2"]
    assert names(book, fromDate=at["t2"], toDate=at["t4"], sortOrder="asc") == ["t2", "t3", "t4"]
    assert names(book, fromDate=at["t5"], toDate=at["t5"]) == ["t5"]
    assert names(book, fromDate="2000-01-01", toDate="2000-01-02") == []
    assert names(book, fromDate="946684800") == names(book)  # epoch seconds: 2000-01-01


def test_history_pagination(book):
    trader, _ = book
    first = trader.history(limit=2, offset=0, sortOrder="asc")
    assert first["pagination"] == {"total": 5, "limit": 2, "offset": 0, "hasMore": True}
    assert names(book, limit=2, offset=0, sortOrder="asc") == ["t1", "t2"]
    assert names(book, limit=2, offset=2, sortOrder="asc") == ["t3", "t4"]
    last = trader.history(limit=2, offset=4, sortOrder="asc")
    assert last["pagination"] == {"total": 5, "limit": 2, "offset": 4, "hasMore": False}
    assert names(book, limit=2, offset=4, sortOrder="asc") == ["t5"]
    beyond = trader.history(limit=2, offset=10)
    assert beyond["data"] == [] and beyond["pagination"]["hasMore"] is False
    filtered = trader.history(status="closed", limit=1)
    assert filtered["pagination"] == {"total": 3, "limit": 1, "offset": 0, "hasMore": True}


def test_history_rows_and_analytics_are_exact(book):
    trader, trades = book
    answer = trader.history()
    assert answer["success"] is True
    rows = {row["orderId"]: row for row in answer["data"]}
    t3 = rows[trades["t3"]["orderId"]]
    assert t3["status"] == "closed" and t3["liquidated"] is True
    assert_exactly(t3["pnl"], "-3.00")
    assert_exactly(t3["closePrice"], "102")
    t4 = rows[trades["t4"]["orderId"]]
    assert t4["status"] == "open" and t4["closePrice"] is None and t4["pnl"] is None
    assert t4["closedAt"] is None
    assert_exactly(t4["openPrice"], "50000")
    assert_exactly(t4["liquidationPrice"], "25000")

    analytics = answer["analytics"]
    assert {k: v for k, v in analytics.items() if isinstance(v, int)} == {
        "totalTrades": 5,
        "openTrades": 2,
        "closedTrades": 2,
        "liquidatedTrades": 1,
        "pendingOrders": 0,
        "cancelledOrders": 0,
        "profitableTrades": 1,
        "losingTrades": 2,
        "closes": 3,
    }
    assert analytics["closeReasons"] == {"manual": 2, "sl": 0, "tp": 0, "liquidation": 1}
    assert_exactly(analytics["winRate"], "33.33")  # 1 of 3 settled
    assert_exactly(analytics["totalPnl"], "-1.50")  # 2.00 - 0.50 - 3.00
    assert_exactly(analytics["totalMargin"], "45.00")
    assert_exactly(analytics["bestTrade"], "2.00")
    assert_exactly(analytics["worstTrade"], "-3.00")

    # analytics cover what the filter matches
    shorts = trader.history(tradeType="short")["analytics"]
    assert shorts["totalTrades"] == 2 and shorts["profitableTrades"] == 0
    assert_exactly(shorts["totalPnl"], "-3.50")
    assert_exactly(shorts["winRate"], "0")
    opened = trader.history(status="open")["analytics"]
    assert opened["bestTrade"] is None and opened["worstTrade"] is None
    assert_exactly(opened["totalPnl"], "0")

    # the money adds up: 5,000.00 - 45.00 margin + 10.00 + 2.00 + 5.00 - 0.50 back
    assert trader.balance() == 500_000 - 4500 + 1200 + 450
