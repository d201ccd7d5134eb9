"""The server process's collaborators: built from the settings (connected to Redis and
PostgreSQL) for the running platform, or supplied by a test, and installed on `app.state`
where the route dependencies (deps.py) find them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any

from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.db.session import create_engine
from exness.adapters.engine_port import EnginePort, QuotePort
from exness.adapters.idempotency import IdempotencyStore, RedisIdempotencyStore
from exness.adapters.mail import Mailer, make_mailer
from exness.adapters.quotes import QuoteBook
from exness.adapters.redis import connect
from exness.adapters.rpc import EngineClient
from exness.services.runtime import tune_gc
from exness.services.server.auth import LinkTokens, SessionTokens
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.services.server.sessions import RedisSessionStore, SessionStore
from exness.settings import Settings, StoreUrls

__all__ = ["Resources", "connected", "install"]


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: EnginePort
    quotes: QuotePort
    db: AsyncEngine
    sessions: SessionTokens
    session_store: SessionStore
    links: LinkTokens
    mailer: Mailer
    limiter: RateLimiter
    metrics: Metrics
    health: HealthMonitor
    idempotency: IdempotencyStore


def install(app: FastAPI, resources: Resources) -> None:
    for field in fields(resources):
        setattr(app.state, field.name, getattr(resources, field.name))


@asynccontextmanager
async def connected(
    settings: Settings, stores: StoreUrls, metrics: Metrics
) -> AsyncIterator[Resources]:
    """Everything connected to the platform's stores, closed again on exit.

    Every store call a request makes is bounded (STORE_TIMEOUT_S): Redis reads time out and
    are retried once, PostgreSQL statements and connections time out in asyncpg, and a pool
    that has no connection to give within the deadline says so. A stalled store becomes a
    503 in seconds, never a hung request."""
    timeout = settings.store_timeout_s
    redis = connect(
        stores.redis_url,
        max_connections=256,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
    )
    db = create_engine(
        stores.database_url,
        pool_timeout=timeout,
        connect_args={"command_timeout": timeout, "timeout": timeout},
    )
    engine = EngineClient(
        redis, stores.redis_url, settings.engine_rpc_timeout_s, on_latency=metrics.observe_engine
    )
    quotes = QuoteBook(stores.redis_url, redis)
    health = HealthMonitor(redis, db, settings.health_timeout_s)
    session_store = RedisSessionStore(redis, stores.redis_url, timeout)
    started: list[Any] = []
    try:
        for part in (engine, quotes, health, session_store):
            await part.start()
            started.append(part)
        tune_gc(young=20_000)
        yield Resources(
            settings=settings,
            engine=engine,
            quotes=quotes,
            db=db,
            sessions=SessionTokens(settings.jwt_key(), settings.session_lifetime_s),
            session_store=session_store,
            links=LinkTokens(
                redis,
                per_address=settings.signin_links_per_address,
                window_s=settings.signin_links_window_s,
                per_hour=settings.signin_mails_per_hour,
                timeout_s=timeout,
            ),
            mailer=make_mailer(settings),
            limiter=RateLimiter(
                redis,
                settings.rate_limit_per_minute,
                settings.rate_limit_per_trader_per_minute,
                timeout,
            ),
            metrics=metrics,
            health=health,
            idempotency=RedisIdempotencyStore(redis),
        )
    finally:
        for part in reversed(started):
            await part.stop()
        await redis.aclose()
        await db.dispose()
