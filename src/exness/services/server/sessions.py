"""Open sessions, so that signing out ends a session at once on every server process.

Every session JWT names its session (`jti`). Signing in records it in Redis
(`session:<id>` = the trader's id, expiring with the token, and the trader's sorted set
`sessions:<trader>`, for "sign out everywhere"); signing out deletes it.

Asking Redis on every request would cost each request a round trip. Instead each process
remembers the sessions it has seen open, and forgets them when told. A sign-out deletes the
session and, in the same Lua script, publishes its id on `session_events`; every process
drops it and acknowledges on the same channel, and the sign-out answers once every process
that received the message has acknowledged (or after ACK_WAIT_S).

A process trusts its memory only while its subscription is provably current. It pings over
the subscription every PING_S and uses the memory only within LIVE_S of the last pong: Redis
answers the ping on the same connection, after every message published before it, so a pong
means every earlier revocation has been applied. A process that was frozen, lost its
connection or fell behind asks Redis instead; a new subscription starts with an empty
memory. So if a process has not acknowledged within ACK_WAIT_S (> LIVE_S), its memory has
lapsed: when the sign-out answers, no process can still accept the session.

What a process holds open on a session's word, its live sockets (SPEC §8), hears of each
revocation too (`on_revoked`): a `Revocation` names the session, or the trader whose sessions
all ended, or nothing (the subscription was renewed: any may have ended meanwhile, so check).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from exness.adapters import keys
from exness.backoff import Backoff
from exness.log import get_logger
from exness.services.server.auth import Session

__all__ = [
    "MemorySessionStore",
    "RedisSessionStore",
    "Revocation",
    "RevocationListener",
    "SessionStore",
]

log = get_logger(__name__)

PING_S = 0.5
LIVE_S = 2.0
SILENT_S = 5.0  # a subscription without a pong for this long is replaced
ACK_WAIT_S = 3.0
REMEMBERED = 200_000  # sessions a process remembers at most (then it starts afresh)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Revocation:
    """Sessions that ended: one (`session_id`), a trader's all (`user_id`), or, with
    neither, possibly any (revocations may have been missed)."""

    session_id: str | None = None
    user_id: str | None = None

    def ends(self, session: Session) -> bool | None:
        """Whether `session` ended; None: unknown, ask the store."""
        if self.session_id is not None:
            return session.session_id == self.session_id
        if self.user_id is not None:
            return session.user_id == self.user_id
        return None


RevocationListener = Callable[[Revocation], None]


class _Listeners:
    """Who is told of revocations in this process (synchronously, in the order added)."""

    def __init__(self) -> None:
        self._listeners: list[RevocationListener] = []

    def on_revoked(self, listener: RevocationListener) -> Callable[[], None]:
        """Tell `listener` of every revocation heard from now on; returns its removal."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _tell(self, revocation: Revocation) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(revocation)
            except Exception as error:  # one listener's bug must not stop a sign-out
                log.exception("a revocation listener failed", error=repr(error))


class SessionStore(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def open(self, session: Session) -> None:
        """Record a new session (before its token is handed out)."""

    async def alive(self, session: Session) -> bool:
        """Whether the session is open: not signed out, not expired."""

    async def revoke(self, session: Session) -> None:
        """End one session, on every server process, before returning."""

    async def revoke_all(self, user_id: str) -> int:
        """End every session of a trader; how many there were."""

    def on_revoked(self, listener: RevocationListener) -> Callable[[], None]:
        """Tell `listener` of every revocation this process hears; returns its removal."""


class MemorySessionStore(_Listeners):
    """Sessions in this process's memory: for in-process tests and a single process."""

    def __init__(self) -> None:
        super().__init__()
        self._open: dict[str, Session] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def open(self, session: Session) -> None:
        self._open[session.session_id] = session

    async def alive(self, session: Session) -> bool:
        known = self._open.get(session.session_id)
        return known is not None and known.user_id == session.user_id

    async def revoke(self, session: Session) -> None:
        self._open.pop(session.session_id, None)
        self._tell(Revocation(session_id=session.session_id))

    async def revoke_all(self, user_id: str) -> int:
        ended = [key for key, session in self._open.items() if session.user_id == user_id]
        for key in ended:
            del self._open[key]
        self._tell(Revocation(user_id=user_id))
        return len(ended)


# KEYS: session:<id>, sessions:<trader>. ARGV: trader id, session id, expiry (epoch s).
_OPEN = """
local t = redis.call('TIME')
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', t[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[2], last[2])
"""

# KEYS: session:<id>, sessions:<trader>. ARGV: session id, channel, message.
# Returns how many processes received the message.
_REVOKE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('PUBLISH', ARGV[2], ARGV[3])
"""

# KEYS: sessions:<trader>. ARGV: the session key prefix, channel, message.
# Returns {sessions ended, processes that received the message}. (The session keys are
# derived here, so this script wants a single Redis, not a cluster.)
_REVOKE_ALL = """
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. id)
end
redis.call('DEL', KEYS[1])
return {#ids, redis.call('PUBLISH', ARGV[2], ARGV[3])}
"""


class _Acks:
    """Acknowledgements of one revocation, counted from the first (they may arrive before
    the publisher learns how many to expect)."""

    def __init__(self) -> None:
        self.received = 0
        self.expected: int | None = None
        self.done = asyncio.Event()

    def count(self) -> None:
        self.received += 1
        self._check()

    def expect(self, receivers: int) -> None:
        self.expected = receivers
        self._check()

    def _check(self) -> None:
        if self.expected is not None and self.received >= self.expected:
            self.done.set()


class RedisSessionStore(_Listeners):
    """The session store in Redis, shared by every server process, with the per-process
    memory and invalidation described in the module docstring."""

    def __init__(self, client: aioredis.Redis, url: str, timeout_s: float = 3.0) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._timeout_s = timeout_s
        self._open_script = client.register_script(_OPEN)
        self._revoke_script = client.register_script(_REVOKE)
        self._revoke_all_script = client.register_script(_REVOKE_ALL)
        # session id -> trader id, for sessions confirmed open since the subscription began
        self._known: dict[str, str] = {}
        self._by_trader: dict[str, set[str]] = {}
        self._live_until = 0.0  # monotonic: the memory may be used before this
        self._heard_at = 0.0  # monotonic: the last pong
        self._epoch = 0  # counts revocations heard and resubscriptions
        self._acks: dict[str, _Acks] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.lookups = 0  # alive() answers that needed Redis (for tests and metrics)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="session-events")

    async def stop(self) -> None:
        for task in [self._listener, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ---- the store --------------------------------------------------------------------------

    async def _bounded(self, call: Awaitable[T]) -> T:
        """A Redis call on a request path: at most STORE_TIMEOUT_S, whatever redis-py's own
        retries would add (TimeoutError, answered 503)."""
        return await asyncio.wait_for(call, self._timeout_s)

    async def open(self, session: Session) -> None:
        await self._bounded(
            self._open_script(
                keys=[
                    keys.SESSION_PREFIX + session.session_id,
                    keys.TRADER_SESSIONS_PREFIX + session.user_id,
                ],
                args=[session.user_id, session.session_id, session.expires_at],
            )
        )

    async def alive(self, session: Session) -> bool:
        if self._known.get(session.session_id) == session.user_id and (
            time.monotonic() < self._live_until
        ):
            return True
        epoch = self._epoch
        self.lookups += 1
        owner = await self._bounded(self._client.get(keys.SESSION_PREFIX + session.session_id))
        if owner != session.user_id.encode():
            return False
        # Remember it only if nothing was revoked meanwhile: the revocation might be of this
        # session, heard before Redis answered.
        if epoch == self._epoch and time.monotonic() < self._live_until:
            self._remember(session)
        return True

    async def revoke(self, session: Session) -> None:
        await self._revoked(
            lambda message: self._revoke_script(
                keys=[
                    keys.SESSION_PREFIX + session.session_id,
                    keys.TRADER_SESSIONS_PREFIX + session.user_id,
                ],
                args=[session.session_id, keys.SESSION_EVENTS, message],
            ),
            f"s:{session.session_id}",
        )

    async def revoke_all(self, user_id: str) -> int:
        ended: list[int] = []

        async def script(message: str) -> int:
            count, receivers = await self._revoke_all_script(
                keys=[keys.TRADER_SESSIONS_PREFIX + user_id],
                args=[keys.SESSION_PREFIX, keys.SESSION_EVENTS, message],
            )
            ended.append(int(count))
            return int(receivers)

        await self._revoked(script, f"t:{user_id}")
        return ended[0]

    async def _revoked(self, script: Callable[[str], Awaitable[Any]], what: str) -> None:
        """Run a revoking script that publishes `<id> <what>`, then wait for every process
        that received it to acknowledge (at most ACK_WAIT_S)."""
        revocation = secrets.token_hex(8)
        acks = self._acks[revocation] = _Acks()
        try:
            receivers = await self._bounded(script(f"{revocation} {what}"))
            acks.expect(int(receivers))
            try:
                await asyncio.wait_for(acks.done.wait(), ACK_WAIT_S)
            except TimeoutError:
                log.warning(
                    "a server process did not acknowledge a sign-out",
                    expected=receivers,
                    received=acks.received,
                )
        finally:
            del self._acks[revocation]

    # ---- the memory -------------------------------------------------------------------------

    def _remember(self, session: Session) -> None:
        if len(self._known) >= REMEMBERED:
            self._forget_all()
        self._known[session.session_id] = session.user_id
        self._by_trader.setdefault(session.user_id, set()).add(session.session_id)

    def _forget(self, session_id: str) -> None:
        user_id = self._known.pop(session_id, None)
        if user_id is not None:
            ids = self._by_trader.get(user_id)
            if ids is not None:
                ids.discard(session_id)
                if not ids:
                    del self._by_trader[user_id]

    def _forget_trader(self, user_id: str) -> None:
        for session_id in self._by_trader.pop(user_id, set()):
            self._known.pop(session_id, None)

    def _forget_all(self) -> None:
        self._known.clear()
        self._by_trader.clear()

    def _heard(self, data: bytes) -> None:
        revocation, _, what = data.decode(errors="replace").partition(" ")
        kind, _, subject = what.partition(":")
        if kind == "a":  # an acknowledgement of `subject`
            acks = self._acks.get(subject)
            if acks is not None:
                acks.count()
            return
        if kind not in ("s", "t"):
            return
        self._epoch += 1
        if kind == "s":
            self._forget(subject)
            self._tell(Revocation(session_id=subject))
        else:
            self._forget_trader(subject)
            self._tell(Revocation(user_id=subject))
        self._spawn(self._acknowledge(revocation))

    async def _acknowledge(self, revocation: str) -> None:
        try:
            await self._bounded(
                self._client.publish(keys.SESSION_EVENTS, f"{revocation} a:{revocation}")
            )
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("could not acknowledge a sign-out", error=repr(error))

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ping(self, pubsub: aioredis.client.PubSub) -> None:
        """Keep pinging (the listener reads the pongs, which keep the memory usable); give
        the subscription up when it has been silent for SILENT_S, so a connection that died
        without a word is replaced rather than waited on."""
        while True:
            try:
                await pubsub.ping()
            except (RedisError, OSError) as error:
                log.warning("session events: ping failed", error=repr(error))
            await asyncio.sleep(PING_S)
            if time.monotonic() - self._heard_at > SILENT_S:
                raise ConnectionError(f"no pong on the session events for {SILENT_S:g} s")

    async def _read(self, pubsub: aioredis.client.PubSub) -> None:
        async for message in pubsub.listen():
            kind = message["type"]
            if kind == "message":
                self._heard(message["data"])
            elif kind == "pong":
                self._heard_at = time.monotonic()
                self._live_until = self._heard_at + LIVE_S
            elif kind == "subscribe":
                # A new subscription (redis-py also resubscribes by itself after a reconnect):
                # revocations may have been missed before it.
                self._epoch += 1
                self._live_until = 0.0
                self._forget_all()
                self._tell(Revocation())

    async def _listen(self) -> None:
        backoff = Backoff(initial=0.05, maximum=1.0)
        while True:
            client = aioredis.Redis.from_url(self._url, socket_connect_timeout=self._timeout_s)
            tasks: list[asyncio.Task[None]] = []
            try:
                async with client.pubsub() as pubsub:
                    await asyncio.wait_for(pubsub.subscribe(keys.SESSION_EVENTS), self._timeout_s)
                    self._heard_at = time.monotonic()
                    tasks = [
                        asyncio.create_task(self._read(pubsub), name="session-events-read"),
                        asyncio.create_task(self._ping(pubsub), name="session-events-ping"),
                    ]
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()  # raises what ended it
                    backoff.reset()
            except (RedisError, OSError) as error:  # TimeoutError and ConnectionError too
                log.warning("session events lost; reconnecting", error=repr(error))
                await asyncio.sleep(backoff.next_delay())
            finally:
                self._live_until = 0.0
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                        await task
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
