"""The platform's health, refreshed in the background once a second, so `GET /health`
costs nothing and a load balancer polling it cannot load the stores."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters import keys
from exness.log import get_logger

__all__ = ["HealthMonitor"]

log = get_logger(__name__)

REFRESH_S = 1.0
STALE_STATUS_S = 5.0  # a service that has not reported for this long is considered down


def _age_s(status: dict[str, Any]) -> float:
    at = status.get("at")
    return round(time.time() - (at if isinstance(at, int) else 0) / 1e6, 3)


class HealthMonitor:
    def __init__(self, client: aioredis.Redis, db: AsyncEngine) -> None:
        self.client = client
        self.db = db
        self.report: dict[str, Any] = {"status": "starting"}
        self._task: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        """Redis and the database answer: requests can be served."""
        return bool(
            self.report.get("redis", {}).get("ok") and self.report.get("database", {}).get("ok")
        )

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception:  # never let the monitor die
                log.exception("health refresh failed")

    async def refresh(self) -> None:
        report: dict[str, Any] = {"checkedAt": int(time.time() * 1000)}
        statuses: list[Any] = [None, None, None]
        try:
            started = time.perf_counter()
            statuses = await self.client.mget(
                [keys.ENGINE_STATUS, keys.FEED_STATUS, keys.DBPROCESSOR_STATUS]
            )
            report["redis"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
        except (RedisError, OSError) as error:
            report["redis"] = {"ok": False, "error": str(error)}
        try:
            started = time.perf_counter()
            async with self.db.connect() as connection:
                await connection.execute(text("SELECT 1"))
            report["database"] = {
                "ok": True,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except Exception as error:  # any driver error means "down" here
            report["database"] = {"ok": False, "error": str(error)}
        for name, raw in zip(("engine", "feed", "dbprocessor"), statuses, strict=True):
            if raw is None:
                report[name] = {"ok": False, "error": "no recent status"}
                continue
            status = orjson.loads(raw)
            age = _age_s(status)
            ok = age < STALE_STATUS_S and (name != "feed" or bool(status.get("connected")))
            report[name] = {"ok": ok, "ageS": age, **{k: v for k, v in status.items() if k != "at"}}
        parts = ("redis", "database", "engine", "feed", "dbprocessor")
        report["status"] = "ok" if all(report[p]["ok"] for p in parts) else "degraded"
        self.report = report
