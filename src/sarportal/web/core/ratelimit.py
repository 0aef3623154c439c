"""Request rate limits per user (Flask-Limiter) on the counters that every process shares: Redis
when `SARPORTAL_REDIS_URL` is set, else the portal's database (the `counters` table, which the
sign-in throttling uses too), so that no number of web processes multiplies a budget.

- the JSON API: `settings.api_rate_limit` (300 a minute) per user over all of `/api/`;
- the money actions (`/api/v1/transactions/{id}/refunds|captures|cancellations`) and statistics
  jobs (`POST /api/v1/stats/jobs`, each new one a full scan at the provider):
  `settings.write_rate_limit` (30 a minute) per user and endpoint, on top.

A request over a limit is refused before the view runs: 429 `rate_limited`, with `Retry-After`
and a sentence saying the limit and when to try again (problem+json for the API). The user is the
signed-in one (session or personal token); a request without one is counted by its address.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any, cast

from flask import Flask, g, request
from flask import Response as FlaskResponse
from flask_babel import gettext as _
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from limits.storage import Storage

from sarportal.config import Clock
from sarportal.store.counters import DatabaseCounters
from sarportal.store.engine import DATABASE_DOWN
from sarportal.web.core.services import EXTENSION

LIMITED_WRITES = frozenset(
    {
        "transaction.api.refund",
        "transaction.api.capture",
        "transaction.api.cancel",
        "api_stats.submit_job",
    }
)
KEY_PREFIX = "rate:"


class DatabaseStorage(Storage):
    """Flask-Limiter's fixed-window counters in the portal's database (`DatabaseCounters`):
    one atomic upsert per hit, expiry on the portal's clock."""

    STORAGE_SCHEME = ["sarportal+database"]  # noqa: RUF012 (as limits declares it)

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        counters: DatabaseCounters,
        clock: Clock,
        **options: Any,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counters = counters
        self._clock = clock

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return DATABASE_DOWN

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count = 0
        for _hit in range(max(1, amount)):
            count = self._counters.incr(key, timedelta(seconds=expiry))
        return count

    def get(self, key: str) -> int:
        found = self._counters.get(key)
        return 0 if found is None else found[0]

    def get_expiry(self, key: str) -> float:
        # When the window ends, as a moment of `time.time()` (what Flask-Limiter compares it
        # with), counted on the portal's clock.
        found = self._counters.get(key)
        remaining = 0.0 if found is None else (found[1] - self._clock()).total_seconds()
        return time.time() + max(0.0, remaining)

    def check(self) -> bool:
        try:
            self._counters.get("rate:health")
        except DATABASE_DOWN:
            return False
        return True

    def reset(self) -> int | None:
        return None  # only whole keys are cleared (`clear`); expired ones are purged on a schedule

    def clear(self, key: str) -> None:
        self._counters.reset(key)


def _who() -> str:
    user = g.get("user")
    return f"user:{user.id}" if user is not None else f"address:{request.remote_addr or '-'}"


def _not_api() -> bool:
    return not request.path.startswith("/api/")


def _not_a_limited_write() -> bool:
    return request.endpoint not in LIMITED_WRITES


def _refused(limit: RequestLimit) -> FlaskResponse:
    from sarportal.web.core.errors import error_response

    wait = max(1, math.ceil(limit.window.reset_time - time.time()))
    response = error_response(
        429,
        code="rate_limited",
        title=_("Too many requests"),
        detail=_(
            "You have reached the limit of %(limit)s. Please try again in %(seconds)s seconds.",
            limit=_describe(limit),
            seconds=wait,
        ),
    )
    response.headers["Retry-After"] = str(wait)
    return cast(FlaskResponse, response)


def _describe(limit: RequestLimit) -> str:
    item = limit.limit
    if item.GRANULARITY.name == "minute" and item.multiples == 1:
        return str(_("%(amount)s requests a minute", amount=item.amount))
    return str(_("%(amount)s requests in %(seconds)s seconds", amount=item.amount,
                 seconds=item.get_expiry()))  # fmt: skip


def init_app(app: Flask) -> Limiter:
    """Count `app`'s requests against the limits, after the user is identified (register it
    after `access.identify`)."""
    portal = app.extensions[EXTENSION]
    settings = portal.settings
    if settings.redis_url:
        storage_uri, options = settings.redis_url, {}
    else:
        counters = DatabaseCounters(portal.store.engine, settings.clock)
        storage_uri, options = (
            "sarportal+database://",
            {"counters": counters, "clock": settings.clock},
        )
    limiter = Limiter(
        _who,
        app=app,
        storage_uri=storage_uri,
        storage_options=options,
        key_prefix=KEY_PREFIX,
        strategy="fixed-window",
        application_limits=[settings.api_rate_limit],
        application_limits_exempt_when=_not_api,
        default_limits=[settings.write_rate_limit],
        default_limits_exempt_when=_not_a_limited_write,
        headers_enabled=False,  # the 429 carries Retry-After (below); no per-answer headers
        on_breach=_refused,
        swallow_errors=True,  # a counter store that fails lets the request through, logged
    )
    app.register_error_handler(RateLimitExceeded, _answer)
    return limiter


def _answer(error: RateLimitExceeded) -> FlaskResponse:
    """The answer `_refused` made (Flask-Limiter raises it inside the exception)."""
    if error.response is not None:
        return cast(FlaskResponse, error.response)
    from sarportal.web.core.errors import error_response

    return cast(FlaskResponse, error_response(429, code="rate_limited"))
