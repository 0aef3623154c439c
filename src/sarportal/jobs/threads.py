"""The threads back end: statistics jobs on a bounded pool inside the web process (the default).

An in-memory registry, guarded by one lock, holds each job's state, progress and latest partial
snapshot; finished jobs are forgotten `JobsConfig.result_ttl` after they end. A running job's
partial figures are computed from the latest snapshot only when someone asks (`get`), and at
most every `JobsConfig.partial_interval` seconds.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sarportal.domain.moments import parse_time
from sarportal.jobs import (
    ACTIVE,
    FINISHED_STATES,
    JobState,
    JobView,
    StatsRequest,
    TooManyJobs,
    codes,
)
from sarportal.jobs.config import JobsConfig
from sarportal.jobs.work import (
    CredentialGates,
    Throttle,
    canonical_filters,
    failure_code,
    log_failure,
    open_session,
    page_source,
    partial_figures,
    request_key,
)
from sarportal.provider import Provider
from sarportal.stats import Partial, RunCancelled, run
from sarportal.store import Store

log = logging.getLogger("sarportal.jobs")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class _Job:
    id: str
    user_id: int
    key: str
    request: StatsRequest
    created_at: datetime
    state: JobState = "queued"
    finished_at: datetime | None = None
    progress: dict[str, int | None] = field(default_factory=dict)
    snapshot: Partial | None = None
    snapshots: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def period(self) -> tuple[datetime | None, datetime]:
        filters = self.request.filters
        start = parse_time(filters["created_from"]) if filters.get("created_from") else None
        end = parse_time(filters["created_to"]) if filters.get("created_to") else self.created_at
        return start, end


_NO_PROGRESS: dict[str, int | None] = {
    "shards_total": 0,
    "shards_done": 0,
    "pages": 0,
    "rows": 0,
    "estimated_total": None,
}


class ThreadJobs:
    """`Jobs` on threads of the web process."""

    def __init__(
        self,
        store: Store,
        provider: Provider | None,
        config: JobsConfig | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store = store
        self._provider = provider
        self._config = config or JobsConfig()
        self._clock = clock
        self._pool = ThreadPoolExecutor(self._config.max_jobs, thread_name_prefix="stats-job")
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._by_key: dict[str, str] = {}
        self._gates = CredentialGates(self._config)
        self._partials = Throttle(self._config.partial_interval)

    # -- the interface ------------------------------------------------------------------------

    def submit(
        self,
        user_id: int,
        request: StatsRequest,
        *,
        refresh: bool = False,
        supersede: bool = False,
    ) -> JobView:
        key = request_key(user_id, request)
        with self._lock:
            self._expire()
            known = self._jobs.get(self._by_key.get(key, ""))
            if known is not None and not refresh and known.state in ("queued", "running",
                                                                     "succeeded"):  # fmt: skip
                return self._view(known)
            self._make_room(user_id, supersede)
            job = _Job(secrets.token_urlsafe(18), user_id, key, request, self._clock())
            job.progress = dict(_NO_PROGRESS)
            self._jobs[job.id] = job
            self._by_key[key] = job.id
            view = self._view(job)
        self._pool.submit(self._work, job)
        return view

    def _make_room(self, user_id: int, supersede: bool) -> None:
        """Under the lock: raise `TooManyJobs` when the user's running jobs are at the limit,
        or with `supersede` cancel the oldest of them."""
        active = sorted(
            (j for j in self._jobs.values() if j.user_id == user_id and j.state in ACTIVE),
            key=lambda j: j.created_at,
        )
        excess = len(active) - self._config.max_per_user + 1
        if excess <= 0:
            return
        if not supersede:
            raise TooManyJobs(self._config.max_per_user)
        for oldest in active[:excess]:
            oldest.cancel.set()
            self._end(oldest, "cancelled", error=codes.CANCELLED)

    def get(self, user_id: int, job_id: str) -> JobView | None:
        with self._lock:
            self._expire()
            job = self._jobs.get(job_id)
            if job is None or job.user_id != user_id:
                return None
            view = self._view(job)
            snapshot, version = job.snapshot, job.snapshots
        if view.state != "running" or snapshot is None:
            return view
        start, end = job.period
        partial = self._partials.get(job.id, version, lambda: partial_figures(snapshot, start, end))
        return replace(view, partial=partial)

    def cancel(self, user_id: int, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.user_id != user_id or job.state in FINISHED_STATES:
                return False
            job.cancel.set()
            self._end(job, "cancelled", error=codes.CANCELLED)
            return True

    def ping(self) -> None:
        """Jobs run in this process: always available."""

    def close(self) -> None:
        """Cancel every job and stop the pool (for tests and shutdown)."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the work -----------------------------------------------------------------------------

    def _work(self, job: _Job) -> None:
        with self._lock:
            if job.state != "queued":
                return
            job.state = "running"
        try:
            session, credentials = open_session(self._store, self._provider, job.user_id)
            gate = self._gates.gate(credentials)
            source = page_source(session, gate)
            log.info("stats job %s: reading the provider's %s", job.id, source.kind)
            outcome = run(
                canonical_filters(job.request.filters),
                source.fetch_page,
                page_size=source.page_size,
                concurrency=self._config.concurrency,
                limiter=gate.limiter,
                on_progress=lambda progress, partial: self._on_progress(job, progress, partial),
                cancelled=job.cancel.is_set,
                time_zone=job.request.time_zone,
                shards_per_period=self._config.shards_per_period,
                previous_period=job.request.previous_period,
                now=lambda: job.created_at,
            )
            figures = outcome.figures()
        except Exception as error:  # noqa: BLE001 - logged; every failure ends the job
            log_failure(job.id, error)
            with self._lock:
                if isinstance(error, RunCancelled):
                    self._end(job, "cancelled", error=codes.CANCELLED)
                else:
                    self._end(job, "failed", error=failure_code(error))
            return
        with self._lock:
            self._advance(job, outcome.progress)
            self._end(job, "succeeded", result=figures)

    def _on_progress(self, job: _Job, progress: dict[str, int | None], partial: Partial) -> None:
        with self._lock:
            self._advance(job, progress)
            job.snapshot = partial
            job.snapshots += 1

    # -- bookkeeping (callers hold the lock) --------------------------------------------------

    @staticmethod
    def _advance(job: _Job, progress: dict[str, int | None]) -> None:
        """Take the newer numbers; none ever goes back."""
        for name, value in progress.items():
            old = job.progress.get(name)
            if old is None or (value is not None and value > old):
                job.progress[name] = value

    def _end(
        self,
        job: _Job,
        state: JobState,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if job.state in FINISHED_STATES:
            return
        job.state, job.result, job.error = state, result, error
        job.finished_at = self._clock()
        job.snapshot = None
        self._partials.forget(job.id)

    def _expire(self) -> None:
        now = self._clock()
        ttl = self._config.result_ttl
        gone = [
            job
            for job in self._jobs.values()
            if job.finished_at is not None and job.finished_at + ttl <= now
        ]
        for job in gone:
            del self._jobs[job.id]
            if self._by_key.get(job.key) == job.id:
                del self._by_key[job.key]

    @staticmethod
    def _view(job: _Job) -> JobView:
        return JobView(
            id=job.id,
            state=job.state,
            progress=dict(job.progress),
            result=job.result,
            partial=None,
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )
