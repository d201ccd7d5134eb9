"""The HTTP connection: uvicorn's httptools protocol, with the limits a server facing the
internet needs and that uvicorn does not enforce with httptools (its header-size option is
for h11 only, and a connection that never finishes its request is never timed out):

- the request head (request line and headers) is at most SERVER_MAX_HEADER_BYTES: past
  that, 431 and the connection closed, before the rest is read, so a huge header costs
  no memory;
- the head must arrive within SERVER_HEADER_TIMEOUT_S (of the connection opening, or of a
  later request's first byte) and the body within SERVER_BODY_TIMEOUT_S of the head: a
  slow sender gets 408 and is dropped; a new connection that sends nothing is closed;
- at most SERVER_MAX_CONNECTIONS connections per server process, and at most
  SERVER_MAX_CONNECTIONS_PER_IP from one peer address (trusted proxies exempt): past
  that, a new connection is answered 503 with Retry-After and closed.

A refusal is written, then the connection is half-closed and what the client still sends
is read and dropped for a moment (LINGER_S, at most DRAIN_BYTES): closing a socket with
unread data would send a reset, and the client might never read the answer.

The checks cost a request nothing when it arrives whole in one read: no timer is armed
unless a head or a body is left incomplete.

An answer leaves in one write: uvicorn writes a response's head and its body separately,
which is two system calls and two TCP segments (the socket has TCP_NODELAY), and so often
two wake-ups of the client. `JoinedWrites` holds the head until the body follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, cast

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from exness.log import get_logger
from exness.services.server.clientip import TrustedProxies
from exness.services.server.responses import dumps
from exness.settings import Settings, get_settings

__all__ = ["GuardedHttpToolsProtocol", "ServerLimits", "raise_open_files_limit"]

log = get_logger(__name__)

LINGER_S = 1.0
DRAIN_BYTES = 1024 * 1024
FD_RESERVE = 512  # descriptors kept for Redis, PostgreSQL, logs and lingering refusals


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_connections: int = 4096
    max_connections_per_ip: int = 256  # 0: no per-address cap
    max_head_bytes: int = 16 * 1024
    head_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    proxies: TrustedProxies = field(default_factory=lambda: TrustedProxies(()))

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerLimits:
        return cls(
            max_connections=settings.server_max_connections,
            max_connections_per_ip=settings.server_max_connections_per_ip,
            max_head_bytes=settings.server_max_header_bytes,
            head_timeout_s=settings.server_header_timeout_s,
            body_timeout_s=settings.server_body_timeout_s,
            proxies=TrustedProxies(settings.trusted_proxies()),
        )


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to the hard one (children inherit it);
    the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def _answer(status: int, phrase: str, message: str, code: str, retry_after: int | None) -> bytes:
    body = dumps({"success": False, "message": message, "code": code})
    head = [
        f"HTTP/1.1 {status} {phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        "x-content-type-options: nosniff",
        "cache-control: no-store",
    ]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class JoinedWrites:
    """One response's view of its connection: the first write (the head) is held and sent
    with the next (the body) as one; whatever is held still leaves at the end of this turn
    of the event loop (a head whose body comes later, a HEAD request's) or before a close.
    Everything else is the connection's own transport."""

    __slots__ = ("_held", "_loop", "_started", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self.transport.write(held + data)
        elif not self._started:
            self._started = True
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self.transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self.transport.is_closing():
                self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's HttpToolsProtocol with the limits above. Pass the class (or its import
    path) as uvicorn's `http`; it reads its limits from the settings once per process, or
    from `configure()`."""

    limits: ClassVar[ServerLimits | None] = None
    _per_ip: ClassVar[Counter[str]] = Counter()

    @classmethod
    def configure(cls, limits: ServerLimits) -> ServerLimits:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft != resource.RLIM_INFINITY and limits.max_connections > soft - FD_RESERVE:
            capped = max(16, soft - FD_RESERVE)
            log.warning(
                "SERVER_MAX_CONNECTIONS lowered to fit the open-files limit",
                configured=limits.max_connections,
                used=capped,
                open_files_limit=soft,
            )
            limits = replace(limits, max_connections=capped)
        cls.limits = limits
        return limits

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        cls = type(self)
        self.guard = cls.limits or cls.configure(ServerLimits.from_settings(get_settings()))
        self._phase = "idle"  # "head": reading a head; "body": its body; "idle": neither
        self._head_bytes = 0
        self._tail = b""  # the last bytes of the head so far: its end may straddle two reads
        self._timer: asyncio.TimerHandle | None = None
        self._counted_ip: str | None = None
        self._refused = False
        self._drained = 0

    # ---- connections ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) and peer else None
        limits = self.guard
        if len(self.connections) >= limits.max_connections:
            self.transport = transport
            self._refuse(503, "the server is at its connection limit; retry shortly", "BUSY", 1)
            return
        per_ip = limits.max_connections_per_ip
        if host is not None and per_ip and not limits.proxies.trusts(host):
            if self._per_ip[host] >= per_ip:
                self.transport = transport
                self._refuse(
                    503,
                    f"too many connections from your address (at most {per_ip}); retry shortly",
                    "TOO_MANY_CONNECTIONS",
                    1,
                )
                return
            self._per_ip[host] += 1
            self._counted_ip = host
        super().connection_made(transport)
        self._arm(limits.head_timeout_s)  # a connection that sends nothing is closed

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release_ip()
        super().connection_lost(exc)

    def _release_ip(self) -> None:
        if self._counted_ip is not None:
            self._per_ip[self._counted_ip] -= 1
            if self._per_ip[self._counted_ip] <= 0:
                del self._per_ip[self._counted_ip]
            self._counted_ip = None

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        # (uvicorn's hook for every request, pipelined ones included)
        cycle.transport = cast(asyncio.Transport, JoinedWrites(self.transport, self.loop))
        super()._start_asgi_task(cycle, app)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over: its limits are its own.
        self._disarm()
        self._release_ip()
        super().handle_websocket_upgrade()

    # ---- reading ----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._drained += len(data)
            if self._drained > DRAIN_BYTES:
                self.transport.close()
            return
        if self._phase != "body":  # a head, or the first bytes of the next request
            allowance = self.guard.max_head_bytes - self._head_bytes
            if len(data) > allowance and b"\r\n\r\n" not in self._tail + data[: max(allowance, 0)]:
                kb = self.guard.max_head_bytes // 1024
                self._refuse(
                    431, f"the request head is over {kb} KB", "REQUEST_HEADERS_TOO_LARGE", None
                )
                return
            self._head_bytes += len(data)
            self._tail = (self._tail + data[-3:])[-3:]
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        if self._phase == "head" and self._timer is None:
            self._arm(self.guard.head_timeout_s)
        elif self._phase == "body" and self._timer is None:
            self._arm(self.guard.body_timeout_s)

    def eof_received(self) -> None:
        if self._refused:  # the client read the refusal and closed its side
            self.transport.close()

    def on_message_begin(self) -> None:
        self._phase = "head"
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._phase = "body"
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = "idle"
        self._head_bytes = 0
        self._tail = b""
        self._disarm()
        super().on_message_complete()

    # ---- deadlines and refusals -------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._deadline_passed)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _deadline_passed(self) -> None:
        self._timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._phase == "idle" and self._head_bytes == 0:
            if self.cycle is None:  # a new connection that never sent a byte
                self.transport.close()
            return
        what = "body" if self._phase == "body" else "request head"
        self._refuse(408, f"the {what} did not arrive in time", "REQUEST_TIMEOUT", None)

    def _refuse(self, status: int, message: str, code: str, retry_after: int | None) -> None:
        """Answer `status` and end the connection (after a short drain)."""
        self._refused = True
        self._disarm()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:  # an answer is on its way: no other can be written
                self.transport.close()
                return
            cycle.disconnected = True  # the app sees a disconnect; its answer goes nowhere
            cycle.message_event.set()
        phrases = {408: "Request Timeout", 431: "Request Header Fields Too Large"}
        phrase = phrases.get(status, "Service Unavailable")
        self.transport.write(_answer(status, phrase, message, code, retry_after))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        with contextlib.suppress(RuntimeError, AttributeError):  # not paused, or closing
            self.transport.resume_reading()
        self.loop.call_later(LINGER_S, self.transport.close)
