"""Route tests: the FastAPI app in-process (httpx.ASGITransport), its engine port an
in-process domain Engine. No Redis, no PostgreSQL, no services: fast, and the real trading
rules. Routes backed by the database or Redis (sign-in, history, klines) are covered by the
end-to-end suite instead."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from exness.adapters.idempotency import MemoryIdempotencyStore
from exness.adapters.inprocess import InProcessEngine
from exness.domain import Engine, EngineConfig, InitializeWallet, PriceTick
from exness.services.server.app import create_app
from exness.services.server.auth import SessionTokens
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.services.server.resources import Resources
from exness.services.server.sessions import MemorySessionStore
from exness.settings import get_settings

NOW_US = 1_700_000_000 * 1_000_000


def exact(response: httpx.Response) -> Any:
    """The JSON body with numbers as exact Decimals, as the server wrote them."""
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def failure(response: httpx.Response, status: int, mentions: str = "") -> dict[str, Any]:
    """A failure answer: the status, `{"success": false, "message"}` mentioning `mentions`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False and body["message"], body
    assert mentions in body["message"], body
    return body


@dataclass
class Desk:
    """The app, its engine and a clock a test moves by hand."""

    client: httpx.AsyncClient
    engine: InProcessEngine
    sessions: SessionTokens
    session_store: MemorySessionStore
    app: FastAPI
    now: int = NOW_US

    def clock(self) -> int:
        self.now += 1
        return self.now

    def price(self, asset: str, units: int, bid: int | None = None, ask: int | None = None) -> None:
        self.engine.price(PriceTick(asset, units, self.clock(), bid, ask))

    async def trader(self, user_id: str) -> dict[str, str]:
        """A trader with a wallet; the headers that sign them in."""
        command = InitializeWallet(self.engine.new_request_id(), user_id, f"{user_id}@x.io")
        assert (await self.engine.send(command)).ok
        session = self.sessions.new_session(user_id, f"{user_id}@x.io")
        await self.session_store.open(session)
        return {"authorization": f"Bearer {self.sessions.sign(session)}"}


@pytest.fixture
async def desk(tmp_path, request) -> AsyncIterator[Desk]:
    """The desk; `@pytest.mark.parametrize("desk", [{setting: value}], indirect=True)`
    changes settings."""
    secret = secrets.token_urlsafe(40)
    overrides = getattr(request, "param", None) or {}
    settings = get_settings(
        jwt_secret=secret, exness_home=str(tmp_path), rate_limit_per_minute=0, **overrides
    )
    sessions = SessionTokens(secret)
    session_store = MemorySessionStore()
    box: list[Desk] = []
    engine = InProcessEngine(
        Engine(EngineConfig(price_max_age_us=10_000_000)), clock=lambda: box[0].clock()
    )
    resources = Resources(
        settings=settings,
        engine=engine,
        quotes=engine,
        db=None,  # type: ignore[arg-type]  # the routes tested here do not touch it
        sessions=sessions,
        session_store=session_store,
        links=None,  # type: ignore[arg-type]
        mailer=None,  # type: ignore[arg-type]
        limiter=RateLimiter(None, 0),  # type: ignore[arg-type]
        metrics=Metrics(),
        health=None,  # type: ignore[arg-type]
        idempotency=MemoryIdempotencyStore(),
    )
    app = create_app(settings, resources)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test/api/v1") as client:
        box.append(Desk(client, engine, sessions, session_store, app))
        yield box[0]
