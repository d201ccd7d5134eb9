"""What a route may ask for (`Annotated[..., Depends]`): the platform's shared clients,
the signed-in trader, and the rate limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.mail import Mailer
from exness.adapters.rpc import EngineClient
from exness.services.server.auth import LinkTokens, Session, SessionTokens
from exness.services.server.errors import ApiError
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics
from exness.services.server.ratelimit import RateLimiter
from exness.settings import Settings

__all__ = ["AUTH_COOKIE", "Platform", "PlatformDep", "SessionDep", "rate_limit"]

AUTH_COOKIE = "authToken"


@dataclass(slots=True)
class Platform:
    """Built once per server process, in the app's lifespan."""

    settings: Settings
    redis: aioredis.Redis
    db: AsyncEngine
    engine: EngineClient
    sessions: SessionTokens
    links: LinkTokens
    mailer: Mailer
    limiter: RateLimiter
    metrics: Metrics
    health: HealthMonitor


def get_platform(request: Request) -> Platform:
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


def current_session(request: Request, platform: PlatformDep) -> Session:
    token = _token(request)
    if token is None:
        raise ApiError(401, "sign in first: no authToken cookie or Bearer token", "UNAUTHENTICATED")
    session = platform.sessions.verify(token)
    if session is None:
        raise ApiError(401, "the session token is invalid or expired", "UNAUTHENTICATED")
    return session


SessionDep = Annotated[Session, Depends(current_session)]


async def rate_limit(request: Request, platform: PlatformDep) -> None:
    if not platform.limiter.enabled:
        return
    client_ip = request.client.host if request.client else "unknown"
    retry_after = await platform.limiter.retry_after(client_ip)
    if retry_after is not None:
        raise ApiError(
            429,
            f"too many requests: at most {platform.limiter.per_minute} a minute; "
            f"retry in {retry_after} s",
            "RATE_LIMITED",
            {"Retry-After": str(retry_after)},
        )
