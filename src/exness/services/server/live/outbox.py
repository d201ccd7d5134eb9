"""What waits to be sent on one socket, and in what order (SPEC §8 "slow clients"). Pure:
the time comes in, nothing here does I/O.

Three kinds of frames:
- control (`error`, `pong`, acknowledgements): small, sent first, bounded (a client that
  floods us with requests while not reading our answers is closed by its caller);
- private messages (the trader's order and account events, and `resync`), in order, never
  dropped: when the oldest has waited `slow_after_s`, or more than `max_private` wait (a
  bound on memory, well above what one engine batch brings at once), the socket cannot keep
  up and is to be closed (1013) — `private()` and `too_slow()` say so;
- coalesced messages (quotes per asset, the current candle per channel): only the latest of
  each key waits, and a key is sent at most once per `interval_s`; the latest always goes out
  within an interval. The interval is measured on the message's own clock (`at`: a quote's
  time at the feed; a candle's arrival), from the previous message's *slot* (its own time, or
  the end of the interval it waited for). Measured from the writes instead, each write's
  delay pushed the next slot later, and with a feed quoting once per interval the delays
  added up until each quote waited almost a whole interval (the bench saw p50 44 / p99
  100 ms at a thousand sockets); measured from arrivals, a quote delayed on its way held
  back the next one, which came in on time, by as much. So the quotes a client gets of an
  asset are an interval apart by the feed's clock (their `ts`), and each waits only for
  that, never for the delays of the ones before it.

Data messages (private and coalesced) get the socket's `seq` (+1 each) when they are taken.
"""

from __future__ import annotations

from collections import deque

from exness.codec.events import with_seq

__all__ = ["Outbox"]


class Outbox:
    def __init__(
        self,
        max_private: int = 10_000,
        slow_after_s: float = 10.0,
        interval_s: float = 0.1,
        max_control: int = 64,
    ) -> None:
        self.max_private = max_private
        self.slow_after_s = slow_after_s
        self.interval_s = interval_s
        self.max_control = max_control
        self.seq = 0  # the last data message's seq on this socket
        self._control: deque[str] = deque()
        self._private: deque[tuple[float, str, bool]] = deque()  # (queued at, body, numbered)
        self._latest: dict[str, str] = {}  # key -> the newest body not yet sent
        self._slot: dict[str, float] = {}  # key -> the own-time slot of the body waiting
        self._due: dict[str, float] = {}  # key -> when the body waiting may go (our clock)
        self._next: dict[str, float] = {}  # key -> the own time its next slot may have

    def __len__(self) -> int:
        return len(self._control) + len(self._private) + len(self._latest)

    # ---- putting -------------------------------------------------------------------------

    def control(self, body: str) -> bool:
        """Queue a control frame; False when too many wait (the client is not reading)."""
        self._control.append(body)
        return len(self._control) <= self.max_control

    def private(self, body: str, now: float, numbered: bool = True) -> str | None:
        """Queue a private message (`numbered`: a data message, given a seq; else an ordered
        control frame such as `resync`); why the socket cannot keep up, or None if it can."""
        self._private.append((now, body, numbered))
        return self.too_slow(now)

    def too_slow(self, now: float) -> str | None:
        """Why the socket is too slow for its private messages, or None."""
        private = self._private
        if len(private) > self.max_private:
            return f"too slow: more than {self.max_private} private events waiting"
        if private and now - private[0][0] >= self.slow_after_s:
            return f"too slow: a private event waited {now - private[0][0]:.1f} s"
        return None

    def coalesce(self, key: str, body: str, now: float, at: float | None = None) -> float:
        """Make `body` the next message of `key`, replacing one not yet sent; when it may go.
        `at`: the message's own time (s, its source's clock; default `now`)."""
        at = now if at is None else at
        self._latest[key] = body
        slot = self._next.get(key, at)
        if slot <= at:
            slot, wait = at, 0.0
        elif slot - at <= self.interval_s:
            wait = slot - at
        else:  # the source's clock went back: wait an interval, by ours
            slot, wait = at + self.interval_s, self.interval_s
        self._slot[key] = slot
        due = self._due[key] = now + wait
        return due

    def forget(self, prefix: str) -> None:
        """Drop the waiting coalesced messages whose key starts with `prefix` (unsubscribed)."""
        for key in [key for key in self._latest if key.startswith(prefix)]:
            del self._latest[key]
            del self._due[key]
            del self._slot[key]

    # ---- taking --------------------------------------------------------------------------

    def take(self, now: float) -> tuple[str | None, float | None]:
        """The next frame to send, or None and how long until a coalesced one is due (None:
        nothing waits)."""
        if self._control:
            return self._control.popleft(), None
        if self._private:
            _, body, numbered = self._private.popleft()
            return (self._number(body) if numbered else body), None
        if not self._latest:
            return None, None
        soonest_key, soonest = "", float("inf")
        for key, due in self._due.items():
            if due < soonest:
                soonest_key, soonest = key, due
        if soonest > now:
            return None, soonest - now
        body = self._latest.pop(soonest_key)
        del self._due[soonest_key]
        self._next[soonest_key] = self._slot.pop(soonest_key) + self.interval_s
        return self._number(body), None

    def take_ready(self, now: float, limit: int = 64) -> tuple[list[str], float | None]:
        """Every frame ready now (at most `limit`), in order, to go out in one write; when
        none is, how long until a coalesced one is due (None: nothing waits)."""
        frames: list[str] = []
        while len(frames) < limit:
            frame, wait = self.take(now)
            if frame is None:
                return frames, (None if frames else wait)
            frames.append(frame)
        return frames, None

    def _number(self, body: str) -> str:
        self.seq += 1
        return with_seq(body, self.seq)
