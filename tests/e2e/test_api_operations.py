"""The HTTP API as an operator sees it (SPEC §4, §6): /health and /metrics, CORS for the
frontend only, the per-client rate limit, and what a trader gets when prices are stale or
missing (503) or the engine does not answer in time (504)."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.api import (
    API,
    assert_failure,
    module_stack,
    set_price,
    sign_up,
    wait_for_price,
)
from tests.e2e.conftest import Stack
from tests.e2e.processes import wait_until

pytestmark = pytest.mark.e2e

FRONTEND = "http://frontend.test"
TRADE = {"asset": "SOL", "type": "long", "margin": 1000, "leverage": 10, "slippage": 100}


# the default settings, shared by the health, metrics and CORS tests
shared = module_stack("api-operations", 5)


# ---- health and metrics --------------------------------------------------------------------


def test_health_reports_every_dependency(shared: Stack):
    def all_ok() -> dict | None:
        report = shared.health()
        return report if report.get("status") == "ok" else None

    report = wait_until(all_ok, 20, "every dependency to report ok", every=0.2)
    for part in ("redis", "database", "engine", "feed", "dbprocessor"):
        assert report[part]["ok"] is True, report
    assert report["feed"]["connected"] is True
    answer = httpx.get(f"{shared.api}/health", timeout=20)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")


def test_metrics_count_requests_and_engine_round_trips(shared: Stack):
    trader = sign_up(shared)
    assert trader.balance() == 500_000
    assert_failure(httpx.get(f"{shared.api}{API}/balance/usd", timeout=20), 401)

    answer = httpx.get(f"{shared.api}/metrics", timeout=20)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = [
        sample
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    ]

    def requests(route: str, status: str) -> float:
        """Requests counted under the route's template (with or without the /api/v1 prefix)."""
        return sum(
            s.value
            for s in samples
            if s.name == "http_requests_total"
            and s.labels["route"] in (route, f"{API}{route}")
            and s.labels["status"] == status
        )

    def round_trips(kind: str) -> float:
        return sum(
            s.value
            for s in samples
            if s.name == "engine_rpc_duration_seconds_count" and s.labels["kind"] == kind
        )

    assert requests("/balance/usd", "200") >= 1
    assert requests("/balance/usd", "401") >= 1
    assert requests("/signin/post", "302") >= 1
    assert requests("/signup", "200") >= 1
    assert round_trips("GET_USDC_BALANCE") >= 1
    assert round_trips("INITIALIZE_WALLET") >= 1
    assert "http_request_duration_seconds_bucket" in answer.text


def test_openapi_and_docs_are_served(shared: Stack):
    schema = httpx.get(f"{shared.api}/openapi.json", timeout=20).json()
    for path in ("/signup", "/signin", "/trade/create", "/trade/close", "/trade/history"):
        assert f"{API}{path}" in schema["paths"], path
    assert httpx.get(f"{shared.api}/docs", timeout=20).status_code == 200


# ---- CORS ------------------------------------------------------------------------------------


def test_cors_allows_the_frontend_with_credentials_and_no_one_else(shared: Stack):
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    url = f"{shared.api}{API}/trade/create"

    allowed = httpx.options(url, headers={"Origin": FRONTEND, **preflight}, timeout=20)
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == FRONTEND
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "POST" in allowed.headers["access-control-allow-methods"]

    other = httpx.options(url, headers={"Origin": "http://evil.test", **preflight}, timeout=20)
    assert 400 <= other.status_code < 500
    assert "access-control-allow-origin" not in other.headers

    # simple requests: the frontend may read the answer, another origin may not
    assets = f"{shared.api}{API}/supportedAssets"
    mine = httpx.get(assets, headers={"Origin": FRONTEND}, timeout=20)
    assert mine.headers["access-control-allow-origin"] == FRONTEND
    assert mine.headers["access-control-allow-credentials"] == "true"
    theirs = httpx.get(assets, headers={"Origin": "http://evil.test"}, timeout=20)
    assert theirs.status_code == 200
    assert "access-control-allow-origin" not in theirs.headers
    decimals = {a["symbol"]: a["decimals"] for a in mine.json()["assets"]}
    assert decimals == {"BTC": 4, "ETH": 6, "SOL": 6}


# ---- rate limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [{"RATE_LIMIT_PER_MINUTE": "5"}], indirect=True)
def test_the_sixth_request_in_a_minute_is_429_and_health_is_not_limited(stack: Stack):
    # the limit counts in fixed one-minute windows: start early in one
    if time.time() % 60 > 50:
        time.sleep(60 - time.time() % 60 + 0.2)

    assets = f"{stack.api}{API}/supportedAssets"
    for _ in range(5):
        assert httpx.get(assets, timeout=20).status_code == 200

    limited = httpx.get(assets, timeout=20)

    failure = assert_failure(limited, 429, "RATE_LIMITED")
    assert "5" in failure["message"]
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60
    # every route of the API counts, whatever it is
    assert_failure(httpx.post(f"{stack.api}{API}/trade/create", json=TRADE, timeout=20), 429)
    assert_failure(httpx.get(f"{stack.api}{API}/balance", timeout=20), 429)
    # operators' routes are not limited
    for _ in range(10):
        assert httpx.get(f"{stack.api}/health", timeout=20).status_code == 200
    assert httpx.get(f"{stack.api}/metrics", timeout=20).status_code == 200


# ---- stale and missing prices, a silent engine -----------------------------------------------


@pytest.mark.parametrize("stack", [{"PRICE_MAX_AGE_S": "1"}], indirect=True)
def test_no_trade_opens_or_closes_on_a_stale_or_missing_price(stack: Stack):
    trader = sign_up(stack)

    # no SOL price has been received yet
    assert_failure(trader.post("/trade/create", json=TRADE), 503, "PRICE_UNAVAILABLE")

    # a fresh quote: the trade opens (quoting again if the machine was slow)
    def opened() -> dict | None:
        stack.feed.quote("SOL_USDC", "150", "0")
        answer = trader.post("/trade/create", json=TRADE)
        return answer.json() if answer.status_code == 200 else None

    order = wait_until(opened, 20, "a trade on a fresh quote", every=0.1)
    quoted_at_us = time.time_ns() // 1000

    time.sleep(1.5)  # the quote grows older than PRICE_MAX_AGE_S

    failure = assert_failure(trader.post("/trade/create", json=TRADE), 503, "STALE_PRICE")
    assert "old" in failure["message"]
    close = {"orderId": order["orderId"]}
    assert_failure(trader.post("/trade/close", json=close), 503, "STALE_PRICE")
    assert trader.balance() == 500_000 - 1000
    assert [t["orderId"] for t in trader.open_trades()] == [order["orderId"]]

    # a quote sent now but stamped by the feed 1.5 s ago is taken, and is still stale:
    # age counts from the feed's own event time
    stack.feed.publish("SOL_USDC", "150.49", "150.51", E=quoted_at_us + 1000)
    wait_for_price(stack, "SOL", "150.5")
    assert_failure(trader.post("/trade/create", json=TRADE), 503, "STALE_PRICE")

    # a fresh quote again: the position closes
    def closed() -> dict | None:
        stack.feed.quote("SOL_USDC", "150", "0")
        answer = trader.post("/trade/close", json=close)
        return answer.json() if answer.status_code == 200 else None

    assert wait_until(closed, 20, "the close on a fresh quote", every=0.1)["balance"] == 500_000


@pytest.mark.parametrize("stack", [{"ENGINE_RPC_TIMEOUT_S": "1"}], indirect=True)
def test_a_silent_engine_is_504_and_the_server_recovers_with_it(stack: Stack):
    trader = sign_up(stack)
    set_price(stack, "SOL", "150")
    assert trader.balance() == 500_000
    engine = stack.services["engine"]

    engine.signal(signal.SIGSTOP)
    try:
        for path in ("/balance/usd", "/balance", "/trades/open"):
            failure = assert_failure(trader.get(path), 504, "ENGINE_TIMEOUT")
            assert "engine did not answer" in failure["message"]
        # what is served without the engine still works
        assert trader.history()["pagination"]["total"] == 0
    finally:
        engine.signal(signal.SIGCONT)

    recovered = wait_until(
        lambda: trader.get("/balance/usd").status_code == 200, 20, "the engine to answer again"
    )
    assert recovered
    assert trader.balance() == 500_000
