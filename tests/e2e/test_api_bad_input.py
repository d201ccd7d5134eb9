"""Every bad input is a clear 4xx and changes nothing (SPEC §4): tables of bad bodies and
queries for every route that takes one, and the engine's own rejections (insufficient
balance, slippage exceeded, no price yet).

Each case is sent by a signed-in trader who holds an open position; after it, the trader's
balance, open positions and history are exactly what they were."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.e2e.api import (
    API,
    Trader,
    assert_failure,
    db_fetch,
    module_stack,
    set_price,
    sign_up,
    unique_email,
)
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e


quoted_stack = module_stack("api-bad-input", 3, PRICE_MAX_AGE_S="3600")


@pytest.fixture(scope="module")
def stack(quoted_stack: Stack) -> Stack:
    """SOL and ETH are quoted once (and stay fresh); BTC never is."""
    set_price(quoted_stack, "SOL", "150")
    set_price(quoted_stack, "ETH", "3000")
    return quoted_stack


@pytest.fixture(scope="module")
def trader(stack: Stack) -> Trader:
    trader = sign_up(stack)
    trader.open("SOL", "long", 2500, 10)
    return trader


@pytest.fixture
def unchanged(trader: Trader) -> Iterator[None]:
    """The test must leave the trader's state exactly as it found it."""

    def state() -> tuple[Any, ...]:
        history = trader.history()
        return trader.balance(), trader.open_trades(), history["pagination"], history["analytics"]

    before = state()
    assert before[0] == 500_000 - 2500
    yield
    assert state() == before


def send(trader: Trader, method: str, path: str, body: Any = None, **options: Any):
    """`body` goes as JSON unless it is bytes (sent raw, as application/json by default)."""
    if isinstance(body, bytes):
        headers = {"content-type": "application/json", **options.pop("headers", {})}
        return trader.request(method, path, content=body, headers=headers, **options)
    if body is None:
        return trader.request(method, path, **options)
    return trader.request(method, path, json=body, **options)


# ---- POST /trade/create ------------------------------------------------------------------------

GOOD = {"asset": "SOL", "type": "long", "margin": 100, "leverage": 10, "slippage": 100}


def without(field: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != field}


def with_(**changes: Any) -> dict:
    return {**GOOD, **changes}


CREATE_CASES: dict[str, Any] = {
    **{f"missing {field}": without(field) for field in GOOD},
    "margin as a string": with_(margin="100"),
    "margin as a float": with_(margin=10.5),
    "margin as a whole float": with_(margin=100.0),
    "margin true": with_(margin=True),
    "margin null": with_(margin=None),
    "margin a list": with_(margin=[100]),
    "margin 0": with_(margin=0),
    "margin negative": with_(margin=-100),
    "margin huge": with_(margin=10**13),
    "margin beyond 64 bits": with_(margin=10**30),
    "leverage 0": with_(leverage=0),
    "leverage 101": with_(leverage=101),
    "leverage negative": with_(leverage=-5),
    "leverage as a string": with_(leverage="10"),
    "leverage as a float": with_(leverage=1.5),
    "slippage 9": with_(slippage=9),
    "slippage 10001": with_(slippage=10_001),
    "slippage as a string": with_(slippage="100"),
    "unknown asset": with_(asset="DOGE"),
    "asset in lower case": with_(asset="sol"),
    "asset a number": with_(asset=1),
    "unknown type": with_(type="up"),
    "type in upper case": with_(type="LONG"),
    "price 0": with_(price=0),
    "price negative": with_(price=-150_000_000),
    "price as a string": with_(price="150000000"),
    "price as a float": with_(price=150.5),
    "price beyond 64 bits": with_(price=2**64),
    "price absurdly large": with_(price=10**30),
    "a JSON array": [GOOD],
    "a JSON string": "SOL long",
    "JSON null": b"null",
    "not JSON": b"{asset: SOL}",
    "truncated JSON": json.dumps(GOOD)[:-3].encode(),
    "empty body": b"",
    "deeply nested JSON": b"[" * 20_000 + b"]" * 20_000,
    "invalid UTF-8": b'{"asset": "\xff\xfe"}',
}


@pytest.mark.parametrize("case", list(CREATE_CASES), ids=list(CREATE_CASES))
def test_bad_trade_bodies_are_400(trader: Trader, unchanged: None, case: str):
    assert_failure(send(trader, "POST", "/trade/create", CREATE_CASES[case]), 400)


def test_a_body_that_is_not_json_by_content_type_is_400(trader: Trader, unchanged: None):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        answer = send(
            trader,
            "POST",
            "/trade/create",
            json.dumps(GOOD).encode(),
            headers={"content-type": content_type},
        )
        assert_failure(answer, 400)
    form = trader.post("/trade/create", data={k: str(v) for k, v in GOOD.items()})
    assert_failure(form, 400)


def test_a_body_over_64_kib_is_413(trader: Trader, unchanged: None):
    padded = with_(padding="x" * 100_000)
    assert_failure(send(trader, "POST", "/trade/create", padded), 413)
    assert_failure(send(trader, "POST", "/trade/close", {"orderId": "x" * 100_000}), 413)


def test_a_chunked_body_over_64_kib_is_413(trader: Trader, unchanged: None):
    """Without a Content-Length the limit must still hold, counted as the body arrives."""
    padded = json.dumps(with_(padding="x" * 100_000)).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(padded), 8192):
            yield padded[start : start + 8192]

    answer = trader.post(
        "/trade/create", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in answer.request.headers
    assert_failure(answer, 413)


def test_extra_fields_are_ignored_not_fatal(trader: Trader):
    """Compatible with the seed's clients: unknown fields are allowed (and ignored)."""
    opened = trader.open("SOL", "short", 100, 2, comment="hello", stopLoss=None)
    closed = trader.close(opened["orderId"])
    assert closed["pnl"] == 0 and trader.balance() == 500_000 - 2500


# ---- engine rejections ------------------------------------------------------------------------


def test_insufficient_balance_is_400(trader: Trader, unchanged: None):
    failure = assert_failure(send(trader, "POST", "/trade/create", with_(margin=500_000)), 400)
    assert failure["code"] == "INSUFFICIENT_BALANCE"
    assert "balance" in failure["message"]


def test_slippage_exceeded_is_400(trader: Trader, unchanged: None):
    # SOL is at 150.000000: a quote of 140 is 714 bps away; 100 bps are allowed
    far = with_(price=140_000_000, slippage=100)
    failure = assert_failure(send(trader, "POST", "/trade/create", far), 400)
    assert failure["code"] == "SLIPPAGE_EXCEEDED"
    assert "bps" in failure["message"]


def test_a_quote_within_the_slippage_opens(trader: Trader):
    # SOL is at 150.000000: a quote of 149 is 67 bps away, within 100
    near = trader.open("SOL", "long", 100, 10, price=149_000_000, slippage=100)
    assert near["openPrice"] == 150  # filled at the engine's price, not the quote
    trader.close(near["orderId"])


def test_no_price_yet_is_503(trader: Trader, unchanged: None):
    btc = with_(asset="BTC")
    assert_failure(send(trader, "POST", "/trade/create", btc), 503, "PRICE_UNAVAILABLE")
    quoted = with_(asset="BTC", price=600_000_000)
    assert_failure(send(trader, "POST", "/trade/create", quoted), 503, "PRICE_UNAVAILABLE")


# ---- POST /trade/close -----------------------------------------------------------------------

CLOSE_CASES: dict[str, tuple[Any, int]] = {
    "missing orderId": ({}, 400),
    "empty orderId": ({"orderId": ""}, 400),
    "orderId too long": ({"orderId": "x" * 129}, 400),
    "orderId a number": ({"orderId": 12345}, 400),
    "orderId null": ({"orderId": None}, 400),
    "orderId a list": ({"orderId": ["a"]}, 400),
    "orderId with a NUL": ({"orderId": "\u0000"}, 400),
    "orderId with a line break": ({"orderId": "a\nb"}, 400),
    "a JSON array": ([{"orderId": "a"}], 400),
    "not JSON": (b"orderId=a", 400),
    "empty body": (b"", 400),
    "unknown order": ({"orderId": "no-such-order"}, 404),
}


@pytest.mark.parametrize("case", list(CLOSE_CASES), ids=list(CLOSE_CASES))
def test_bad_close_bodies_are_4xx(trader: Trader, unchanged: None, case: str):
    body, status = CLOSE_CASES[case]
    assert_failure(send(trader, "POST", "/trade/close", body), status)


# ---- GET /trade/history ----------------------------------------------------------------------

HISTORY_CASES: dict[str, dict[str, str]] = {
    "unknown status": {"status": "deleted"},
    "limit 0": {"limit": "0"},
    "limit over 1000": {"limit": "1001"},
    "unknown tradeType in capitals": {"tradeType": "UP"},
    "limit not a number": {"limit": "ten"},
    "limit a float": {"limit": "2.5"},
    "negative offset": {"offset": "-1"},
    "offset not a number": {"offset": "x"},
    "unknown asset": {"asset": "DOGE"},
    "unknown tradeType": {"tradeType": "up"},
    "profitable not a boolean": {"profitable": "maybe"},
    "liquidated not a boolean": {"liquidated": "2"},
    "fromDate not a date": {"fromDate": "yesterday"},
    "fromDate impossible": {"fromDate": "2024-13-45"},
    "toDate not a date": {"toDate": "soon"},
    "fromDate after toDate": {"fromDate": "2024-02-01", "toDate": "2024-01-01"},
    "fromDate after toDate, with zones": {
        "fromDate": "2024-01-01T12:00:00+02:00",
        "toDate": "2024-01-01T09:00:00Z",
    },
    "fromDate after toDate, naive and zoned": {
        "fromDate": "2024-02-01",
        "toDate": "2024-01-01T00:00:00Z",
    },
    "fromDate after toDate, epoch and naive": {"fromDate": "1706745600", "toDate": "2024-01-01"},
    "unknown sortBy": {"sortBy": "price; DROP TABLE trades"},
    "unknown sortOrder": {"sortOrder": "sideways"},
}


@pytest.mark.parametrize("case", list(HISTORY_CASES), ids=list(HISTORY_CASES))
def test_bad_history_queries_are_400(trader: Trader, unchanged: None, case: str):
    assert_failure(trader.get("/trade/history", params=HISTORY_CASES[case]), 400)


def test_naive_and_zoned_dates_mix_in_a_good_range(trader: Trader):
    """A date without a zone is UTC; it may be compared with one that has a zone."""
    mixed = {"fromDate": "2000-01-01", "toDate": "2100-01-01T00:00:00Z"}
    answer = trader.get("/trade/history", params=mixed)
    assert answer.status_code == 200, answer.text
    assert answer.json()["pagination"]["total"] == trader.history()["pagination"]["total"]
    reverse = {"fromDate": "2000-01-01T00:00:00+05:00", "toDate": "2100-01-01"}
    assert trader.get("/trade/history", params=reverse).status_code == 200


# ---- GET /klines -----------------------------------------------------------------------------

KLINES_CASES: dict[str, dict[str, Any]] = {
    "missing asset": {"interval": "1m"},
    "unknown asset": {"asset": "DOGE", "interval": "1m"},
    "missing interval": {"asset": "SOL"},
    "unknown interval": {"asset": "SOL", "interval": "2m"},
    "start equals end": {"asset": "SOL", "interval": "1m", "startTime": 100, "endTime": 100},
    "start after end": {"asset": "SOL", "interval": "1m", "startTime": 200, "endTime": 100},
    "negative startTime": {"asset": "SOL", "interval": "1m", "startTime": -60},
    "negative endTime": {"asset": "SOL", "interval": "1m", "endTime": -1},
    "startTime not a number": {"asset": "SOL", "interval": "1m", "startTime": "now"},
    "startTime beyond the year 5000": {"asset": "SOL", "interval": "1d", "startTime": 10**12},
    "startTime in the future, no end": {"asset": "SOL", "interval": "1m", "startTime": 10**11},
}


@pytest.mark.parametrize("case", list(KLINES_CASES), ids=list(KLINES_CASES))
def test_bad_klines_queries_are_400(stack: Stack, case: str):
    answer = httpx.get(f"{stack.api}{API}/klines", params=KLINES_CASES[case], timeout=20)
    assert_failure(answer, 400)


def test_good_klines_queries_are_200(stack: Stack):
    for interval in ("1m", "5m", "15m", "1h", "1d"):
        answer = httpx.get(
            f"{stack.api}{API}/klines", params={"asset": "SOL", "interval": interval}, timeout=20
        )
        assert answer.status_code == 200, answer.text
        assert isinstance(answer.json(), list)


# ---- POST /signup and /signin ----------------------------------------------------------------

BAD_EMAILS: dict[str, Any] = {
    "no at sign": {"email": "not-an-email"},
    "no domain": {"email": "someone@"},
    "no local part": {"email": "@example.com"},
    "a blank inside": {"email": "some one@example.com"},
    "two at signs": {"email": "a@b@example.com"},
    "empty": {"email": ""},
    "a number": {"email": 5},
    "null": {"email": None},
    "a list": {"email": ["a@example.com"]},
    "over 254 characters": {"email": f"{'a' * 64}@{'.'.join(['b' * 63] * 3)}.com"},
    "no dot in the domain": {"email": "someone@example"},
    "two dots in a row": {"email": "some..one@example.com"},
    "a line break (header injection)": {"email": "a@example.com\nBcc: b@example.com"},
    "missing field": {},
    "another field": {"mail": "a@example.com"},
    "a JSON array": [{"email": "a@example.com"}],
    "not JSON": b"email=a@example.com",
    "empty body": b"",
}


@pytest.mark.parametrize("route", ["/signup", "/signin"])
@pytest.mark.parametrize("case", list(BAD_EMAILS), ids=list(BAD_EMAILS))
def test_bad_emails_are_400_and_mail_nothing(stack: Stack, route: str, case: str):
    body = BAD_EMAILS[case]
    mails = len(stack.mailbox.messages)
    if isinstance(body, bytes):
        answer = httpx.post(
            f"{stack.api}{API}{route}",
            content=body,
            headers={"content-type": "application/json"},
            timeout=20,
        )
    else:
        answer = httpx.post(f"{stack.api}{API}{route}", json=body, timeout=20)
    assert_failure(answer, 400)
    assert len(stack.mailbox.messages) == mails


def test_a_good_email_in_any_case_signs_up_once(stack: Stack):
    email = unique_email("MixedCase")
    answer = httpx.post(f"{stack.api}{API}/signup", json={"email": email}, timeout=20)
    assert answer.status_code == 200, answer.text
    assert stack.mailbox.wait_for_link(email.lower())


# ---- last: nothing above jammed the way to the database -------------------------------------


def test_records_are_still_written_after_all_that(stack: Stack, trader: Trader):
    """The bad inputs above reached the server (and some the engine); none may have stopped
    the DB processor: a new trade reaches the history and snapshots keep being saved."""
    since = datetime.now(UTC)
    opened = trader.open("SOL", "long", 100, 2)
    trader.close(opened["orderId"])
    assert trader.history_row(opened["orderId"], "closed")["pnl"] == 0
    wait_until(
        lambda: db_fetch(
            stack.env["DATABASE_URL"], "SELECT id FROM snapshots WHERE created_at > $1", since
        ),
        20,
        "a snapshot of the engine saved after the bad inputs",
        every=0.2,
    )
