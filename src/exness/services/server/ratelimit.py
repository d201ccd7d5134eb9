"""Rate limiting in Redis, per client IP and per signed-in trader: a fixed one-minute window
(INCR + EXPIRE) for each, shared by every server process, so the limits hold however many
workers run. Applied to the API (`/api/v1/...`) as ASGI middleware; /health and /metrics
are not limited.

The client IP is the connection's peer unless a trusted proxy forwarded the request
(clientip.py), so a made-up X-Forwarded-For does not move a client to a fresh bucket. The
trader is whoever a valid session token names (its signature checked, through the token
cache), so a trader is limited however many addresses they spread over.
"""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from exness.adapters import keys
from exness.log import get_logger
from exness.services.server.auth import SessionTokens, bearer_or_cookie
from exness.services.server.errors import failure

__all__ = ["RateLimitMiddleware", "RateLimiter"]

log = get_logger(__name__)


class RateLimiter:
    def __init__(
        self,
        client: aioredis.Redis,
        per_minute: int,
        per_trader_per_minute: int = 0,
        timeout_s: float = 3.0,
    ) -> None:
        self.client = client
        self.per_minute = per_minute
        self.per_trader_per_minute = per_trader_per_minute
        self.timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0 or self.per_trader_per_minute > 0

    async def retry_after(
        self, client_ip: str, trader: str | None = None
    ) -> tuple[int, str, int] | None:
        """None if the request may go ahead, else (seconds until the window resets, what was
        limited ("address" or "trader"), that limit)."""
        now = time.time()
        window = int(now // 60)
        counted: list[tuple[str, int]] = []
        if self.per_minute > 0:
            counted.append(("address", self.per_minute))
        if trader is not None and self.per_trader_per_minute > 0:
            counted.append(("trader", self.per_trader_per_minute))
        if not counted:
            return None
        try:
            pipe = self.client.pipeline(transaction=False)
            for what, _ in counted:
                who = client_ip if what == "address" else trader
                key = f"{keys.RATE_LIMIT_PREFIX}{what}:{who}:{window}"
                pipe.incr(key)
                pipe.expire(key, 61)
            answers = await asyncio.wait_for(pipe.execute(), self.timeout_s)
        except (RedisError, OSError) as error:  # TimeoutError is an OSError
            # Fail open: refusing every trader because the limiter's store blinked is worse.
            log.warning("rate limiter unavailable", error=repr(error))
            return None
        for (what, limit), count in zip(counted, answers[::2], strict=True):
            if count > limit:
                return max(1, int((window + 1) * 60 - now + 0.999)), what, limit
        return None


class RateLimitMiddleware:
    """429 with Retry-After once a client IP or a trader exceeds their limit. Middleware
    rather than a FastAPI dependency: a dependency costs every request a resolution step,
    even when the limit is off."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            state = scope["app"].state
            limiter: RateLimiter = state.limiter
            if limiter.enabled:
                client = scope.get("client")
                trader = None
                if limiter.per_trader_per_minute > 0:
                    token, _ = bearer_or_cookie(scope["headers"])
                    tokens: SessionTokens = state.sessions
                    session = tokens.verify(token) if token else None
                    trader = session.user_id if session is not None else None
                limited = await limiter.retry_after(client[0] if client else "unknown", trader)
                if limited is not None:
                    retry_after, what, limit = limited
                    per = "client address" if what == "address" else "trader"
                    response = failure(
                        429,
                        f"too many requests: at most {limit} a minute per {per}; "
                        f"retry in {retry_after} s",
                        "RATE_LIMITED",
                        **{"Retry-After": str(retry_after)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
