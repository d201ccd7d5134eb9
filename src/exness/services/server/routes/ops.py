"""Health and metrics, for operators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from exness.services.server.deps import HealthDep, MetricsDep
from exness.services.server.responses import ExactJSONResponse

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(monitor: HealthDep) -> ExactJSONResponse:
    """Redis, the database, the engine, the price feed and the DB processor, as last checked
    (at most a second ago). 503 when Redis or the database is down."""
    return ExactJSONResponse(monitor.report, status_code=200 if monitor.serving else 503)


@router.get("/metrics", response_class=Response)
async def metrics(metrics: MetricsDep) -> Response:
    """Prometheus: request counts and latencies by route, engine round-trip latencies."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
