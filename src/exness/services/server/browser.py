"""What keeps a browser from being turned against its own trader.

- `OriginCheckMiddleware`: a state-changing request authenticated by the session cookie is
  refused (403) when its `Origin` is not the platform's own (BACKEND_URL, or the origin the
  request itself was sent to: its scheme and Host, so http://localhost:8002 and
  http://127.0.0.1:8002 both work) or FRONTEND_URL. A page of another site cannot make its
  Origin match the Host it sends to and carry our cookie at once: the cookie belongs to the
  host the browser is talking to.
  SameSite=Lax keeps the cookie off cross-site POSTs in current browsers; this also covers
  older ones, sibling subdomains (same site, other origin) and "simple" text/plain posts.
  Requests without an Origin (curl, SDKs) and Bearer requests (a page cannot add that
  header cross-origin without CORS's consent) are not affected.
- `SecurityHeadersMiddleware`: `X-Content-Type-Options: nosniff` and `Cache-Control:
  no-store` on the API's answers (not on static assets, which want long caching), and HSTS
  on every answer when the platform is served over https.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exness.services.server.auth import bearer_or_cookie
from exness.services.server.errors import failure

__all__ = ["API_PATHS", "OriginCheckMiddleware", "SecurityHeadersMiddleware"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The answers that get nosniff and no-store: the API, operators' routes and the API docs.
API_PATHS = ("/api/", "/health", "/metrics", "/docs", "/redoc", "/openapi.json")
HSTS = b"max-age=31536000"


class OriginCheckMiddleware:
    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(origin.encode() for origin in allowed_origins)

    def _refused(self, scope: Scope) -> bool:
        if scope["method"] in SAFE_METHODS:
            return False
        origin = fetch_site = host = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"sec-fetch-site":
                fetch_site = value
            elif name == b"host":
                host = value
        if origin is None and fetch_site != b"cross-site":
            return False
        _, from_cookie = bearer_or_cookie(scope["headers"])
        if not from_cookie:
            return False
        if origin in self.allowed:
            return False
        # the page came from the very origin it posts to ("null": sandboxed pages, files)
        return host is None or origin != scope["scheme"].encode() + b"://" + host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._refused(scope):
            response = failure(
                403,
                "a cookie-authenticated request from another site's page is refused",
                "CROSS_ORIGIN",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Adds the headers to a response that has not set them itself (a route may choose its
    own Cache-Control)."""

    def __init__(self, app: ASGIApp, hsts: bool, paths: tuple[str, ...] = API_PATHS) -> None:
        self.app = app
        self.hsts = hsts
        self.paths = paths
        hsts_header = [(b"strict-transport-security", HSTS)] if hsts else []
        self._api_headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            *hsts_header,
        ]
        self._hsts_only = hsts_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith(self.paths)
        if not api and not self.hsts:
            await self.app(scope, receive, send)
            return

        extra = self._api_headers if api else self._hsts_only

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name for name, _ in headers}
                missing = [header for header in extra if header[0] not in present]
                if missing:
                    message = {**message, "headers": [*headers, *missing]}
            await send(message)

        await self.app(scope, receive, with_headers)
