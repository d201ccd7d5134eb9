"""One live socket (SPEC §8): its requests, its outbox and sender, its private feed.

The socket is reached through two coroutines (`send` text frames, `close` with a code), so
this class knows nothing of Starlette and is tested with fakes. Everything that happens to
other sockets happens through the hub; nothing here ever awaits on another socket's behalf:
the hub only queues into this socket's outbox (`Outbox`, bounded), and this socket's own
sender task is the only one that awaits its transport. A socket too slow for its private
events is closed (1013); one that floods us with bad frames is closed (1008).

The fast path: data queued by the hub is sent by the hub itself at the end of its turn
(`flush`), synchronously, when the transport takes it now and the sender task is idle
(`DirectWriter`); otherwise the sender task is woken and waits for the transport as before.
Both take from the same outbox, and only while the sender is idle does the hub write, so the
order of frames is the outbox's either way.

The private feed: the trader's messages must arrive in traderSeq order, each once. They come
from pub/sub (`private()`), which can lose messages while a server's subscription is away;
a gap, a new subscription and every reconnect of the subscription are recovered from the
trader's log in Redis (`_sync`), while what pub/sub brings meanwhile is held back. A
`since` older than the log reaches gets `resync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from exness.codec import CodecError
from exness.codec.events import ACCOUNT_CHANNEL, QUOTES_CHANNEL, trader_seq
from exness.log import get_logger
from exness.services.server.auth import Session
from exness.services.server.live.outbox import Outbox
from exness.services.server.live.protocol import (
    AUTHENTICATED,
    MAX_FRAME_BYTES,
    PONG,
    Auth,
    BadMessage,
    Budget,
    CandleChannel,
    Ping,
    Subscribe,
    Unsubscribe,
    acknowledged,
    error,
    parse,
    parse_channel,
    resync,
)

if TYPE_CHECKING:
    from exness.services.server.live.hub import LiveHub

__all__ = ["Authenticator", "DirectWriter", "LiveConnection", "SendTexts"]

log = get_logger(__name__)

Authenticator = Callable[[str], Awaitable[Session | None]]
SendTexts = Callable[[list[str]], Awaitable[None]]  # text frames, in order
Close = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DirectWriter:
    """Synchronous writes to the socket, where the server offers them (live/transport.py)."""

    ready: Callable[[], bool]  # frames written now go out without waiting
    write: Callable[[list[str]], bool]  # text frames in one write; False: the socket is gone


# close codes (RFC 6455 and SPEC §8)
POLICY = 1008  # a flood of bad frames
TOO_BIG = 1009
UNAVAILABLE = 1011  # the server cannot serve the socket (Redis away mid catch-up)
TRY_AGAIN = 1013  # too slow for its private events
LOG_PAGE = 1000
TAKE_LIMIT = 64  # frames in one write at most


class LiveConnection:
    def __init__(
        self,
        hub: LiveHub,
        send: SendTexts,
        close: Close,
        authenticate: Authenticator,
        session: Session | None = None,
        direct: DirectWriter | None = None,
    ) -> None:
        self.hub = hub
        self._send = send
        self._direct = direct
        self._close = close
        self._authenticate = authenticate
        self.session = session
        limits = hub.limits
        self.outbox = Outbox(limits.max_private, limits.slow_after_s, limits.quote_interval_s)
        self.channels: set[str] = set()
        self._frames = Budget(limits.frames_burst, limits.frames_per_s)
        self._faults = Budget(limits.bad_frames_burst, limits.bad_frames_per_s)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._sleeping_until: float | None = None  # the sender's timer, while it sleeps
        self._sender: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        # the private feed
        self._last: int | None = None  # last traderSeq delivered (None: not subscribed yet)
        self._held: list[tuple[int, str]] = []
        self._syncing = False
        self._sync_task: asyncio.Task[None] | None = None

    @property
    def trader(self) -> str | None:
        return None if self.session is None else self.session.user_id

    def now(self) -> float:
        return self._loop.time()

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name="live-sender")
        self.hub.connections.add(self)

    async def finish(self) -> None:
        """The socket is gone (or closing): leave every channel, stop the tasks."""
        self.hub.leave(self)
        self.closed.set()
        for task in (self._sender, self._sync_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def close(self, code: int, reason: str) -> None:
        """Close the socket (once): nothing more is queued or sent after the close frame."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.hub.leave(self)
        if self._sender is not None:
            self._sender.cancel()
        log.info("live socket closed by the server", code=code, reason=reason, trader=self.trader)
        reason = reason[:120]  # a close frame's reason holds at most 123 bytes
        asyncio.create_task(self._closing(code, reason), name="live-close")  # noqa: RUF006

    async def _closing(self, code: int, reason: str) -> None:
        try:
            await asyncio.wait_for(self._close(code, reason), self.hub.limits.close_timeout_s)
        except Exception as failure:  # the peer is gone or stuck: it is closed for us anyway
            log.debug("close frame not sent", error=repr(failure))
        finally:
            self.closed.set()

    # ---- what the client sends -------------------------------------------------------------

    async def receive_text(self, text: str) -> None:
        if self.close_code is not None:
            return
        if len(text) > MAX_FRAME_BYTES or len(text.encode()) > MAX_FRAME_BYTES:
            self.close(TOO_BIG, f"a frame may hold at most {MAX_FRAME_BYTES} bytes")
            return
        now = self.now()
        if not self._frames.spend(now):
            self.fault("too many frames; slow down")
            return
        try:
            op = parse(text)
        except BadMessage as bad:
            self.fault(str(bad))
            return
        if isinstance(op, Ping):
            self.control(PONG)
        elif isinstance(op, Subscribe):
            await self._subscribe(op)
        elif isinstance(op, Unsubscribe):
            self._unsubscribe(op)
        elif isinstance(op, Auth):
            await self._auth(op)

    def receive_bytes(self) -> None:
        if self.close_code is None:
            self.fault("binary frames are not accepted: send JSON text frames")

    def fault(self, message: str) -> None:
        """A bad frame: an error answer, and the socket closed (1008) after too many."""
        if not self._faults.spend(self.now()):
            self.close(POLICY, "too many bad frames")
            return
        self.control(error(message))

    def control(self, body: str) -> None:
        if self.close_code is not None:
            return
        if not self.outbox.control(body):
            self.close(POLICY, "too many requests without reading the answers")
            return
        self._wake_now()

    async def _auth(self, op: Auth) -> None:
        revocations = self.hub.revocations
        session = await self._authenticate(op.token)
        if session is None:
            self.fault("the token is invalid or expired")
            return
        if self.session is not None and self.session.user_id != session.user_id:
            self.fault("this socket is signed in as another trader")
            return
        self.session = session
        if self.hub.revocations != revocations:  # signed out while we asked?
            self.hub.check_sessions([self])
        self.control(AUTHENTICATED)

    async def _subscribe(self, op: Subscribe) -> None:
        parsed = [parse_channel(name) for name in op.channels]
        if ACCOUNT_CHANNEL in op.channels and self.session is None:
            self.fault("the account channel is private: sign in first (cookie or auth op)")
            return
        if op.since is not None and ACCOUNT_CHANNEL not in op.channels:
            self.fault('"since" goes with the account channel')
            return
        self.control(acknowledged("subscribed", op.channels))
        for channel in parsed:
            if isinstance(channel, CandleChannel):
                if channel.name not in self.channels:
                    self.channels.add(channel.name)
                    self.hub.candles.join(self, channel)
            elif channel == QUOTES_CHANNEL:
                if channel not in self.channels:
                    self.channels.add(channel)
                    self.hub.join_quotes(self)
            elif channel not in self.channels or op.since is not None:
                self.channels.add(channel)
                self._follow(op.since)

    def _unsubscribe(self, op: Unsubscribe) -> None:
        for name in op.channels:
            if name not in self.channels:
                continue
            self.channels.discard(name)
            if name == QUOTES_CHANNEL:
                self.hub.leave_quotes(self)
                self.outbox.forget("quotes:")
            elif name == ACCOUNT_CHANNEL:
                self.hub.leave_account(self)
                if self._sync_task is not None:
                    self._sync_task.cancel()
                self._syncing = False
                self._last = None
                self._held.clear()
            else:
                self.hub.candles.leave(self, name)
                self.outbox.forget(name)
        self.control(acknowledged("unsubscribed", op.channels))

    # ---- data from the hub -----------------------------------------------------------------

    def coalesce(self, key: str, body: str, at: float | None = None) -> None:
        """A quote or a candle: only the latest of `key` waits (`at`: its own time, Outbox)."""
        if self.close_code is not None:
            return
        now = self.now()
        due = self.outbox.coalesce(key, body, now, at)
        slow = self.outbox.too_slow(now)  # a private event stuck behind a stalled reader
        if slow is not None:
            self.close(TRY_AGAIN, slow)
            return
        if due <= now:
            self.hub.flush_soon(self)
        else:
            sleeping = self._sleeping_until
            if sleeping is not None and due < sleeping:
                self._wake_now()  # the sender sets its timer for it

    def flush(self) -> None:
        """Send what is ready, now if the transport takes it (the hub calls this once a turn
        for each socket it queued data for), else by waking the sender task."""
        if self.close_code is not None:
            return
        direct = self._direct
        if direct is None or self._sleeping_until is None or not direct.ready():
            self._wake_now()  # the sender is busy (it takes what is ready next) or must wait
            return
        frames, _ = self.outbox.take_ready(self.now())
        if frames and not direct.write(frames):
            return  # the peer is gone: the socket's receive loop ends it
        if len(frames) == TAKE_LIMIT:
            self._wake_now()  # more may be ready

    def private(self, seq: int, message: str) -> None:
        """A numbered private message from pub/sub (this socket's trader's)."""
        if self._last is None or self.close_code is not None:
            return
        if self._syncing:
            self._held.append((seq, message))
        elif seq == self._last + 1:
            self._deliver(seq, message)
        elif seq > self._last + 1:  # pub/sub lost something: recover it from the log
            self._held.append((seq, message))
            self.catch_up()

    def catch_up(self) -> None:
        """Read the log after the last message delivered (after a gap or a reconnect)."""
        if self._last is not None and not self._syncing and self.close_code is None:
            self._start_sync()

    def _follow(self, since: int | None) -> None:
        """Start (or restart, with a new `since`) the private feed."""
        self._held.clear()
        self._last = since if since is not None else -1  # -1: from the current number on
        self.hub.join_account(self)
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_task.cancel()
        self._start_sync()

    def _start_sync(self) -> None:
        self._syncing = True
        self._sync_task = asyncio.create_task(self._sync(), name="live-sync")

    async def _sync(self) -> None:
        trader = self.trader
        assert trader is not None
        try:
            while self.close_code is None:
                last = self._last
                assert last is not None
                if last < 0:
                    self._last = await self.hub.log.current(trader)
                else:
                    read = await self.hub.log.after(trader, last, LOG_PAGE)
                    if not read.complete or last > read.current:
                        self._resync(read.current)
                    else:
                        for message in read.messages:
                            self._deliver(trader_seq(message), message)
                        if len(read.messages) == LOG_PAGE:
                            continue  # more to read
                if self._drain_held():
                    self._syncing = False
                    return
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError, CodecError) as failure:
            log.warning("live catch-up failed", trader=trader, error=repr(failure))
            self.close(UNAVAILABLE, "live updates are unavailable; reconnect with since")

    def _drain_held(self) -> bool:
        """Deliver what pub/sub brought during the catch-up; False if a gap remains."""
        held, self._held = sorted(self._held), []
        last = self._last
        assert last is not None
        for index, (seq, message) in enumerate(held):
            if seq <= last:
                continue
            if seq != last + 1:
                self._held = held[index:]
                return False
            self._deliver(seq, message)
            last = seq
        return True

    def _deliver(self, seq: int, message: str) -> None:
        last = self._last
        if last is not None and seq <= last:
            return
        session = self.session
        if session is not None and session.expires_at <= time.time():
            self.close(POLICY, "the session has expired; sign in again")
            return
        self._last = seq
        slow = self.outbox.private(message, self.now())
        if slow is not None:
            self.close(TRY_AGAIN, slow)
            return
        self.hub.flush_soon(self)

    def _resync(self, current: int) -> None:
        """The log no longer reaches back to `since`: the client reloads over REST."""
        self._last = current
        slow = self.outbox.private(resync(), self.now(), numbered=False)
        if slow is not None:
            self.close(TRY_AGAIN, slow)
            return
        self.hub.flush_soon(self)

    # ---- the sender --------------------------------------------------------------------------

    def _wake_now(self) -> None:
        if self._sleeping_until is not None:
            self._sleeping_until = None
            self._wake.set()

    async def _send_loop(self) -> None:
        outbox, loop = self.outbox, self._loop
        while True:
            frames, wait = outbox.take_ready(loop.time(), TAKE_LIMIT)
            if frames:  # everything ready goes out together: one write
                await self._send(frames)
                continue
            self._wake.clear()
            if wait is None:
                self._sleeping_until = float("inf")
                await self._wake.wait()
            else:
                self._sleeping_until = loop.time() + wait
                timer = loop.call_later(wait, self._wake.set)
                await self._wake.wait()
                timer.cancel()
            self._sleeping_until = None
