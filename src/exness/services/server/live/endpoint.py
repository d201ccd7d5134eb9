"""`GET /api/v1/ws` (SPEC §8): the handshake's checks, then the socket's frames to its
LiveConnection.

Handshake: a browser's `Origin` must be the platform's own (BACKEND_URL, or the origin the
socket is opened to: its Host, so http://localhost:8002 and http://127.0.0.1:8002 both work)
or FRONTEND_URL, else 403 — a page elsewhere cannot open a socket that the browser signs in
with the trader's cookie (the cookie is the Host's: a page can't have the Host's origin and
another site's at once). The session is the `authToken` cookie or an `Authorization: Bearer` header,
or comes later in a `{"op":"auth"}` frame; a bad token at the handshake is not refused (the
socket serves public channels and says why a private one is refused).
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from starlette.datastructures import State
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from exness.log import get_logger
from exness.services.server.auth import Session, SessionTokens
from exness.services.server.live.connection import DirectWriter, LiveConnection, SendTexts
from exness.services.server.live.hub import LiveHub
from exness.services.server.live.transport import SEND_MANY
from exness.services.server.responses import ExactJSONResponse
from exness.settings import Settings

__all__ = ["allowed_origins", "live_socket", "origin_of"]

log = get_logger(__name__)

AUTH_COOKIE = "authToken"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL or an Origin header, normalized (lower case, no default
    port); None when it has none (`null`, garbage)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def allowed_origins(settings: Settings) -> frozenset[str]:
    return frozenset(
        origin
        for origin in (origin_of(settings.backend_url), origin_of(settings.frontend_url))
        if origin is not None
    )


def _token(websocket: WebSocket) -> str | None:
    header = websocket.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return websocket.cookies.get(AUTH_COOKIE) or None


async def authenticate(state: State, token: str) -> Session | None:
    """The session a token proves, or None; where a session store is installed, a session
    signed out is refused too."""
    tokens: SessionTokens = state.sessions
    session = tokens.verify(token)
    if session is None:
        return None
    store = getattr(state, "session_store", None)
    if store is not None and not await store.alive(session):
        return None
    return session


async def _refuse(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse the handshake with an HTTP answer (403, 503) that says why."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"success": False, "message": message}
        await websocket.send_denial_response(ExactJSONResponse(body, status_code=status))
    else:  # a server without the extension answers a close before accept with 403
        await websocket.close(code=1008, reason=message)


def _own_origin(origin: str | None, websocket: WebSocket, settings: Settings) -> bool:
    if origin is None:
        return False
    if origin in allowed_origins(settings):
        return True
    host = websocket.headers.get("host")
    scheme = "https" if websocket.url.scheme == "wss" else "http"
    return host is not None and origin == origin_of(f"{scheme}://{host}")


async def live_socket(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app of the route (not a Starlette endpoint function: it keeps the server's
    own `send`, to send ready frames together where the server can, transport.py)."""
    websocket = WebSocket(scope, receive=receive, send=send)
    state = websocket.app.state
    settings: Settings = state.settings
    origin = websocket.headers.get("origin")
    if origin is not None and not _own_origin(origin_of(origin), websocket, settings):
        await _refuse(websocket, 403, "this socket's Origin is not the platform's")
        return
    hub: LiveHub | None = getattr(state, "live", None)
    if hub is None or hub.full:
        await _refuse(websocket, 503, "live updates are not available on this server now")
        return
    token = _token(websocket)
    revocations = hub.revocations
    session = None if token is None else await authenticate(state, token)
    await websocket.accept()

    send_texts: SendTexts
    direct: DirectWriter | None = None
    extension = scope.get("extensions", {}).get(SEND_MANY)
    if extension is not None:
        direct = DirectWriter(extension["ready"], extension["write"])

        async def send_texts(texts: list[str]) -> None:
            await send({"type": SEND_MANY, "texts": texts})

    else:

        async def send_texts(texts: list[str]) -> None:
            for text in texts:
                await send({"type": "websocket.send", "text": text})

    async def close(code: int, reason: str) -> None:
        await websocket.close(code, reason)

    async def check(token: str) -> Session | None:
        return await authenticate(state, token)

    connection = LiveConnection(hub, send_texts, close, check, session, direct)
    connection.start()
    if session is not None and hub.revocations != revocations:  # signed out meanwhile?
        hub.check_sessions([connection])
    closed = asyncio.ensure_future(connection.closed.wait())
    try:
        while True:
            receiving = asyncio.ensure_future(websocket.receive())
            await asyncio.wait((receiving, closed), return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():  # closed by us and the peer does not answer: let it go
                receiving.cancel()
                break
            message = receiving.result()
            kind = message["type"]
            if kind == "websocket.disconnect":
                break
            if kind != "websocket.receive":
                continue
            text = message.get("text")
            if text is not None:
                await connection.receive_text(text)
            else:
                connection.receive_bytes()
    except (WebSocketDisconnect, RuntimeError) as gone:  # the peer went away mid-frame
        log.debug("live socket ended", reason=repr(gone))
    finally:
        closed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await closed
        await connection.finish()
