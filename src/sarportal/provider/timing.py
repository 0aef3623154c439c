"""Time spent waiting for the provider, summed per unit of work (a web request, for one).

The caller opens a `ProviderTimer` with `timing()`; every HTTP exchange the provider client makes
in the same context (the same thread, or a context copied into another) adds its duration to it.
Outside a `timing()` block recording costs one context-variable lookup. The web layer turns the
sums into a `Server-Timing` header (`web.timing`); nothing here knows about Flask.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class ProviderTimer:
    """The provider time of one unit of work: seconds spent in HTTP exchanges, and their count."""

    seconds: float = 0.0
    calls: int = 0


_current: ContextVar[ProviderTimer | None] = ContextVar("sarportal_provider_timer", default=None)


@contextmanager
def timing() -> Iterator[ProviderTimer]:
    """Sum the provider time of the work done inside the block."""
    timer = ProviderTimer()
    token = _current.set(timer)
    try:
        yield timer
    finally:
        _current.reset(token)


@contextmanager
def provider_call() -> Iterator[None]:
    """Count the block as one exchange with the provider (when a `timing()` block is open)."""
    timer = _current.get()
    if timer is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timer.seconds += time.perf_counter() - started
        timer.calls += 1
