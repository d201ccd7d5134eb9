"""The platform's health, refreshed in the background once a second, so `GET /health`
costs nothing and a load balancer polling it cannot load the stores. Every check has a
deadline: a stalled store is reported failing within HEALTH_TIMEOUT_S, never as the last
good state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
import redis.asyncio as aioredis
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
    """Each check runs as a task of its own with a deadline (HEALTH_TIMEOUT_S): a store that
    does not answer in time is reported failing, with how long it has been silent, and is not
    asked again until its pending check returns (a stalled store is not piled with checks).
    A report older than a few refreshes (the monitor itself stuck) is served as failing."""

    def __init__(self, client: aioredis.Redis, db: AsyncEngine, timeout_s: float = 1.0) -> None:
        self.client = client
        self.db = db
        self.timeout_s = timeout_s
        self.report: dict[str, Any] = {"status": "starting"}
        self._task: asyncio.Task[None] | None = None
        self._checks: dict[str, tuple[asyncio.Task[Any], float]] = {}  # name -> (task, started)

    @property
    def max_age_s(self) -> float:
        return 3 * (REFRESH_S + self.timeout_s)

    @property
    def serving(self) -> bool:
        """Redis and the database answer: requests can be served."""
        return bool(
            self.report.get("redis", {}).get("ok") and self.report.get("database", {}).get("ok")
        )

    def current(self) -> tuple[dict[str, Any], bool]:
        """The report to serve and whether the platform can serve requests."""
        checked = self.report.get("checkedAt")
        age_s = time.time() - checked / 1000 if isinstance(checked, int) else 0.0
        if age_s > self.max_age_s:
            stale = {**self.report, "status": "stale", "reportAgeS": round(age_s, 3)}
            return stale, False
        return self.report, self.serving

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="health")

    async def stop(self) -> None:
        tasks = [self._task] if self._task is not None else []
        tasks += [task for task, _ in self._checks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception:  # never let the monitor die
                log.exception("health refresh failed")

    async def _mget_statuses(self) -> list[Any]:
        statuses: list[Any] = await self.client.mget(
            [keys.ENGINE_STATUS, keys.FEED_STATUS, keys.DBPROCESSOR_STATUS]
        )
        return statuses

    async def _select_1(self) -> None:
        async with self.db.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _checked(self, results: dict[str, tuple[dict[str, Any], Any]]) -> None:
        """Start (or keep waiting for) each check; fill `results` with what each says."""
        now = time.perf_counter()
        for name, check in (("redis", self._mget_statuses), ("database", self._select_1)):
            if name not in self._checks:
                self._checks[name] = (asyncio.ensure_future(check()), now)
        pending = [task for task, _ in self._checks.values()]
        await asyncio.wait(pending, timeout=self.timeout_s)
        for name, (task, started) in list(self._checks.items()):
            waited = time.perf_counter() - started
            if not task.done():
                results[name] = (
                    {"ok": False, "error": f"no answer for {waited:.1f} s"},
                    None,
                )
                continue
            del self._checks[name]
            error = task.exception()
            if error is not None:  # any driver error means "down" here
                results[name] = ({"ok": False, "error": str(error) or repr(error)}, None)
            else:
                results[name] = ({"ok": True, "ms": round(waited * 1000, 2)}, task.result())

    async def refresh(self) -> None:
        report: dict[str, Any] = {"checkedAt": int(time.time() * 1000)}
        results: dict[str, tuple[dict[str, Any], Any]] = {}
        await self._checked(results)
        report["redis"], statuses = results["redis"]
        report["database"], _ = results["database"]
        for name, raw in zip(
            ("engine", "feed", "dbprocessor"), statuses or [None, None, None], strict=True
        ):
            if raw is None:
                error = "no recent status" if statuses else "unknown: Redis does not answer"
                report[name] = {"ok": False, "error": error}
                continue
            status = orjson.loads(raw)
            age = _age_s(status)
            ok = age < STALE_STATUS_S and (name != "feed" or bool(status.get("connected")))
            report[name] = {"ok": ok, "ageS": age, **{k: v for k, v in status.items() if k != "at"}}
        parts = ("redis", "database", "engine", "feed", "dbprocessor")
        report["status"] = "ok" if all(report[p]["ok"] for p in parts) else "degraded"
        self.report = report
