"""The FastAPI application: `create_app()` wires the platform's clients in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exness import __version__
from exness.services.server.browser import OriginCheckMiddleware, SecurityHeadersMiddleware
from exness.services.server.clientip import ClientAddressMiddleware, TrustedProxies
from exness.services.server.errors import install_error_handlers
from exness.services.server.idempotency import IdempotencyMiddleware
from exness.services.server.live import live_route, live_updates
from exness.services.server.metrics import Metrics, MetricsMiddleware
from exness.services.server.ratelimit import RateLimitMiddleware
from exness.services.server.resources import Resources, connected, install
from exness.services.server.responses import ExactJSONResponse, dumps
from exness.services.server.routes import auth, market, ops, orders, quotes, trading, wallet
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


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """The app. Without `resources` it connects to the configured stores in its lifespan;
    with them (a test's, say an in-process engine) it uses those and connects to nothing."""
    settings = settings or get_settings()
    metrics = resources.metrics if resources is not None else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resources is not None:
            yield
            return
        stores = settings.stores()
        async with connected(settings, stores, metrics) as connected_resources:
            install(app, connected_resources)
            async with live_updates(
                settings,
                stores.redis_url,
                connected_resources.db,
                connected_resources.session_store,
            ) as hub:
                app.state.live = hub  # GET /api/v1/ws (SPEC §8)
                yield

    app = FastAPI(
        title="exness-py",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=ExactJSONResponse,
        # The platform's own metrics are Prometheus (metrics.py); FastAPI's OpenTelemetry
        # hooks would look up the global providers on every request for nothing.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    if resources is not None:
        install(app, resources)
    install_error_handlers(app)
    # Innermost: what it keeps and replays is the routes' own answer; CORS applies to both.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.frontend_url],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(OriginCheckMiddleware, allowed_origins=settings.allowed_origins())
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies)
    proxies = TrustedProxies(settings.trusted_proxies())
    if proxies:  # outermost: everything after it sees the client's address, not a proxy's
        app.add_middleware(ClientAddressMiddleware, proxies=proxies)

    # Every route straight onto the app's router (routes/__init__.py), the busiest first:
    # routes are tried in order.
    for module in (trading, wallet, orders, quotes, market, auth):
        app.router.routes.extend(module.router.routes)
    app.router.routes.append(live_route())  # GET /api/v1/ws, the live updates (SPEC §8)
    app.router.routes.extend(ops.router.routes + ops.api_alias.routes)  # unlimited

    # The web terminal (SPEC §9) answers what no route matched: after every router.
    install_web_app(app, settings.web_dist)
    return app
