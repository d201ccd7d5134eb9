"""Health and metrics, for operators and load balancers."""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exness.services.server.deps import health_of, metrics_of, settings_of
from exness.services.server.errors import ApiError
from exness.services.server.responses import ExactJSONResponse
from exness.services.server.routes import api_router
from exness.settings import Settings

router = api_router("operations", prefix="")  # at the root, for load balancers
api_alias = api_router("operations", include_in_schema=False)  # the same under /api/v1


async def health(request: Request) -> ExactJSONResponse:
    """Redis, the database, the engine, the price feed and the DB processor, as last checked
    (about a second ago; each check has a deadline). 503 when Redis or the database is down
    or does not answer in time."""
    report, serving = health_of(request).current()
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


async def metrics(request: Request) -> Response:
    """Prometheus: request counts and latencies by route, engine round-trip latencies. Served
    to METRICS_ALLOW_IPS (default: this machine) or with the METRICS_TOKEN bearer token."""
    client = request.client.host if request.client else None
    if not may_read_metrics(settings_of(request), client, request.headers.get("authorization", "")):
        raise ApiError(403, "metrics are served to the operator's addresses only", "FORBIDDEN")
    registry = metrics_of(request).registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


for _router in (router, api_alias):
    _router.add_api_route("/health", health, methods=["GET"])
    _router.add_api_route("/metrics", metrics, methods=["GET"], response_class=Response)
