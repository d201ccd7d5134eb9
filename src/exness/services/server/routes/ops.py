"""Health and metrics, for operators and load balancers."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exness.services.server.deps import HealthDep, MetricsDep, SettingsDep
from exness.services.server.errors import ApiError
from exness.services.server.responses import ExactJSONResponse
from exness.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(monitor: HealthDep) -> ExactJSONResponse:
    """Redis, the database, the engine, the price feed and the DB processor, as last checked
    (about a second ago; each check has a deadline). 503 when Redis or the database is down
    or does not answer in time."""
    report, serving = monitor.current()
    return ExactJSONResponse(report, status_code=200 if serving else 503)


def may_read_metrics(settings: Settings, client_ip: str | None, authorization: str) -> bool:
    """From an address in METRICS_ALLOW_IPS, or with `Authorization: Bearer <METRICS_TOKEN>`."""
    if settings.metrics_token is not None:
        scheme, _, token = authorization.partition(" ")
        expected = settings.metrics_token.get_secret_value().encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected):
            return True
    try:
        address = ipaddress.ip_address(client_ip or "")
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_networks())


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, metrics: MetricsDep, settings: SettingsDep) -> Response:
    """Prometheus: request counts and latencies by route, engine round-trip latencies. Served
    to METRICS_ALLOW_IPS (default: this machine) or with the METRICS_TOKEN bearer token."""
    client = request.client.host if request.client else None
    if not may_read_metrics(settings, client, request.headers.get("authorization", "")):
        raise ApiError(403, "metrics are served to the operator's addresses only", "FORBIDDEN")
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
