"""A thread-safe token bucket for requests to the provider, which slows down when told of a 429.

`acquire()` reserves a token and sleeps outside the lock until it is due, so waiting threads are
served in the order they asked. `backoff(retry_after)` pauses everyone until the provider's
`Retry-After` has passed and halves the rate, which then recovers linearly to the configured one
over `recovery_seconds`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most `rate` requests a second on average, bursts of up to `burst`; rate None: no limit
    except the pauses that `backoff` asks for."""

    def __init__(
        self,
        rate: float | None = None,
        *,
        burst: int = 1,
        recovery_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive (or None for no limit)")
        self._configured = rate
        self._burst = max(1, burst)
        self._recovery = recovery_seconds
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(self._burst)
        self._updated = clock()
        self._paused_until = -math.inf
        self._slowed_at = -math.inf
        self._slowed_rate = rate

    def rate(self) -> float | None:
        """The rate in force now (requests a second), None when unlimited."""
        with self._lock:
            return self._current_rate(self._clock())

    def _current_rate(self, now: float) -> float | None:
        if self._configured is None or self._slowed_rate is None:
            return self._configured
        recovered = (now - self._slowed_at) / self._recovery if self._recovery > 0 else 1.0
        if recovered >= 1:
            return self._configured
        return self._slowed_rate + (self._configured - self._slowed_rate) * max(0.0, recovered)

    def acquire(self) -> float:
        """Take one token, waiting until it is available; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            rate = self._current_rate(now)
            start = max(now, self._paused_until)
            if rate is None:
                wait = start - now
            else:
                elapsed = max(0.0, now - self._updated)
                self._tokens = min(self._burst, self._tokens + elapsed * rate)
                self._updated = max(self._updated, now)
                self._tokens -= 1
                wait = max(start - now, -self._tokens / rate if self._tokens < 0 else 0.0)
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def backoff(self, retry_after: float | None) -> None:
        """The provider answered 429: pause everyone for `retry_after` seconds (1 if unknown)
        and halve the rate, recovering gradually."""
        pause = 1.0 if retry_after is None else max(0.0, float(retry_after))
        with self._lock:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + pause)
            rate = self._current_rate(now)
            if rate is not None:
                self._slowed_rate = max(rate / 2, 0.01)
                self._slowed_at = now + pause
                self._tokens = min(self._tokens, 0.0)
                self._updated = now + pause
