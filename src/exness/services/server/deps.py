"""What a route may ask for (`Annotated[..., Depends]`): one narrow dependency per
collaborator, and the signed-in trader.

The collaborators live on `app.state` (installed by `resources.install`): the engine and
quote ports, the main database, the token issuers, the mailer and the settings. A route
names only what it uses, so a route test supplies only that.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

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
    "DatabaseDep",
    "EngineDep",
    "HealthDep",
    "LinksDep",
    "MailerDep",
    "MetricsDep",
    "OptionalSessionDep",
    "QuotesDep",
    "SessionDep",
    "SessionStoreDep",
    "SessionTokensDep",
    "SettingsDep",
    "current_session",
    "optional_session",
]

# Dependencies are `async def` even without I/O: FastAPI runs a plain `def` dependency in a
# worker thread, and that hop costs more than everything the dependency does. Each reads
# app.state directly rather than through a shared sub-dependency: every level costs a request.


def _from_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that gives the collaborator `resources.install` put on app.state."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"state_{name}"
    return dependency


EngineDep = Annotated[EnginePort, Depends(_from_state("engine"))]
QuotesDep = Annotated[QuotePort, Depends(_from_state("quotes"))]
DatabaseDep = Annotated[AsyncEngine, Depends(_from_state("db"))]
SettingsDep = Annotated[Settings, Depends(_from_state("settings"))]
MailerDep = Annotated[Mailer, Depends(_from_state("mailer"))]
LinksDep = Annotated[LinkTokens, Depends(_from_state("links"))]
SessionTokensDep = Annotated[SessionTokens, Depends(_from_state("sessions"))]
SessionStoreDep = Annotated[SessionStore, Depends(_from_state("session_store"))]
HealthDep = Annotated[HealthMonitor, Depends(_from_state("health"))]
MetricsDep = Annotated[Metrics, Depends(_from_state("metrics"))]


async def optional_session(request: Request) -> Session | None:
    """The open session a request proves, or None: no token, a bad or expired one, or a
    session that was signed out. (A stalled session store raises: 503, not 401.)"""
    token, _ = bearer_or_cookie(request.scope["headers"])
    if token is None:
        return None
    state = request.app.state
    tokens: SessionTokens = state.sessions
    session = tokens.verify(token)
    if session is None:
        return None
    store: SessionStore = state.session_store
    return session if await store.alive(session) else None


async def current_session(request: Request) -> Session:
    token, _ = bearer_or_cookie(request.scope["headers"])
    if token is None:
        raise ApiError(401, "sign in first: no authToken cookie or Bearer token", "UNAUTHENTICATED")
    state = request.app.state
    tokens: SessionTokens = state.sessions
    session = tokens.verify(token)
    if session is None:
        raise ApiError(401, "the session token is invalid or expired", "UNAUTHENTICATED")
    store: SessionStore = state.session_store
    if not await store.alive(session):
        raise ApiError(401, "this session has been signed out; sign in again", "UNAUTHENTICATED")
    return session


SessionDep = Annotated[Session, Depends(current_session)]
OptionalSessionDep = Annotated[Session | None, Depends(optional_session)]
