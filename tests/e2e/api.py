"""Helpers for the end-to-end tests of the HTTP API (SPEC §4).

- `shared_stack`: the four services, a Backpack-protocol feed and an SMTP sink, shared by a
  test module (each module uses a Redis database number and a PostgreSQL database of its own,
  so it never meets another module's state, nor the per-test `stack` fixture's).
- `sign_up`: a trader signed up the way a person does it: POST /signup, the mail arrives at
  the SMTP sink, the link in it is followed, and the `authToken` cookie is the session.
- `Trader`: a signed-in trader's requests (Bearer header), answers read with exact decimals.
- `set_price`: a quote from the feed, waited for until the engine holds it.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import redis
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller

from exness.adapters import keys
from exness.adapters.db.urls import asyncpg_dsn
from exness.codec.prices import decode_price_key
from exness.domain.assets import ASSETS
from exness.services.server.auth import SessionTokens
from exness.services.server.sessions import RedisSessionStore
from tests.conftest import admin_sql, with_database
from tests.e2e.conftest import SERVICES, FakeFeed, Mailbox, Stack, run, stack_env
from tests.e2e.processes import Services, free_port, wait_until

__all__ = [
    "Trader",
    "assert_failure",
    "db_fetch",
    "exact",
    "module_stack",
    "open_session",
    "set_price",
    "shared_stack",
    "sign_up",
    "unique_email",
    "wait_for_price",
]

API = "/api/v1"


def exact(response: httpx.Response) -> Any:
    """The JSON body, every number with a fraction read as the exact `Decimal` it spells."""
    return json.loads(response.text, parse_float=Decimal)


def assert_failure(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """A failure answer: the status, JSON `{"success": false, "message": <non-empty>}`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["success"] is False, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    if code is not None:
        assert body.get("code") == code, body
    return body


def unique_email(prefix: str = "trader") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def db_fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return await connection.fetch(sql, *args)
        finally:
            await connection.close()

    return run(go())


def _with_redis_db(url: str, number: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":  # unix:///path/to/socket?db=N
        return f"unix://{parts.path}?db={number}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, ""))


def module_stack(name: str, redis_db: int, **env: str) -> Any:
    """A module-scoped `stack` fixture: `stack = module_stack("api-auth", 1)` in a module."""

    @pytest.fixture(scope="module")
    def stack(
        tmp_path_factory: pytest.TempPathFactory,
        redis_server_url: str,
        postgres_admin_url: str,
        template_database: str,
    ) -> Iterator[Stack]:
        log_dir = tmp_path_factory.mktemp(name)
        with shared_stack(
            log_dir, redis_server_url, postgres_admin_url, template_database, redis_db, **env
        ) as running:
            yield running

    return stack


@contextlib.contextmanager
def shared_stack(
    log_dir: Path,
    redis_server_url: str,
    postgres_admin_url: str,
    template_database: str,
    redis_db: int,
    **env: str,
) -> Iterator[Stack]:
    """A running stack on Redis database `redis_db` and a fresh copy of the migrated
    database; `env` adds to (or overrides) the environment every service gets."""
    redis_url = _with_redis_db(redis_server_url, redis_db)
    database = f"t_{uuid.uuid4().hex[:16]}"
    database_url = with_database(postgres_admin_url, database)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    run(
        admin_sql(
            postgres_admin_url, f'CREATE DATABASE "{database}" TEMPLATE "{template_database}"'
        )
    )
    box = Mailbox()
    smtp = Controller(box, hostname="127.0.0.1", port=free_port())
    smtp.start()
    feed = FakeFeed(log_dir / "feed.log")
    _, stack_environment = stack_env(log_dir, redis_url, database_url, feed.url, smtp.port)
    stack_environment.update(env)
    services = Services(stack_environment, log_dir)
    running = Stack(
        services, f"http://127.0.0.1:{stack_environment['PORT']}", stack_environment, feed, box
    )
    try:
        services.start(*SERVICES)
        running.wait_ready()
        yield running
    except BaseException:
        print(services.report())
        raise
    finally:
        services.stop_all()
        feed.stop()
        smtp.stop()
        run(admin_sql(postgres_admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()


def set_price(stack: Stack, asset: str, mid: str, half_spread: str = "0") -> int:
    """Quote `mid` (human units) on the feed, bid and ask `half_spread` either side (none by
    default: a trade then fills at `mid` either way), and wait until the engine's latest price
    is it; the price in asset units."""
    stack.feed.quote(f"{asset}_USDC", mid, half_spread)
    return wait_for_price(stack, asset, mid)


def wait_for_price(stack: Stack, asset: str, mid: str) -> int:
    """Wait until the engine's latest price of `asset` (its `price-ASSET` key) is `mid`."""
    units = int(Decimal(mid).scaleb(ASSETS[asset].decimals))
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:

        def arrived() -> bool:
            raw = client.get(keys.price_key(asset))
            return raw is not None and decode_price_key(raw).price == units

        wait_until(arrived, 20, f"the engine to take {asset} at {mid}")
    return units


def open_session(redis_url: str, secret: str, user_id: str, email: str) -> str:
    """A session token made as the server makes one at sign-in (the JWT and its session
    recorded in Redis), for tests that skip the mail."""

    async def go() -> str:
        client = aioredis.Redis.from_url(redis_url)
        try:
            tokens = SessionTokens(secret)
            session = tokens.new_session(user_id, email)
            await RedisSessionStore(client, redis_url).open(session)
            return tokens.sign(session)
        finally:
            await client.aclose()

    return run(go())


def session_cookie(response: httpx.Response) -> Any:
    """The `authToken` morsel of a response's Set-Cookie header (attributes included)."""
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    assert "authToken" in cookies, response.headers
    return cookies["authToken"]


@dataclass
class Trader:
    stack: Stack
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {**self.headers, **options.pop("headers", {})}
        return httpx.request(
            method, f"{self.stack.api}{API}{path}", headers=headers, timeout=20, **options
        )

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> httpx.Response:
        return self.request("POST", path, **options)

    def ok(self, method: str, path: str, **options: Any) -> Any:
        response = self.request(method, path, **options)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return exact(response)

    def balance(self) -> int:
        return self.ok("GET", "/balance/usd")["balance"]

    def open_trades(self) -> list[dict[str, Any]]:
        return self.ok("GET", "/trades/open")["trades"]

    def open(self, asset: str, side: str, margin: int, leverage: int, **extra: Any) -> dict:
        body = {
            "asset": asset,
            "type": side,
            "margin": margin,
            "leverage": leverage,
            "slippage": 100,
            **extra,
        }
        return self.ok("POST", "/trade/create", json=body)

    def close(self, order_id: str) -> dict:
        return self.ok("POST", "/trade/close", json={"orderId": order_id})

    def history(self, **params: Any) -> dict:
        return self.ok("GET", "/trade/history", params=params)

    def history_row(self, order_id: str, status: str) -> dict:
        """The order's history row once the DB processor has written it with `status`."""

        def written() -> dict | None:
            for row in self.history(limit=500)["data"]:
                if row["orderId"] == order_id and row["status"] == status:
                    return row
            return None

        return wait_until(written, 20, f"the {status} history row of {order_id}", every=0.05)


def follow(link: str) -> httpx.Response:
    """Follow a mailed sign-in link as a browser would, but without following the redirect."""
    return httpx.get(link, follow_redirects=False, timeout=20)


def sign_up(stack: Stack, email: str | None = None) -> Trader:
    email = email or unique_email()
    answer = httpx.post(f"{stack.api}{API}/signup", json={"email": email}, timeout=20)
    assert answer.status_code == 200, answer.text
    link = stack.mailbox.wait_for_link(email)
    redirect = follow(link)
    assert redirect.status_code == 302, redirect.text
    return Trader(stack, email, session_cookie(redirect).value)


def random_secret() -> str:
    return secrets.token_urlsafe(40)
