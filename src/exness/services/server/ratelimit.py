"""Per-client-IP rate limiting in Redis: a fixed one-minute window (INCR + EXPIRE), shared
by every server process, so the limit holds however many workers run. Applied to the API
(`/api/v1/...`) as ASGI middleware; /health and /metrics are not limited."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from exness.adapters import keys
from exness.log import get_logger
from exness.services.server.errors import failure

__all__ = ["RateLimitMiddleware", "RateLimiter"]

log = get_logger(__name__)


class RateLimiter:
    def __init__(self, client: aioredis.Redis, per_minute: int) -> None:
        self.client = client
        self.per_minute = per_minute

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def retry_after(self, client_ip: str) -> int | None:
        """None if the request may go ahead, else seconds until the window resets."""
        now = time.time()
        window = int(now // 60)
        key = f"{keys.RATE_LIMIT_PREFIX}{client_ip}:{window}"
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 61)
            count, _ = await pipe.execute()
        except (RedisError, OSError) as error:
            # Fail open: refusing every trader because the limiter's store blinked is worse.
            log.warning("rate limiter unavailable", error=repr(error))
            return None
        if count <= self.per_minute:
            return None
        return max(1, int((window + 1) * 60 - now + 0.999))


class RateLimitMiddleware:
    """429 with Retry-After once a client IP exceeds the limit. Middleware rather than a
    FastAPI dependency: a dependency costs every request a resolution step, even when the
    limit is off."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/v1/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            limiter: RateLimiter = scope["app"].state.limiter
            if limiter.enabled:
                client = scope.get("client")
                retry_after = await limiter.retry_after(client[0] if client else "unknown")
                if retry_after is not None:
                    response = failure(
                        429,
                        f"too many requests: at most {limiter.per_minute} a minute; "
                        f"retry in {retry_after} s",
                        "RATE_LIMITED",
                        **{"Retry-After": str(retry_after)},
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
