"""Per-client-IP rate limiting in Redis: a fixed one-minute window (INCR + EXPIRE), shared
by every server process, so the limit holds however many workers run."""

from __future__ import annotations

import time

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.log import get_logger

__all__ = ["RateLimiter"]

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
