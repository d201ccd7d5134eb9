"""The one retry policy: exponential backoff with optional jitter, for every retry loop.

    backoff = Backoff(initial=0.05, maximum=2.0)
    while True:
        try:
            ...
            backoff.reset()
        except RedisError:
            await asyncio.sleep(backoff.next_delay())

`delay(attempt)` is the same policy as a pure function, for a caller that counts attempts
itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass(slots=True)
class Backoff:
    initial: float = 0.05  # seconds before the first retry
    maximum: float = 2.0  # the delay never grows past this
    factor: float = 2.0
    jitter: float = 0.0  # a delay is drawn uniformly from [d·(1 − jitter), d]
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    attempt: int = 0  # failures since the last reset

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1.0 - self.jitter * self.rng.random()) if self.jitter else base

    def next_delay(self) -> float:
        """The delay before the next retry; each call counts one more failure."""
        delay = self.delay(self.attempt)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """It worked: the next failure starts again from `initial`."""
        self.attempt = 0
