"""`Idempotency-Key` on the routes that change trading state (SPEC §7.5).

A POST to one of IDEMPOTENT_PATHS with the header is answered at most once per trader and
key: the first answer worth keeping (every one but a 5xx) is kept 24 h and given back to
every retry with the same body, with `Idempotent-Replayed: true`; a retry with another body
is 422; a retry while the first attempt is still being answered is 409 (try again). The
record lives in Redis (adapters/idempotency.py), shared by every server process.

Every attempt of a key sends the engine the same request id (engine_request_id), so the
engine's dedupe by request id guarantees the command is applied at most once, whatever
crashes or time-outs happen between attempts; and a retry after a 504 first reads the
engine's outcome of that id, so it answers with what really happened.

Why middleware and not a dependency: the route answers as it always does (its status and
body are what is kept), and a request without the header costs one scan of its headers,
nothing more (a FastAPI dependency costs every request a resolution step).

Not covered, on purpose: `/signup` and `/signin` (no trader yet to scope a key to; a repeat
mails another single-use link, which is harmless) and `/logout` (idempotent by nature). The
header is accepted and ignored there.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass

import orjson
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exness.adapters.engine_port import EnginePort
from exness.adapters.idempotency import (
    Begun,
    IdempotencyStore,
    engine_request_id,
    key_digest,
)
from exness.domain.messages import Command, Reply
from exness.log import get_logger
from exness.services.server.deps import current_session
from exness.services.server.errors import ApiError, failure, rejection_status
from exness.settings import Settings

__all__ = [
    "HEADER",
    "IDEMPOTENT_PATHS",
    "Attempt",
    "IdempotencyMiddleware",
    "attempt_of",
    "deliver",
    "fingerprint",
    "parse_key",
]

log = get_logger(__name__)

HEADER = "Idempotency-Key"
REPLAYED = (b"idempotent-replayed", b"true")
_HEADER = HEADER.lower().encode()
IDEMPOTENT_PATHS = frozenset(
    f"/api/v1{path}" for path in ("/trade/create", "/trade/close", "/trade/modify", "/order/cancel")
)
MAX_KEY = 255
_VALID_KEY = re.compile(rb"[!-~]{1,%d}" % MAX_KEY)
LOCK_MARGIN_S = 2.0  # the lock outlives the engine's time-out by this much
_SCOPE_KEY = "exness.idempotency"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"


@dataclass(slots=True)
class Attempt:
    """One attempt of an idempotent request, as the route sees it."""

    request_id: str  # the engine request id every attempt of this key uses
    outcome: Reply | None = None  # the engine's answer to an earlier attempt, if it had one
    renew: bool = False  # the engine refused the id for good, unapplied: use a new one next


def attempt_of(request: Request) -> Attempt | None:
    """The idempotent attempt a request is, or None (no Idempotency-Key)."""
    attempt: Attempt | None = request.scope.get(_SCOPE_KEY)
    return attempt


async def deliver(engine: EnginePort, command: Command, attempt: Attempt | None) -> Reply:
    """Send `command` (whose request id is the attempt's, if any), unless the engine already
    answered that request id: then that answer is the outcome, and nothing is sent."""
    if attempt is None:
        return await engine.send(command)
    reply = attempt.outcome or await engine.send(command)
    if (
        not reply.ok
        and reply.code != DEADLINE_EXCEEDED  # not remembered: the same id is applied next time
        and rejection_status(reply.code) >= 500  # a 5xx is not kept: the retry must go through
    ):
        attempt.renew = True
    return reply


def parse_key(raw: bytes) -> str | None:
    """The key if it is 1–255 visible ASCII characters (! to ~), else None."""
    return raw.decode("ascii") if _VALID_KEY.fullmatch(raw) else None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body. A JSON body counts by its
    content (key order and spacing aside), so a client that re-serializes is not refused."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise HTTPException(400, "the client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` that hands the app the body already read, then the client's own messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _encode_answer(status: int, body: bytes) -> bytes:
    return b"%d\n" % status + body


def _decode_answer(raw: bytes) -> tuple[int, bytes]:
    status, _, body = raw.partition(b"\n")
    return int(status), body


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] not in IDEMPOTENT_PATHS
        ):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == _HEADER:
                await self._idempotent(value, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _idempotent(self, raw: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        async def answer(status: int, message: str, code: str, **headers: str) -> None:
            await failure(status, message, code, **headers)(scope, receive, send)

        key = parse_key(raw)
        if key is None:
            await answer(
                400,
                f"{HEADER} must be 1 to {MAX_KEY} visible ASCII characters (! to ~)",
                "INVALID_REQUEST",
            )
            return
        try:
            session = await current_session(Request(scope))
        except ApiError:  # no trader, no key scope: the route answers (401)
            await self.app(scope, receive, send)
            return
        except (RedisError, OSError) as error:  # a session store that cannot answer
            log.warning("session store unavailable", error=repr(error))
            await answer(503, "the platform's store is unavailable; retry", "UNAVAILABLE")
            return
        try:
            body = await _read_body(receive)
        except HTTPException as error:  # the body limit (413), or a client gone
            await answer(error.status_code, str(error.detail), "INVALID_REQUEST")
            return
        state = scope["app"].state
        store: IdempotencyStore = state.idempotency
        settings: Settings = state.settings
        digest = key_digest(key)
        try:
            begun = await store.begin(
                session.user_id,
                digest,
                fingerprint(scope["method"], scope["path"], body),
                settings.engine_rpc_timeout_s + LOCK_MARGIN_S,
            )
        except (RedisError, OSError) as error:
            log.warning("idempotency store unavailable", error=repr(error))
            await answer(503, "the platform's store is unavailable; retry", "UNAVAILABLE")
            return
        if begun.state == "replay":
            assert begun.answer is not None
            status, kept = _decode_answer(begun.answer)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(kept)).encode()),
                        REPLAYED,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": kept})
            return
        if begun.state == "mismatch":
            await answer(
                422,
                f"this {HEADER} was already used for a different request (another route or "
                "body); use a new key for a new request",
                "IDEMPOTENCY_KEY_REUSED",
            )
            return
        if begun.state == "busy":
            await answer(
                409,
                f"a request with this {HEADER} is still being answered; retry it in a moment",
                "IDEMPOTENCY_IN_FLIGHT",
                **{"Retry-After": "1"},
            )
            return
        await self._first_answer(begun, session.user_id, digest, body, scope, receive, send)

    async def _first_answer(
        self,
        begun: Begun,
        user_id: str,
        digest: str,
        body: bytes,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """Run the route under the claim; keep its answer (unless a 5xx) before the client
        sees it, so a retry that follows the answer finds it kept."""
        claim = begun.claim
        assert claim is not None
        store: IdempotencyStore = scope["app"].state.idempotency
        attempt = Attempt(engine_request_id(user_id, digest, begun.generation))
        if begun.state == "retry":
            try:
                attempt.outcome = await store.outcome(attempt.request_id)
            except (RedisError, OSError) as error:
                log.warning("idempotency store unavailable", error=repr(error))
                with contextlib.suppress(RedisError, OSError):
                    await store.finish(claim, None, False)
                await failure(503, "the platform's store is unavailable; retry", "UNAVAILABLE")(
                    scope, receive, send
                )
                return
        messages: list[Message] = []
        status = 500
        try:

            async def hold(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                messages.append(message)

            scope[_SCOPE_KEY] = attempt
            await self.app(scope, _replaying(body, receive), hold)
        finally:
            kept = None
            if status < 500:
                kept = _encode_answer(
                    status, b"".join(m.get("body", b"") for m in messages if "body" in m)
                )
            try:
                await store.finish(claim, kept, attempt.renew)
            except (RedisError, OSError) as error:
                # The client still gets its answer; a retry finds the engine's outcome.
                log.warning("idempotency answer not kept", error=repr(error))
        for message in messages:
            await send(message)
