"""The FastAPI application: `create_app()` wires the platform's clients in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exness import __version__
from exness.adapters.db.session import create_engine
from exness.adapters.mail import make_mailer
from exness.adapters.quotes import QuoteBook
from exness.adapters.redis import connect
from exness.adapters.rpc import EngineClient
from exness.services.runtime import tune_gc
from exness.services.server.auth import LinkTokens, SessionTokens
from exness.services.server.deps import Platform
from exness.services.server.errors import install_error_handlers
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics, MetricsMiddleware
from exness.services.server.ratelimit import RateLimiter, RateLimitMiddleware
from exness.services.server.responses import ExactJSONResponse, dumps
from exness.services.server.routes import auth, market, ops, trading, wallet
from exness.services.server.webapp import install_web_app
from exness.settings import Settings, get_settings

__all__ = ["create_app"]

MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """
A leveraged CFD trading platform. Sign in by mailed magic link; trade SOL, ETH and BTC at
1–100x. Requests carry integers in minor units (cents, basis points, asset units); trade
records show exact decimals in human units. Errors are `{"success": false, "message"}`.
"""


def _counted(receive: Receive) -> Receive:
    """`receive` that refuses with 413 once the body passes MAX_BODY_BYTES: a chunked body
    declares no Content-Length. The 413 is answered as JSON by the HTTP error handler."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise HTTPException(413, "request body too large")
        return message

    return counted


class BodyLimit:
    """Refuse bodies over MAX_BODY_BYTES with 413: before reading them when Content-Length
    says so, else as they arrive."""

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
            receive = _counted(receive)
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
        quotes = QuoteBook(settings.redis_url, redis)
        await quotes.start()
        health = HealthMonitor(redis, db)
        await health.start()
        tune_gc(young=20_000)
        app.state.platform = Platform(
            settings=settings,
            redis=redis,
            db=db,
            engine=engine,
            quotes=quotes,
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
            await quotes.stop()
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
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit)

    # Each router straight onto the app, the busiest first: FastAPI tries included routers
    # in order, level by level, and that costs a request more than the route itself.
    for module in (trading, wallet, market, auth):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(ops.router)  # /health and /metrics, unlimited
    app.include_router(ops.router, prefix="/api/v1", include_in_schema=False)

    # The web terminal (SPEC §9) answers what no route matched: after every router.
    install_web_app(app, settings.web_dist)
    return app
