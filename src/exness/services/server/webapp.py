"""The web terminal (SPEC §9): the built app in `web/dist`, served at `/`, same origin as the API.

It answers only what no API route matched (it is the router's fallback, so a wrong method on
an API route is still 405): hashed files under `/assets/` are cached for good, `index.html`
is revalidated every time, and a path that looks like a page (`/dashboard`, `/history`,
`/signin`: no file extension) gets `index.html` for the app's own router. API paths keep
their JSON 404. Without a build, a page says how to make one; never a 500.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["default_dist", "install_web_app"]

# Paths that belong to the API: never the app's pages, whatever is missing.
API_PREFIXES = ("/api", "/health", "/metrics", "/docs", "/redoc", "/openapi.json")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The app loads only its own files; it talks to its own origin (the API and its WebSocket).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Web terminal not built</title></head>
<body><h1>The web terminal is not built</h1>
<p>No build was found at <code>{dist}</code>. Build it with <code>make web</code> (or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>), or point <code>WEB_DIST</code>
at a build. <code>make run</code> builds it by itself.</p>
<p>The API is up: <a href="/docs">/docs</a>.</p></body></html>
"""


def default_dist() -> Path:
    """`web/dist` of the repository this package runs from (it is installed editable)."""
    return Path(__file__).resolve().parents[4] / "web" / "dist"


def is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in API_PREFIXES)


def looks_like_page(path: str) -> bool:
    """`/dashboard` or `/history/` is a page of the app; `/favicon.ico` is a file."""
    return "." not in path.rstrip("/").rsplit("/", 1)[-1]


class WebApp:
    """The router's fallback: files of `dist`, or `index.html` for the app's routes."""

    def __init__(self, dist: Path, not_found: ASGIApp) -> None:
        self.dist = dist
        self.not_found = not_found
        # check_dir=False: the build may appear (or be rebuilt) while the server runs.
        self.files = StaticFiles(directory=dist, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "/")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or is_api_path(path):
            await self.not_found(scope, receive, send)
            return
        response = await self._respond(path, scope)
        await response(scope, receive, send)

    async def _respond(self, path: str, scope: Scope) -> Response:
        index = self.dist / "index.html"
        if not index.is_file():
            if looks_like_page(path):
                return HTMLResponse(
                    NOT_BUILT.format(dist=escape(str(self.dist))),
                    status_code=503,
                    headers={"Cache-Control": REVALIDATE},
                )
            raise HTTPException(404, "Not Found")
        relative = path.lstrip("/")
        if relative and not looks_like_page(path):
            response = await self.files.get_response(relative, scope)  # 404 when missing
            hashed = relative.startswith("assets/")
            response.headers["Cache-Control"] = IMMUTABLE if hashed else REVALIDATE
            return response
        response = await self.files.get_response("index.html", scope)
        response.headers["Cache-Control"] = REVALIDATE
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_web_app(app: FastAPI, dist: Path | None) -> None:
    """Serve the web terminal from `dist` (default: the repository's `web/dist`) wherever
    no route matched. Call it after every API router is included."""
    router = app.router
    router.default = WebApp(dist or default_dist(), not_found=router.not_found)
