"""The app's own defences, in-process: sign-out ends the session, cookie requests from other
sites' pages are refused, the security headers, who may read /metrics, and which forwarding
headers are believed."""

from __future__ import annotations

import httpx
import pytest

from tests.routes.conftest import Desk

OWN = "http://127.0.0.1:8002"  # BACKEND_URL by default, and so FRONTEND_URL
TOKEN = "metrics-token-0123456789"


def _client(desk: Desk, peer: str, base: str = "http://test") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=desk.app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base)


def _cookie(headers: dict[str, str]) -> dict[str, str]:
    return {"cookie": "authToken=" + headers["authorization"].removeprefix("Bearer ")}


async def test_sign_out_ends_the_session_and_all_ends_every_one(desk: Desk):
    first, second = await desk.trader("alice"), await desk.trader("alice")
    assert (await desk.client.get("/balance/usd", headers=first)).status_code == 200

    answer = await desk.client.post("/logout", headers=first)

    assert answer.status_code == 200
    refused = await desk.client.get("/balance/usd", headers=first)
    assert refused.status_code == 401 and "signed out" in refused.json()["message"]
    assert (await desk.client.get("/balance/usd", headers=_cookie(first))).status_code == 401
    assert (await desk.client.get("/balance/usd", headers=second)).status_code == 200

    third = await desk.trader("alice")
    bob = await desk.trader("bob")
    everywhere = await desk.client.post("/logout", params={"all": "true"}, headers=second)
    assert everywhere.status_code == 200
    for headers in (second, third):
        assert (await desk.client.get("/balance/usd", headers=headers)).status_code == 401
    assert (await desk.client.get("/balance/usd", headers=bob)).status_code == 200


async def test_sign_out_without_a_session(desk: Desk):
    assert (await desk.client.post("/logout")).status_code == 200  # clears the cookie anyway
    everywhere = await desk.client.post("/logout", params={"all": "true"})
    assert everywhere.status_code == 401


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        ({"origin": "http://evil.test"}, True),
        ({"origin": "null"}, True),
        ({"origin": "http://127.0.0.1:8002.evil.test"}, True),
        ({"sec-fetch-site": "cross-site"}, True),  # no Origin, but the browser says it all
        ({"origin": "https://test"}, True),  # the host it posts to, but another scheme
        ({"origin": "http://test:8443"}, True),
        ({"origin": OWN}, False),
        ({"origin": OWN, "sec-fetch-site": "same-origin"}, False),
        # the origin the request is sent to (the client's base URL is http://test): a page
        # served at http://localhost:8002 posts there whatever BACKEND_URL says
        ({"origin": "http://test"}, False),
        ({}, False),  # curl and SDKs send no Origin
    ],
)
async def test_cookie_posts_from_other_sites_are_refused(desk: Desk, headers, refused):
    alice = await desk.trader("alice")
    answer = await desk.client.post(
        "/trade/close",
        content=b'{"orderId": "x"}',
        headers={**_cookie(alice), "content-type": "text/plain", **headers},
    )
    if refused:
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "CROSS_ORIGIN"
        # and the session is untouched
        assert (await desk.client.get("/balance/usd", headers=alice)).status_code == 200
    else:
        assert answer.status_code != 403, answer.text


async def test_bearer_requests_and_reads_are_not_origin_checked(desk: Desk):
    alice = await desk.trader("alice")
    evil = {"origin": "http://evil.test"}
    bearer = await desk.client.post("/logout", headers={**alice, **evil})
    assert bearer.status_code == 200
    bob = await desk.trader("bob")
    read = await desk.client.get("/balance/usd", headers={**_cookie(bob), **evil})
    assert read.status_code == 200


@pytest.mark.parametrize("desk", [{"frontend_url": "https://app.example.com"}], indirect=True)
async def test_the_frontend_origin_is_allowed(desk: Desk):
    alice = await desk.trader("alice")
    for origin in ("https://app.example.com", OWN):
        answer = await desk.client.post("/logout", headers={**_cookie(alice), "origin": origin})
        assert answer.status_code == 200, (origin, answer.text)


async def test_api_answers_are_not_sniffed_nor_stored(desk: Desk):
    alice = await desk.trader("alice")
    async with _client(desk, "127.0.0.1") as client:
        for path, headers in (
            ("/api/v1/balance/usd", alice),
            ("/api/v1/balance/usd", {}),  # a 401 too
            ("/openapi.json", {}),
            ("/metrics", {}),
        ):
            answer = await client.get(path, headers=headers)
            assert answer.headers["x-content-type-options"] == "nosniff", path
            assert answer.headers["cache-control"] == "no-store", path
            assert "strict-transport-security" not in answer.headers  # plain http


@pytest.mark.parametrize("desk", [{"backend_url": "https://trade.example.com"}], indirect=True)
async def test_hsts_when_served_over_https(desk: Desk):
    async with _client(desk, "127.0.0.1") as client:
        answer = await client.get("/openapi.json")
        assert answer.headers["strict-transport-security"] == "max-age=31536000"
        # on every answer, the web terminal's too (HSTS is for the whole host)
        assert "strict-transport-security" in (await client.get("/")).headers


@pytest.mark.parametrize("desk", [{"metrics_token": TOKEN}], indirect=True)
async def test_metrics_only_for_the_operator(desk: Desk):
    async with _client(desk, "127.0.0.1") as local:
        assert (await local.get("/metrics")).status_code == 200
    async with _client(desk, "203.0.113.9") as remote:
        refused = await remote.get("/metrics")
        assert refused.status_code == 403 and refused.json()["success"] is False
        assert (await remote.get("/api/v1/metrics")).status_code == 403
        wrong = await remote.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = await remote.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert right.status_code == 200 and "http_requests_total" in right.text


@pytest.mark.parametrize("desk", [{"forwarded_allow_ips": "10.0.0.0/8"}], indirect=True)
async def test_forwarding_headers_are_believed_from_trusted_proxies_only(desk: Desk):
    # /metrics serves loopback only, so it tells which address the app believed
    async with _client(desk, "10.1.2.3") as proxy:
        assert (await proxy.get("/metrics")).status_code == 403  # the proxy itself
        forwarded = {"x-forwarded-for": "127.0.0.1"}
        assert (await proxy.get("/metrics", headers=forwarded)).status_code == 200
        rfc = {"forwarded": 'for="[::1]:4711";proto=https'}
        assert (await proxy.get("/metrics", headers=rfc)).status_code == 200
    async with _client(desk, "203.0.113.9") as stranger:
        forged = {"x-forwarded-for": "127.0.0.1", "forwarded": "for=127.0.0.1"}
        assert (await stranger.get("/metrics", headers=forged)).status_code == 403


async def test_made_up_methods_share_one_metrics_series(desk: Desk):
    """A request's method is the client's to choose: past the standard ones, every method is
    counted as OTHER, so a stranger cannot make the metrics grow a series per method."""
    async with _client(desk, "127.0.0.1") as client:
        for method in ("BREW", "WHEN", "PROPFIND"):
            await client.request(method, "/api/v1/balance/usd")
        answer = await client.get("/metrics")
    counted = [line for line in answer.text.splitlines() if line.startswith("http_requests_total")]
    assert any('method="OTHER"' in line for line in counted), counted
    assert not any(made_up in answer.text for made_up in ("BREW", "WHEN", "PROPFIND"))
