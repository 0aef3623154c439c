"""Sign-in throttling: an account locks after repeated failures, and each IP has a budget.

Counters live where every portal process sees them, and survive a restart: in Redis when
`SARPORTAL_REDIS_URL` is set, else in the portal's database. Accounts are keyed by a digest of
the e-mail address as typed, so an unknown address locks exactly like a known one and the
lockout reveals nothing.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Protocol

import redis
from sqlalchemy import Engine

from sarportal.config import Settings
from sarportal.store.counters import DatabaseCounters
from sarportal.store.digest import token_digest


class Counters(Protocol):
    """Expiring counters and flags."""

    def incr(self, key: str, window: timedelta) -> int:
        """Add one to `key` (which expires `window` after its first hit); the new count."""
        ...

    def set_flag(self, key: str, ttl: timedelta) -> None:
        """Set `key` for `ttl`."""
        ...

    def flag_remaining(self, key: str) -> timedelta | None:
        """How long `key` stays set, or None when it is not set."""
        ...

    def reset(self, key: str) -> None:
        """Forget `key`."""
        ...

    def purge_expired(self) -> int:
        """Delete what has expired, where the store does not do so itself; how many."""
        ...


class RedisCounters:
    """Counters in Redis, expiring by Redis's own clock, shared by every portal process."""

    def __init__(self, client: redis.Redis, prefix: str = "sarportal:throttle:") -> None:
        self._redis = client
        self._prefix = prefix

    def incr(self, key: str, window: timedelta) -> int:
        name = self._prefix + key
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, math.ceil(window.total_seconds()), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def set_flag(self, key: str, ttl: timedelta) -> None:
        self._redis.set(self._prefix + key, 1, px=math.ceil(ttl.total_seconds() * 1000))

    def flag_remaining(self, key: str) -> timedelta | None:
        remaining = int(self._redis.pttl(self._prefix + key))  # type: ignore[arg-type]
        return None if remaining < 0 else timedelta(milliseconds=remaining)

    def reset(self, key: str) -> None:
        self._redis.delete(self._prefix + key)

    def purge_expired(self) -> int:
        return 0  # Redis deletes expired keys itself


def counters_for(settings: Settings, engine: Engine) -> Counters:
    """Redis counters when a Redis URL is configured, else counters in the database."""
    if settings.redis_url:
        return RedisCounters(redis.Redis.from_url(settings.redis_url))
    return DatabaseCounters(engine, settings.clock)


class SignInThrottle:
    """Counts failed sign-ins per account and per IP and says when to refuse."""

    def __init__(self, counters: Counters, settings: Settings) -> None:
        self._counters = counters
        self._settings = settings

    @staticmethod
    def _account(email: str) -> str:
        return token_digest(email.strip().lower())

    def account_lock_remaining(self, email: str) -> timedelta | None:
        """How long the account stays locked, or None when it is not locked."""
        return self._counters.flag_remaining("lock:" + self._account(email))

    def ip_blocked(self, ip: str) -> bool:
        """Whether this address has used up its failure budget."""
        return self._counters.flag_remaining("ipblock:" + ip) is not None

    def record_failure(self, email: str, ip: str) -> bool:
        """Count one failure; True when it has just locked the account."""
        settings = self._settings
        if self._counters.incr("ip:" + ip, settings.ip_failure_window) >= settings.ip_failure_limit:
            self._counters.set_flag("ipblock:" + ip, settings.ip_failure_window)
        account = self._account(email)
        failures = self._counters.incr("fail:" + account, settings.lockout_duration)
        if failures >= settings.lockout_failures:
            self._counters.set_flag("lock:" + account, settings.lockout_duration)
            self._counters.reset("fail:" + account)
            return True
        return False

    def record_success(self, email: str) -> None:
        """Clear the account's failure count after a complete sign-in."""
        self._counters.reset("fail:" + self._account(email))
