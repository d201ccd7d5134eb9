"""Prometheus metrics: requests by route and status, latencies, engine round trips."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


# A request's method is the client's to choose: any other than these is counted as "OTHER",
# so a stranger cannot make a series per made-up method.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.engine_rpc = Histogram(
            "engine_rpc_duration_seconds",
            "Round trip of a request to the engine and its reply",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        # (method, route, status) -> its two series: `labels()` looks a series up under a
        # lock and costs more than counting. Bounded: routes are templates, methods a set.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._engine_series: dict[str, Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "OTHER", route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.requests.labels(key[0], route, str(status)),
                self.latency.labels(key[0], route),
            )
        series[0].inc()
        series[1].observe(seconds)

    def observe_engine(self, kind: str, seconds: float) -> None:
        series = self._engine_series.get(kind)
        if series is None:  # kinds are the commands' wire names: a fixed set
            series = self._engine_series[kind] = self.engine_rpc.labels(kind)
        series.observe(seconds)


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware): it adds two dict lookups and a clock read."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    @staticmethod
    def _route(scope: Scope) -> str:
        """The template of the route that served the request, as the router recorded it in
        the scope ("unmatched" for a 404, or a request refused before routing)."""
        return getattr(scope.get("route"), "path", None) or "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = [500]

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            self.metrics.observe_request(
                scope["method"], self._route(scope), status[0], time.perf_counter() - started
            )
