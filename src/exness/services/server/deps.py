"""What a route may ask for: the signed-in trader (`SessionDep`, a FastAPI dependency), and
one narrow accessor per collaborator (`engine_of(request)`, ...).

The collaborators live on `app.state` (installed by `resources.install`): the engine and
quote ports, the main database, the token issuers, the mailer and the settings. A route
names only what it uses, so a route test supplies only that.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.engine_port import EnginePort, QuotePort
from exness.adapters.mail import Mailer
from exness.services.server.auth import (
    AUTH_COOKIE,
    LinkTokens,
    Session,
    SessionTokens,
    bearer_or_cookie,
)
from exness.services.server.errors import ApiError
from exness.services.server.health import HealthMonitor
from exness.services.server.metrics import Metrics
from exness.services.server.sessions import SessionStore
from exness.settings import Settings

__all__ = [
    "AUTH_COOKIE",
    "OptionalSessionDep",
    "SessionDep",
    "current_session",
    "database_of",
    "engine_of",
    "health_of",
    "links_of",
    "mailer_of",
    "metrics_of",
    "optional_session",
    "quotes_of",
    "session_store_of",
    "session_tokens_of",
    "settings_of",
]

# The collaborators are read from app.state by plain typed accessors, not resolved as FastAPI
# dependencies: FastAPI (0.165) spends ~70,000 instructions resolving one dependency per
# request (callgrind, README "Performance"), as much as a trade route's own work. The
# session stays a dependency: it answers 401 before the body is looked at.


def engine_of(request: Request) -> EnginePort:
    port: EnginePort = request.app.state.engine
    return port


def quotes_of(request: Request) -> QuotePort:
    port: QuotePort = request.app.state.quotes
    return port


def database_of(request: Request) -> AsyncEngine:
    db: AsyncEngine = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def mailer_of(request: Request) -> Mailer:
    mailer: Mailer = request.app.state.mailer
    return mailer


def links_of(request: Request) -> LinkTokens:
    links: LinkTokens = request.app.state.links
    return links


def session_tokens_of(request: Request) -> SessionTokens:
    tokens: SessionTokens = request.app.state.sessions
    return tokens


def session_store_of(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.session_store
    return store


def health_of(request: Request) -> HealthMonitor:
    monitor: HealthMonitor = request.app.state.health
    return monitor


def metrics_of(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def optional_session(request: Request) -> Session | None:
    """The open session a request proves, or None: no token, a bad or expired one, or a
    session that was signed out. (A stalled session store raises: 503, not 401.)"""
    token, _ = bearer_or_cookie(request.scope["headers"])
    if token is None:
        return None
    session = session_tokens_of(request).verify(token)
    if session is None:
        return None
    return session if await session_store_of(request).alive(session) else None


async def current_session(request: Request) -> Session:
    token, _ = bearer_or_cookie(request.scope["headers"])
    if token is None:
        raise ApiError(401, "sign in first: no authToken cookie or Bearer token", "UNAUTHENTICATED")
    session = session_tokens_of(request).verify(token)
    if session is None:
        raise ApiError(401, "the session token is invalid or expired", "UNAUTHENTICATED")
    if not await session_store_of(request).alive(session):
        raise ApiError(401, "this session has been signed out; sign in again", "UNAUTHENTICATED")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
OptionalSessionDep = Annotated[Session | None, Depends(optional_session)]
