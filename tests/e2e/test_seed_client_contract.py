"""The seed's own web client against our API (SPEC §4, issue #14), as a contract.

That client (a Next.js app; its pages and components under `frontend/` in the seed's
repository) is replayed here request by request: the same paths and query strings, built
the way it builds them (`URLSearchParams` in the order of its filter objects), the same
bodies, and the session cookie its `fetch(..., {credentials: "include"})` sends. Every
field it reads is checked with the type it expects, for an open, a closed and a liquidated
trade, for every candle interval, and the sign-in answers word for word. Nothing here is the
client's code; only the facts of what it sends and reads.

What it reads (and what breaks when it is missing):
- /signup, /signin: `message` compared with its own text, word for word.
- /trade/history items (dashboard recent trades, markets open positions, history table and
  details, portfolio transactions): `id` (React key), `orderId`, `asset`, `assetName`,
  `assetImage`, `tradeType` (`.toUpperCase()`), `openPrice`, `closePrice`, `margin`,
  `leverage`, `liquidationPrice` (`.toLocaleString()`), `pnl`, `pnlPercentage`
  (`.toFixed(2)` when not null), `status` ("open" | "closed", `.toUpperCase()`),
  `liquidated`, `isProfitable`, `createdAt`/`closedAt` (`new Date(...)`), `duration`;
  `success`, `analytics.totalTrades`. The performance chart asks `limit=1000`.
- /klines?asset=&interval= (charts 1m 5m 1h 4h 1d, market overview 1h, order book 1m):
  `start` (`new Date(...)`), `open`/`high`/`low`/`close`/`volume` (`parseFloat`), `trades`,
  `quoteVolume` (optional).
- /balance: `{USDC|BTC|ETH|SOL: {balance, decimals}}` numbers.
- /trade/create `{asset, type, margin: dollars × 100, leverage, slippage}`: `response.ok`,
  `message` on failure; /trade/close `{orderId}`: `orderId`.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
import pytest

from tests.e2e.api import API, assert_failure, exact, module_stack, set_price, unique_email
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

D = Decimal
SIGNUP_SENT = {"message": "Kindly check your mail for the signup link"}
SIGNIN_SENT = {"message": "Kindly check your mail for the signin link"}
BACKPACK_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1month",
)  # fmt: skip
CLIENT_INTERVALS = ("1m", "5m", "1h", "4h", "1d")  # the chart's tabs
STAMP = "%Y-%m-%d %H:%M:%S"

stack = module_stack("seed-client", 6, PRICE_MAX_AGE_S="3600")


class Browser:
    """The client's requests: JSON content type, the cookie jar of a browser on the API's
    origin (`credentials: "include"`), no Authorization header."""

    def __init__(self, stack: Stack) -> None:
        self.http = httpx.Client(
            base_url=stack.api, headers={"Content-Type": "application/json"}, timeout=20
        )

    def get(self, path: str) -> httpx.Response:
        """`path` with its query string exactly as the client writes it."""
        return self.http.get(f"{API}{path}")

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"{API}{path}", json=body)

    def ok(self, path: str) -> Any:
        answer = self.get(path)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        return exact(answer)


@dataclass
class Desk:
    browser: Browser
    email: str
    open_id: str  # SOL long, still open
    closed_id: str  # ETH short, closed by the trader
    liquidated_id: str  # SOL short, liquidated


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Iterator[Desk]:
    browser = Browser(stack)
    email = unique_email("seed-client")

    # the sign-up page, then the mailed link followed in the same browser
    answer = browser.post("/signup", {"email": email})
    assert answer.status_code == 200 and answer.json() == SIGNUP_SENT, answer.text
    link = stack.mailbox.wait_for_link(email)
    redirect = browser.http.get(link, follow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    assert redirect.headers["location"] == f"{stack.env['FRONTEND_URL']}/dashboard"
    assert browser.http.cookies.get("authToken"), "the session cookie is in the jar"

    set_price(stack, "SOL", "150")
    set_price(stack, "ETH", "3000")

    def create(asset: str, side: str, dollars: str, leverage: int) -> str:
        # the trading form: margin in dollars × 100, slippage from its select (1 % = "100")
        body = {
            "asset": asset,
            "type": side,
            "margin": int(D(dollars) * 100),
            "leverage": leverage,
            "slippage": 100,
        }
        answer = browser.post("/trade/create", body)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["orderId"])

    open_id = create("SOL", "long", "25", 10)  # liquidated at 135
    closed_id = create("ETH", "short", "10", 5)
    liquidated_id = create("SOL", "short", "3", 50)  # liquidated at 153
    set_price(stack, "ETH", "2970")
    closed = browser.post("/trade/close", {"orderId": closed_id})  # the table's Close button
    assert closed.status_code == 200 and closed.json()["orderId"] == closed_id, closed.text
    set_price(stack, "SOL", "153.01")

    def written() -> bool:
        rows = browser.ok("/trade/history")["data"]
        status = {row["orderId"]: (row["status"], row["liquidated"]) for row in rows}
        return status == {
            open_id: ("open", False),
            closed_id: ("closed", False),
            liquidated_id: ("closed", True),
        }

    wait_until(written, 20, "the three trades in the history", every=0.1)
    yield Desk(browser, email, open_id, closed_id, liquidated_id)
    browser.http.close()


# ---- sign-up and sign-in pages ---------------------------------------------------------------


def test_the_sign_in_pages_get_their_exact_messages(stack: Stack, desk: Desk):
    email = unique_email("pages")
    answer = httpx.post(f"{stack.api}{API}/signup", json={"email": email}, timeout=20)
    assert answer.status_code == 200 and answer.json() == SIGNUP_SENT, answer.text
    httpx.get(stack.mailbox.wait_for_link(email), follow_redirects=False, timeout=20)
    answer = httpx.post(f"{stack.api}{API}/signin", json={"email": email}, timeout=20)
    assert answer.status_code == 200 and answer.json() == SIGNIN_SENT, answer.text
    stack.mailbox.wait_for_link(email, count=2)
    # the signed-in browser of the fixture, from the sign-in page
    answer = desk.browser.post("/signin", {"email": desk.email})
    assert answer.status_code == 200 and answer.json() == SIGNIN_SENT, answer.text


# ---- history items -----------------------------------------------------------------------------


def number(value: object) -> bool:
    """A JSON number as `exact` reads it (int or Decimal), never a string or a boolean."""
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def moment(text: str) -> datetime:
    """What `new Date(text)` parses: ISO 8601 with its zone."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    return parsed


DURATION = re.compile(r"\d+s|\d+m|\d+h \d+m|\d+d \d+h")


def half_even_percent(pnl: Decimal, margin: Decimal) -> Decimal:
    exact_value = Fraction(pnl) / Fraction(margin) * 100
    hundredths = round(exact_value * 100)  # Fraction rounds half to even
    return D(hundredths).scaleb(-2)


def check_item(item: dict[str, Any]) -> None:
    """Every field the client reads, with the type it expects, and what it means."""
    assert isinstance(item["id"], str) and item["id"], item
    assert isinstance(item["orderId"], str) and item["orderId"]
    assert item["asset"] in ("SOL", "ETH", "BTC")
    assert isinstance(item["assetName"], str) and item["assetName"]
    assert isinstance(item["assetImage"], str) and item["assetImage"].startswith("https://")
    assert item["tradeType"] in ("long", "short") and item["tradeType"] == item["type"]
    assert item["status"] in ("open", "closed")
    for key in ("openPrice", "margin", "leverage", "liquidationPrice", "durationInSeconds"):
        assert number(item[key]), (key, item)
    assert isinstance(item["durationInSeconds"], int)
    for key in ("closePrice", "pnl", "pnlPercentage"):
        assert item[key] is None or number(item[key]), (key, item)
    assert isinstance(item["liquidated"], bool) and isinstance(item["isProfitable"], bool)
    created = moment(item["createdAt"])
    assert isinstance(item["duration"], str) and DURATION.fullmatch(item["duration"]), item
    assert item["isProfitable"] is (item["pnl"] is not None and item["pnl"] > 0)
    if item["status"] == "open":
        assert item["closePrice"] is None and item["closedAt"] is None
        assert item["pnl"] is None and item["pnlPercentage"] is None
        assert item["liquidated"] is False
    else:
        closed = moment(item["closedAt"])
        assert number(item["closePrice"]) and number(item["pnl"])
        assert item["pnlPercentage"] == half_even_percent(item["pnl"], item["margin"])
        assert item["pnlPercentage"].as_tuple().exponent == -2  # 2 decimals, exactly
        assert item["durationInSeconds"] == (closed - created) // timedelta(seconds=1)


def history(desk: Desk, path: str) -> dict[str, Any]:
    body = desk.browser.ok(path)
    assert body["success"] is True and isinstance(body["data"], list)
    assert isinstance(body["analytics"]["totalTrades"], int)
    for item in body["data"]:
        check_item(item)
    return body


def by_order(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["orderId"]: item for item in body["data"]}


# The client's history requests, each as it writes the query string.
CLIENT_HISTORY_PATHS = [
    "/trade/history",  # dashboard recent trades, portfolio transactions
    "/trade/history?status=open",  # markets: open positions
    "/trade/history?limit=100",  # history: analytics
    "/trade/history?limit=1000&sortBy=createdAt&sortOrder=desc&cacheOnly=true",  # performance
    "/trade/history?sortBy=createdAt&sortOrder=desc",  # history table
    "/trade/history?sortBy=createdAt&sortOrder=desc&cacheOnly=true",
    "/trade/history?sortBy=createdAt&sortOrder=desc&cacheOnly=true&asset=SOL",
    "/trade/history?sortBy=createdAt&sortOrder=desc&tradeType=long",
    "/trade/history?sortBy=createdAt&sortOrder=desc&cacheOnly=true&status=open",
    "/trade/history?sortBy=createdAt&sortOrder=desc&cacheOnly=true&status=closed",
    # the table's sortable headers, both ways
    *(
        f"/trade/history?sortBy={column}&sortOrder={order}&cacheOnly=true"
        for column in (
            "asset",
            "tradeType",
            "openPrice",
            "closePrice",
            "leverage",
            "pnl",
            "duration",
            "status",
        )
        for order in ("desc", "asc")
    ),
]


@pytest.mark.parametrize("path", CLIENT_HISTORY_PATHS)
def test_every_history_request_of_the_client_is_answered_in_its_shape(desk: Desk, path: str):
    body = history(desk, path)
    assert body["data"], path
    if "limit=1000" in path:
        assert body["pagination"]["limit"] == 1000


def test_the_filters_the_client_sends_select_what_it_shows(desk: Desk):
    def orders(query: str) -> set[str]:
        return set(by_order(history(desk, f"/trade/history?{query}")))

    everything = {desk.open_id, desk.closed_id, desk.liquidated_id}
    assert orders("sortBy=createdAt&sortOrder=desc") == everything
    assert orders("status=open") == {desk.open_id}
    # "closed" is what the item's status says: the liquidated one is closed too
    assert orders("sortBy=createdAt&sortOrder=desc&status=closed") == {
        desk.closed_id,
        desk.liquidated_id,
    }
    assert orders("sortBy=createdAt&sortOrder=desc&asset=SOL") == {
        desk.open_id,
        desk.liquidated_id,
    }
    assert orders("sortBy=createdAt&sortOrder=desc&tradeType=short") == {
        desk.closed_id,
        desk.liquidated_id,
    }
    # any case, beyond what the client sends
    assert orders("tradeType=SHORT") == orders("tradeType=Short") == orders("tradeType=short")
    assert orders("tradeType=LONG") == {desk.open_id}


def test_an_open_trade_runs_up_to_now(desk: Desk):
    before = datetime.now(UTC)
    item = by_order(history(desk, "/trade/history?status=open"))[desk.open_id]
    after = datetime.now(UTC)
    created = moment(item["createdAt"])
    assert item["status"] == "open" and item["tradeType"] == "long" and item["asset"] == "SOL"
    assert item["assetName"] == "Solana"
    assert item["margin"] == D("25.00") and item["leverage"] == 10
    assert item["liquidationPrice"] == D("135")
    second = timedelta(seconds=1)
    assert (before - created) // second <= item["durationInSeconds"] <= (after - created) // second
    # the open positions panel: size = margin × leverage, pnlPercentage ?? 0
    assert item["margin"] * item["leverage"] == D("250.00")
    time.sleep(1.1)
    later = by_order(history(desk, "/trade/history?status=open"))[desk.open_id]
    assert later["durationInSeconds"] > item["durationInSeconds"]


def test_a_closed_trade_has_its_percentage_and_duration(desk: Desk):
    item = by_order(history(desk, "/trade/history?sortBy=createdAt&sortOrder=desc"))[desk.closed_id]
    assert item["status"] == "closed" and item["liquidated"] is False
    assert item["tradeType"] == "short" and item["asset"] == "ETH"
    assert item["assetName"] == "Ethereum"
    assert item["margin"] == D("10.00")
    assert item["pnl"] > 0 and item["isProfitable"] is True  # ETH fell from 3000 to 2970
    assert item["pnlPercentage"] == half_even_percent(item["pnl"], D("10.00"))


def test_a_liquidated_trade_is_closed_with_the_flag_and_minus_100_percent(desk: Desk):
    item = by_order(history(desk, "/trade/history"))[desk.liquidated_id]
    assert item["status"] == "closed" and item["liquidated"] is True
    assert item["pnl"] == -item["margin"] == D("-3.00")
    assert item["pnlPercentage"] == D("-100.00") and item["isProfitable"] is False
    assert '"pnlPercentage":-100.00' in desk.browser.get("/trade/history").text.replace(" ", "")


def test_ids_are_the_rows_and_stay_put(desk: Desk):
    first = by_order(history(desk, "/trade/history?sortBy=pnl&sortOrder=asc&cacheOnly=true"))
    second = by_order(history(desk, "/trade/history?limit=100"))
    ids = {order: item["id"] for order, item in first.items()}
    assert ids == {order: item["id"] for order, item in second.items()}
    assert len(set(ids.values())) == 3 and all(i.isdigit() for i in ids.values())


def test_a_limit_above_1000_is_a_clear_400(desk: Desk):
    failure = assert_failure(desk.browser.get("/trade/history?limit=1001"), 400)
    assert "limit" in failure["message"] and "1000" in failure["message"], failure


def test_without_the_cookie_history_is_401(stack: Stack):
    answer = httpx.get(f"{stack.api}{API}/trade/history?limit=100", timeout=20)
    assert_failure(answer, 401)


def test_the_balance_cards(desk: Desk):
    balance = desk.browser.ok("/balance")
    assert set(balance) == {"USDC", "BTC", "ETH", "SOL"}
    for asset in balance.values():
        assert isinstance(asset["balance"], int) and isinstance(asset["decimals"], int)


# ---- candles -----------------------------------------------------------------------------------

WEEK_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)  # the first Monday
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIXED_S = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200,
    "1w": 604800,
}  # fmt: skip


def candle_start(interval: str, at: datetime) -> datetime:
    """This test's own reckoning of the UTC boundaries the API promises."""
    if interval == "1month":
        return datetime(at.year, at.month, 1, tzinfo=UTC)
    origin = WEEK_ORIGIN if interval == "1w" else EPOCH
    step = timedelta(seconds=FIXED_S[interval])
    return origin + (at - origin) // step * step


def candle_end(interval: str, start: datetime) -> datetime:
    if interval == "1month":
        return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
    return start + timedelta(seconds=FIXED_S[interval])


def stamp(text: str) -> datetime:
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def check_candles(interval: str, candles: Any) -> list[dict[str, Any]]:
    """Backpack's shape, as the chart reads it, on the promised boundaries."""
    assert isinstance(candles, list) and len(candles) <= 1000
    starts = []
    for candle in candles:
        assert set(candle) >= {"start", "end", "open", "high", "low", "close", "volume", "trades"}
        start, end = stamp(candle["start"]), stamp(candle["end"])
        for key in ("open", "high", "low", "close", "volume", "quoteVolume"):
            assert isinstance(candle[key], str) and D(candle[key]).is_finite(), (key, candle)
        assert isinstance(candle["trades"], str) and candle["trades"].isdigit()
        assert D(candle["low"]) <= min(D(candle["open"]), D(candle["close"]))
        assert D(candle["high"]) >= max(D(candle["open"]), D(candle["close"]))
        assert candle_start(interval, start) == start, (interval, candle)  # aligned
        assert end == candle_end(interval, start), (interval, candle)
        if interval == "1w":
            assert start.weekday() == 0  # Monday
        starts.append(start)
    assert starts == sorted(set(starts)), "oldest first, one candle per interval"
    return candles


@pytest.mark.parametrize("interval", BACKPACK_INTERVALS)
def test_every_backpack_interval_with_the_clients_query(stack: Stack, desk: Desk, interval: str):
    """What the chart asks (no times): the latest candles, up to the one holding now."""

    def current() -> list[dict[str, Any]] | None:
        stack.feed.quote("SOL_USDC", "153.01")  # a quote of this minute
        before = datetime.now(UTC)
        candles = desk.browser.ok(f"/klines?asset=SOL&interval={interval}")
        after = datetime.now(UTC)
        last = candles[-1] if candles else None
        holds_now = last and stamp(last["start"]) <= before and after < stamp(last["end"])
        return candles if holds_now else None

    candles = check_candles(
        interval, wait_until(current, 20, f"a {interval} candle holding now", every=0.2)
    )
    assert D(candles[-1]["close"]) == D("153.01")  # the newest price the platform received
    assert len(candles) <= 500  # the default window: the latest 500 candles


def test_the_charts_tabs_all_answer(desk: Desk):
    for asset in ("BTC", "ETH", "SOL"):
        for interval in CLIENT_INTERVALS:
            answer = desk.browser.get(f"/klines?asset={asset}&interval={interval}")
            assert answer.status_code == 200, (asset, interval, answer.text)
            check_candles(interval, answer.json())


def test_an_unknown_interval_is_a_400_naming_the_allowed_ones(desk: Desk):
    failure = assert_failure(desk.browser.get("/klines?asset=SOL&interval=2m"), 400)
    for interval in BACKPACK_INTERVALS:
        assert interval in failure["message"], failure


def history_ticks(now: datetime) -> list[tuple[datetime, Decimal]]:
    """BTC quotes of the past (the platform received them late, stamped with their own
    event time): a pair astride a boundary of every interval, about ten days back (inside
    the 90 days of kept bars), and two more inside one minute."""
    anchor = now - timedelta(days=10)
    moments = []
    for interval in BACKPACK_INTERVALS:
        boundary = candle_start(interval, anchor)
        moments += [boundary - timedelta(seconds=30), boundary + timedelta(seconds=30)]
    minute = candle_start("1m", anchor)
    moments += [minute + timedelta(seconds=5), minute + timedelta(seconds=55)]
    # distinct times; prices that wander up and down
    ordered = sorted(set(moments))
    return [
        (at, D(60000) + D((index * 37) % 23) * D("10.25") - D(index % 5) * D("3.5"))
        for index, at in enumerate(ordered)
    ]


def expected_candles(interval: str, ticks: list[tuple[datetime, Decimal]]) -> list[dict]:
    groups: dict[datetime, list[tuple[datetime, Decimal]]] = defaultdict(list)
    for at, price in ticks:
        groups[candle_start(interval, at)].append((at, price))
    four = D("0.0001")
    candles = []
    for start in sorted(groups):
        prices = [price for _, price in sorted(groups[start])]
        candles.append(
            {
                "start": start.strftime(STAMP),
                "end": candle_end(interval, start).strftime(STAMP),
                "open": str(prices[0].quantize(four)),
                "high": str(max(prices).quantize(four)),
                "low": str(min(prices).quantize(four)),
                "close": str(prices[-1].quantize(four)),
                "trades": str(len(prices)),
            }
        )
    return candles


def test_candles_of_every_interval_are_built_from_the_minutes_on_utc_boundaries(
    stack: Stack, desk: Desk
):
    """Each candle is exactly the prices of its own interval: none straddles a boundary,
    whatever the window asks, and startTime/endTime are honoured."""
    ticks = history_ticks(datetime.now(UTC))
    for at, price in reversed(ticks):  # out of order, as late quotes may come
        micros = (at - EPOCH) // timedelta(microseconds=1)
        wait_until(
            lambda m=micros, p=price: stack.feed.publish("BTC_USDC", str(p), str(p), E=m),
            20,
            "a BTC_USDC subscriber",
        )
    first, last = ticks[0][0], ticks[-1][0]
    start_s = (first - EPOCH) // timedelta(seconds=1) - 1
    end_s = (last - EPOCH) // timedelta(seconds=1) + 1
    window = f"&startTime={start_s}&endTime={end_s}"
    wanted_minutes = expected_candles("1m", ticks)
    wait_until(
        lambda: (
            desk.browser.ok(f"/klines?asset=BTC&interval=1m{window}")
            == [{**c, "volume": "0", "quoteVolume": "0"} for c in wanted_minutes]
        ),
        30,
        "the DB processor to write the past minutes",
        every=0.2,
    )
    for interval in BACKPACK_INTERVALS:
        got = check_candles(
            interval, desk.browser.ok(f"/klines?asset=BTC&interval={interval}{window}")
        )
        wanted = expected_candles(interval, ticks)
        assert [
            {k: v for k, v in candle.items() if k not in ("volume", "quoteVolume")}
            for candle in got
        ] == wanted, interval
        assert len(wanted) >= 2, interval  # the pair astride its boundary split in two

    # startTime and endTime are honoured: the window of one candle of each interval
    for interval in BACKPACK_INTERVALS:
        boundary = candle_start(interval, datetime.now(UTC) - timedelta(days=10))
        inside = (boundary - EPOCH) // timedelta(seconds=1) + 30  # the tick after it
        one = desk.browser.ok(
            f"/klines?asset=BTC&interval={interval}&startTime={inside}&endTime={inside + 1}"
        )
        assert [stamp(candle["start"]) for candle in one] == [boundary], interval


def test_an_end_before_the_start_is_400(desk: Desk):
    assert_failure(
        desk.browser.get("/klines?asset=SOL&interval=1h&startTime=1700003600&endTime=1700000000"),
        400,
    )
