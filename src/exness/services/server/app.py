"""The FastAPI application: `create_app()` wires the platform's clients in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from exness import __version__
from exness.adapters.db.session import create_engine
from exness.adapters.mail import make_mailer
from exness.adapters.redis import connect
from exness.adapters.rpc import EngineClient
from exness.services.server.auth import LinkTokens, SessionTokens
from exness.services.server.deps import Platform, rate_limit
from exness.services.server.errors import install_error_handlers
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics, MetricsMiddleware
from exness.services.server.ratelimit import RateLimiter
from exness.services.server.responses import ExactJSONResponse, dumps
from exness.services.server.routes import auth, market, ops, trading, wallet
from exness.settings import Settings, get_settings

__all__ = ["create_app"]

MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """
A leveraged CFD trading platform. Sign in by mailed magic link; trade SOL, ETH and BTC at
1–100x. Requests carry integers in minor units (cents, basis points, asset units); trade
records show exact decimals in human units. Errors are `{"success": false, "message"}`.
"""


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES with 413 before reading them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and (
                    not value.isdigit() or int(value) > MAX_BODY_BYTES
                ):
                    body = dumps({"success": False, "message": "request body too large"})
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 413,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    assert settings.redis_url is not None and settings.database_url is not None
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert settings.redis_url is not None and settings.database_url is not None
        redis = connect(settings.redis_url, max_connections=256)
        db = create_engine(settings.database_url)
        engine = EngineClient(
            redis,
            settings.redis_url,
            settings.engine_rpc_timeout_s,
            on_latency=metrics.observe_engine,
        )
        await engine.start()
        health = HealthMonitor(redis, db)
        await health.start()
        app.state.platform = Platform(
            settings=settings,
            redis=redis,
            db=db,
            engine=engine,
            sessions=SessionTokens(settings.jwt_key()),
            links=LinkTokens(redis),
            mailer=make_mailer(settings),
            limiter=RateLimiter(redis, settings.rate_limit_per_minute),
            metrics=metrics,
            health=health,
        )
        try:
            yield
        finally:
            await health.stop()
            await engine.stop()
            await redis.aclose()
            await db.dispose()

    app = FastAPI(
        title="exness-py",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=ExactJSONResponse,
    )
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.frontend_url],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit)

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(rate_limit)])
    for module in (auth, trading, wallet, market):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(ops.router)  # /health and /metrics, unlimited
    app.include_router(ops.router, prefix="/api/v1", include_in_schema=False)
    return app
