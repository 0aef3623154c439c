"""What stands in front of the data: tokens, the rate limit, idempotency and injected faults."""

from __future__ import annotations

import hashlib
import hmac
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sarportal.sandbox.config import Client
from sarportal.sandbox.errors import Problem

IDEMPOTENCY_SECONDS = 24 * 3600
FAULT_KINDS = ("error_500", "error_503", "hang", "truncated", "malformed")
# Faults that strike after the request was served (a write applied): the client cannot know.
FAULTS_AFTER_SERVING = frozenset({"hang", "truncated", "malformed"})


@dataclass(frozen=True)
class Grant:
    client: Client
    scopes: frozenset[str]
    expires_at: float


class Tokens:
    """Opaque bearer tokens, held in memory until they expire."""

    def __init__(self, clients: tuple[Client, ...], ttl: int, clock: Callable[[], float]) -> None:
        self._clients = {c.client_id: c for c in clients}
        self._ttl = ttl
        self._clock = clock
        self._grants: dict[str, Grant] = {}

    def issue(self, client_id: str, secret: str, scope: str | None) -> tuple[str, Grant]:
        client = self._clients.get(client_id)
        if client is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
            raise Problem("unauthorized", "The client credentials are not valid.")
        scopes = client.scopes
        if scope:
            asked = frozenset(scope.split())
            if not asked <= client.scopes:
                raise Problem.invalid("scope", "The client may not have the requested scope.")
            scopes = asked
        now = self._clock()
        self._grants = {t: g for t, g in self._grants.items() if g.expires_at > now}
        token = secrets.token_urlsafe(32)
        grant = Grant(client, scopes, now + self._ttl)
        self._grants[token] = grant
        return token, grant

    def check(self, authorization: str | None) -> Grant:
        scheme, _, token = (authorization or "").partition(" ")
        grant = self._grants.get(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires_at <= self._clock():
            raise Problem(
                "unauthorized",
                "The access token is missing, invalid or expired.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return grant

    def expire_all(self) -> int:
        """Let every token expire now (a test's way to expire a token mid-job)."""
        count = len(self._grants)
        self._grants.clear()
        return count


class RateLimiter:
    """A token bucket per client: `rate` requests a second, bursts up to one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client_id: str) -> float:
        """Take one token and return what remains; raise `rate_limited` when none is left."""
        if self.rate <= 0:
            return math.inf
        capacity = max(1.0, self.rate)
        now = self._clock()
        level, at = self._buckets.get(client_id, (capacity, now))
        level = min(capacity, level + (now - at) * self.rate)
        if level < 1.0:
            self._buckets[client_id] = (level, now)
            wait = math.ceil((1.0 - level) / self.rate)
            raise Problem(
                "rate_limited",
                f"The rate limit of {self.rate:g} requests a second is exceeded.",
                headers={"Retry-After": str(max(1, wait))},
            )
        self._buckets[client_id] = (level - 1.0, now)
        return level - 1.0


@dataclass
class Remembered:
    fingerprint: str
    created: float
    status: int | None = None
    body: bytes = b""
    content_type: str = ""


class Idempotency:
    """Remembers each write's first answer for 24 hours, per client and key."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], Remembered] = {}

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(b"\0".join((method.encode(), path.encode(), body))).hexdigest()

    def begin(self, client_id: str, key: str, fingerprint: str) -> Remembered | None:
        """The first answer to replay, or None after marking the key as in flight."""
        now = self._clock()
        record = self._seen.get((client_id, key))
        if record is not None and now - record.created < IDEMPOTENCY_SECONDS:
            if record.fingerprint != fingerprint:
                raise Problem(
                    "idempotency_conflict",
                    "This idempotency key was already used with another request.",
                    param="Idempotency-Key",
                )
            if record.status is None:
                raise Problem(
                    "idempotency_conflict",
                    "A request with this idempotency key is still in progress.",
                    param="Idempotency-Key",
                )
            return record
        self._seen[(client_id, key)] = Remembered(fingerprint, now)
        return None

    def finish(self, client_id: str, key: str, status: int, body: bytes, content_type: str) -> None:
        record = self._seen[(client_id, key)]
        record.status, record.body, record.content_type = status, body, content_type

    def forget(self, client_id: str, key: str) -> None:
        """Drop a key whose request ended without an answer worth replaying (a 5xx)."""
        self._seen.pop((client_id, key), None)


@dataclass
class Scheduled:
    kind: str
    path_prefix: str
    method: str | None
    remaining: int


@dataclass
class Faults:
    """Random faults at `rate`, plus faults that tests schedule for matching requests."""

    rate: float
    seed: int
    scheduled: list[Scheduled] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - fault injection, not security

    def schedule(
        self, kind: str, path_prefix: str = "/v1/", method: str | None = None, count: int = 1
    ) -> None:
        if kind not in FAULT_KINDS:
            raise Problem.invalid(
                "kind", f"Unknown fault kind; use one of {', '.join(FAULT_KINDS)}."
            )
        self.scheduled.append(Scheduled(kind, path_prefix, method, count))

    def clear(self) -> None:
        self.scheduled.clear()

    def draw(self, method: str, path: str) -> str | None:
        """The fault for this request, if any."""
        for item in self.scheduled:
            if path.startswith(item.path_prefix) and item.method in (None, method):
                item.remaining -= 1
                if item.remaining <= 0:
                    self.scheduled.remove(item)
                return item.kind
        if self.rate > 0 and self._random.random() < self.rate:
            return self._random.choice(FAULT_KINDS)
        return None


def monotonic_clock() -> float:
    return time.monotonic()
