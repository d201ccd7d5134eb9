"""The live updates of one server process (SPEC §8): who follows what, and the fan-out.

The process holds one pub/sub subscription (adapters/events.py) to the engine's quotes and
the traders' events, whatever the number of sockets. What arrives is put into the outboxes
of the sockets that follow it, synchronously and without waiting on any of them: a quote
replaces the one not yet sent (coalescing), a private message is queued in order. Then, once
per turn of the event loop (so messages that arrive together leave together, in one write
per socket), the hub writes what is ready to each socket whose transport takes it now, and
wakes the sender task of each socket that must wait; a slow socket only ever fills its own
outbox. Any process can serve any trader: every process hears every trader's events and
keeps those of the traders it has sockets for.

A socket lives on its session's word: when the session is signed out (on whichever process),
the session store tells every process (`on_revoked`) and the hub closes that session's
sockets (1008, "signed out") before the process acknowledges the sign-out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from exness.adapters.events import EventLog, LiveSubscriber
from exness.adapters.redis import connect
from exness.codec import CodecError
from exness.codec.events import decode_live_batch, quote_message, trader_seq
from exness.codec.prices import decode_asset_quote
from exness.log import get_logger
from exness.services.server.live.candles import CandleBook
from exness.services.server.live.connection import POLICY, LiveConnection
from exness.services.server.sessions import Revocation, SessionStore
from exness.settings import Settings

__all__ = ["LiveHub", "LiveLimits", "live_updates"]

log = get_logger(__name__)

GOING_AWAY = 1001
SIGNED_OUT = "signed out: sign in again"


@dataclass(frozen=True, slots=True)
class LiveLimits:
    max_connections: int = 10_000  # per process
    slow_after_s: float = 10.0  # a socket whose oldest private message waited this long is slow
    max_private: int = 10_000  # ... or with this many waiting (a memory bound, above bursts)
    quote_interval_s: float = 0.1  # at most one quote per asset (and candle per channel) per
    frames_burst: int = 50  # frames a client may send at once ...
    frames_per_s: float = 20.0  # ... and on average
    bad_frames_burst: int = 10  # bad frames answered with an error before the socket is closed
    bad_frames_per_s: float = 1.0
    close_timeout_s: float = 2.0  # to send a close frame to a peer that does not read


class LiveHub:
    def __init__(
        self,
        log_: EventLog,
        candles: CandleBook,
        limits: LiveLimits,
        sessions: SessionStore | None = None,
    ) -> None:
        self.log = log_
        self.candles = candles
        self.limits = limits
        self.sessions = sessions
        self.revocations = 0  # heard so far: a session checked before one may have ended
        self._checks: set[asyncio.Task[None]] = set()
        self.connections: set[LiveConnection] = set()
        self._quotes: set[LiveConnection] = set()
        self._accounts: dict[str, set[LiveConnection]] = {}
        # asset -> its newest quote message and the feed's time of it (s)
        self.latest_quotes: dict[str, tuple[str, float]] = {}
        self._to_flush: dict[LiveConnection, None] = {}  # in the order they were queued for
        self._flush_handle: asyncio.Handle | None = None

    @property
    def full(self) -> bool:
        return len(self.connections) >= self.limits.max_connections

    # ---- from the subscription -----------------------------------------------------------

    def on_quote(self, raw: bytes) -> None:
        try:
            asset, quote = decode_asset_quote(raw)
            message = quote_message(asset, quote)
        except (CodecError, KeyError):
            return
        at = quote.ts / 1e6  # the feed's time: the clock of the rate per asset (Outbox)
        self.latest_quotes[asset] = (message, at)
        key = f"quotes:{asset}"
        for connection in tuple(self._quotes):  # one found too slow leaves the set
            connection.coalesce(key, message, at)

    def on_events(self, raw: bytes) -> None:
        accounts = self._accounts
        if not accounts:  # no socket here follows an account: nothing to read
            return
        for trader, message in decode_live_batch(raw):
            followers = accounts.get(trader)
            if followers:
                seq = trader_seq(message)
                for connection in tuple(followers):
                    connection.private(seq, message)

    def flush_soon(self, connection: LiveConnection) -> None:
        """`connection` has data ready: send it at the end of this turn of the loop (or
        at once, when the subscription's read is done: `flush_now`)."""
        self._to_flush[connection] = None
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def flush_now(self) -> None:
        """Send what is ready on every socket now (after a read of the subscription: what
        it brought goes out without waiting for the loop's other work)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()

    def _flush(self) -> None:
        self._flush_handle = None
        connections, self._to_flush = self._to_flush, {}
        for connection in connections:
            connection.flush()

    def on_revoked(self, revocation: Revocation) -> None:
        """Close the sockets of sessions signed out; when any may have been, check each."""
        self.revocations += 1
        unknown = []
        for connection in tuple(self.connections):
            session = connection.session
            if session is None:
                continue
            ended = revocation.ends(session)
            if ended:
                connection.close(POLICY, SIGNED_OUT)
            elif ended is None:
                unknown.append(connection)
        if unknown:
            self.check_sessions(unknown)

    def check_sessions(self, connections: list[LiveConnection]) -> None:
        """Ask the store whether these sockets' sessions are still open; close those not."""
        if self.sessions is None:
            return
        task = asyncio.create_task(self._check(connections, self.sessions), name="live-sessions")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    @staticmethod
    async def _check(connections: list[LiveConnection], sessions: SessionStore) -> None:
        alive: dict[str, bool] = {}
        for connection in connections:
            session = connection.session
            if session is None:
                continue
            try:
                if session.session_id not in alive:
                    alive[session.session_id] = await sessions.alive(session)
            except Exception as error:  # the store unreachable: checked again on resubscribing
                log.warning("live sessions not checked", error=repr(error))
                return
            if not alive[session.session_id]:
                connection.close(POLICY, SIGNED_OUT)

    async def on_subscribed(self) -> None:
        """(Re)subscribed: what was published while away is in the logs."""
        for followers in self._accounts.values():
            for connection in followers:
                connection.catch_up()

    # ---- from the sockets ----------------------------------------------------------------

    def join_quotes(self, connection: LiveConnection) -> None:
        self._quotes.add(connection)
        for asset, (message, at) in self.latest_quotes.items():
            connection.coalesce(f"quotes:{asset}", message, at)

    def leave_quotes(self, connection: LiveConnection) -> None:
        self._quotes.discard(connection)

    def join_account(self, connection: LiveConnection) -> None:
        trader = connection.trader
        assert trader is not None
        self._accounts.setdefault(trader, set()).add(connection)

    def leave_account(self, connection: LiveConnection) -> None:
        trader = connection.trader
        if trader is None:
            return
        followers = self._accounts.get(trader)
        if followers is not None:
            followers.discard(connection)
            if not followers:
                del self._accounts[trader]

    def leave(self, connection: LiveConnection) -> None:
        self.connections.discard(connection)
        self.leave_quotes(connection)
        self.leave_account(connection)
        self.candles.leave_all(connection)

    def close_all(self, code: int = GOING_AWAY, reason: str = "the server is stopping") -> None:
        for connection in list(self.connections):
            connection.close(code, reason)


@contextlib.asynccontextmanager
async def live_updates(
    settings: Settings, redis_url: str, db: AsyncEngine | None, sessions: SessionStore | None
) -> AsyncIterator[LiveHub]:
    """The process's hub, subscribed to the engine's events (and told of sign-outs by
    `sessions`) until the block ends."""
    client = connect(redis_url, max_connections=64)
    limits = LiveLimits(
        max_connections=settings.ws_max_connections,
        max_private=settings.ws_max_pending,
        slow_after_s=settings.ws_slow_after_s,
    )
    hub = LiveHub(EventLog(client), CandleBook(redis_url, client, db), limits, sessions)
    subscriber = LiveSubscriber(
        redis_url, hub.on_quote, hub.on_events, hub.on_subscribed, on_batch=hub.flush_now
    )
    stop_listening = None if sessions is None else sessions.on_revoked(hub.on_revoked)
    await subscriber.start()
    try:
        yield hub
    finally:
        if stop_listening is not None:
            stop_listening()
        hub.close_all()
        await subscriber.stop()
        await hub.candles.stop()
        await client.aclose()
