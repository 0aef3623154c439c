"""The work of a statistics job, shared by the threads and the Celery back ends.

The process that runs the work loads the user's provider credentials by user id and decrypts
them itself (`open_session`), so nothing secret travels with a job. Requests per credentials are
bounded within a process (`CredentialGates`: a semaphore of `JobsConfig.concurrency` pages in
flight and one shared token bucket). Engine errors become one stable code (`failure_code`),
which `web.problems` turns into words; never the provider's own text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sarportal.config import Settings
from sarportal.domain.moments import parse_time, rfc3339
from sarportal.jobs import StatsRequest, codes
from sarportal.jobs.config import JobsConfig
from sarportal.provider import Credentials, Provider, ProviderConfig, ProviderSession
from sarportal.provider.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderForbidden,
    ProviderInvalidRequest,
    ProviderTLSError,
)
from sarportal.stats import Aggregate, Partial, RunCancelled, StatsError, TokenBucket, figures
from sarportal.stats.columns import RawPage
from sarportal.stats.engine import FetchPage
from sarportal.stats.shards import PAGE_SIZE
from sarportal.store import Store

log = logging.getLogger("sarportal.jobs")


class JobFailure(Exception):
    """The job cannot run or finish; `code` (from `jobs.codes`) says why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def failure_code(error: BaseException) -> str:
    """The stable code of why a job failed (`jobs.codes`, or the provider error's own); a
    job keeps only this, never provider text or data."""
    if isinstance(error, JobFailure):
        return error.code
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ProviderError):
        cause = cause.__cause__
    if isinstance(cause, ProviderTLSError | ProviderAuthError | ProviderForbidden):
        return cause.portal_code
    if isinstance(cause, ProviderInvalidRequest):
        return codes.FILTERS_REFUSED
    if cause is not None or isinstance(error, StatsError):
        return codes.PROVIDER_UNAVAILABLE
    return codes.FAILED


def canonical_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters in one form: no empty values, sorted unique lists, times as UTC RFC 3339."""
    canonical: dict[str, Any] = {}
    for name, value in filters.items():
        if value is None or (isinstance(value, list | tuple | set | frozenset) and not value):
            continue
        if name in ("created_from", "created_to"):
            canonical[name] = rfc3339(parse_time(value))
        elif isinstance(value, list | tuple | set | frozenset):
            canonical[name] = sorted({str(item) if not isinstance(item, int) else item
                                      for item in value}, key=str)  # fmt: skip
        else:
            canonical[name] = value
    return dict(sorted(canonical.items()))


def request_key(user_id: int, request: StatsRequest) -> str:
    """The key under which a user's job for `request` is found again (a digest: no values)."""
    described = json.dumps(
        {
            "user": user_id,
            "filters": canonical_filters(request.filters),
            "time_zone": request.time_zone,
            "previous_period": request.previous_period,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(described.encode()).hexdigest()


@dataclass(frozen=True)
class Gate:
    """What bounds the requests of one set of credentials in this process."""

    slots: threading.BoundedSemaphore
    limiter: TokenBucket


class CredentialGates:
    """One `Gate` per provider credentials, shared by every job of this process."""

    def __init__(self, config: JobsConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._gates: dict[str, Gate] = {}

    def gate(self, credentials: Credentials) -> Gate:
        with self._lock:
            found = self._gates.get(credentials.key)
            if found is None:
                found = Gate(
                    threading.BoundedSemaphore(self._config.concurrency),
                    TokenBucket(self._config.rate_limit, burst=self._config.concurrency),
                )
                self._gates[credentials.key] = found
            return found


def provider_for(settings: Settings) -> Provider | None:
    """The provider client described by `settings`, for the web process and for workers alike."""
    if not settings.provider_url:
        return None
    return Provider(
        ProviderConfig(
            settings.provider_url,
            ca_bundle=settings.provider_ca_bundle,
            client_cert=settings.provider_client_cert,
            connect_timeout=settings.provider_connect_timeout,
            read_timeout=settings.provider_read_timeout,
        )
    )


def open_session(
    store: Store, provider: Provider | None, user_id: int
) -> tuple[ProviderSession, Credentials]:
    """The provider as the user: their credentials loaded and decrypted here, for this job."""
    if provider is None:
        raise JobFailure(codes.NO_PROVIDER)
    found = store.provider_credentials_for(user_id)
    if found is None:
        raise JobFailure(codes.NO_CREDENTIALS)
    credentials = Credentials(*found)
    return provider.session(credentials), credentials


@dataclass(frozen=True)
class PageSource:
    """Where a job's pages come from: the engine's `fetch_page` and the page size it asks for."""

    fetch_page: FetchPage
    page_size: int
    kind: str  # "export" or "list", for the logs


EXPORT_PAGE_SIZE = 10_000


def page_source(session: ProviderSession, gate: Gate, *, export: bool | None = None) -> PageSource:
    """The CSV export where the provider offers it (`export=None`: ask its contract), else the
    JSON list; one raw page per call, at most `concurrency` in flight."""
    if export is None:
        export = session.offers_export()
    read: Callable[[dict[str, Any]], RawPage] = (
        session.export_page_raw if export else session.list_page_raw
    )

    def fetch_page(params: dict[str, Any], cursor: str | None) -> RawPage:
        with gate.slots:
            return read({**params, "cursor": cursor} if cursor else params)

    if export:
        return PageSource(fetch_page, EXPORT_PAGE_SIZE, "export")
    return PageSource(fetch_page, PAGE_SIZE, "list")


def partial_figures(
    partial: Partial, period_start: datetime | None, period_end: datetime
) -> dict[str, Any]:
    """The figures over what is aggregated so far (never a result: the job still runs)."""
    return figures(
        partial.current, partial.previous, period_end=period_end, period_start=period_start
    )


def result_figures(
    current: Aggregate,
    previous: Aggregate | None,
    period_start: datetime | None,
    period_end: datetime,
) -> dict[str, Any]:
    """The figures of a finished job."""
    return figures(current, previous, period_end=period_end, period_start=period_start)


class Throttle:
    """Recompute something at most every `interval` seconds, and only when its input changed."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, object, Any]] = {}

    def get(self, key: str, version: object, compute: Callable[[], Any]) -> Any:
        """`compute()`'s value, reused while fresh or while `version` is unchanged."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and (cached[1] == version or now - cached[0] < self._interval):
            return cached[2]
        value = compute()
        with self._lock:
            self._cache[key] = (now, version, value)
        return value

    def forget(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)


def log_failure(job_id: str, error: BaseException) -> None:
    """Log why a job failed: the job id and the error's class, no provider text or data."""
    if isinstance(error, RunCancelled):
        log.info("stats job %s cancelled", job_id)
    elif isinstance(error, JobFailure | StatsError | ProviderError):
        log.warning("stats job %s failed: %s", job_id, type(error.__cause__ or error).__name__)
    else:
        log.error("stats job %s failed unexpectedly", job_id, exc_info=error)
