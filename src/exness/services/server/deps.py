"""What a route may ask for (`Annotated[..., Depends]`): the platform's shared clients and
the signed-in trader."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.mail import Mailer
from exness.adapters.quotes import QuoteBook
from exness.adapters.rpc import EngineClient
from exness.services.server.auth import LinkTokens, Session, SessionTokens
from exness.services.server.errors import ApiError
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.settings import Settings

__all__ = ["AUTH_COOKIE", "Platform", "PlatformDep", "SessionDep"]

AUTH_COOKIE = "authToken"


@dataclass(slots=True)
class Platform:
    """Built once per server process, in the app's lifespan."""

    settings: Settings
    redis: aioredis.Redis
    db: AsyncEngine
    engine: EngineClient
    quotes: QuoteBook
    sessions: SessionTokens
    links: LinkTokens
    mailer: Mailer
    limiter: RateLimiter
    metrics: Metrics
    health: HealthMonitor


# Dependencies are `async def` even without I/O: FastAPI runs a plain `def` dependency in a
# worker thread, and that hop costs more than everything the dependency does.


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.cookies.get(AUTH_COOKIE)


async def current_session(request: Request) -> Session:
    token = _token(request)
    if token is None:
        raise ApiError(401, "sign in first: no authToken cookie or Bearer token", "UNAUTHENTICATED")
    platform: Platform = request.app.state.platform  # not a sub-dependency: each one costs
    session = platform.sessions.verify(token)
    if session is None:
        raise ApiError(401, "the session token is invalid or expired", "UNAUTHENTICATED")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
