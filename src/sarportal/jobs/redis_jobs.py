"""The Celery back end as the web process sees it: `Jobs` over Redis state and a `plan` message.

`submit` records the job in Redis and sends one `plan` message (job id, user id, filters) to the
`stats` queue; `sarportal worker` processes do the rest. `get` reads state, progress and the
result from Redis; a running job's partial figures are merged from the shards' aggregates on
demand, at most every `JobsConfig.partial_interval` seconds per job.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import redis
from celery import Celery

from sarportal.config import Settings
from sarportal.jobs import JobsUnavailable, JobView, StatsRequest, TooManyJobs
from sarportal.jobs.celery_app import PLAN_TASK, QUEUE, make_celery
from sarportal.jobs.config import JobsConfig
from sarportal.jobs.redis_state import RedisState
from sarportal.jobs.work import Throttle, canonical_filters, request_key

log = logging.getLogger("sarportal.jobs")

WORKERS_UNREACHABLE = (
    "The statistics workers could not be reached; nothing was computed. Please try again later."
)
REDIS_DOWN = (
    "The statistics service is not available at the moment; nothing was computed. "
    "Please try again in a few minutes."
)
_REUSABLE = ("queued", "running", "succeeded")

P = ParamSpec("P")
R = TypeVar("R")


def _redis_guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Redis failures become `JobsUnavailable` (a clear 503), never an unexplained error."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as error:
            log.warning("statistics jobs: Redis is unavailable (%s)", type(error).__name__)
            raise JobsUnavailable(REDIS_DOWN) from error

    return guarded


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RedisJobs:
    """`Jobs` whose work runs on Celery workers; state in Redis under `sarportal:job:`."""

    def __init__(
        self,
        settings: Settings,
        config: JobsConfig | None = None,
        *,
        celery: Celery | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not settings.redis_url:
            raise ValueError("the Celery back end needs settings.redis_url")
        self._config = config or JobsConfig()
        self._celery = celery or make_celery(
            settings.redis_url, visibility_timeout=self._config.visibility_timeout.total_seconds()
        )
        self._clock = clock
        self.state = RedisState.from_url(
            settings.redis_url,
            result_ttl=self._config.result_ttl,
            running_ttl=self._config.running_ttl,
        )
        self._partials = Throttle(self._config.partial_interval)

    @_redis_guarded
    def submit(
        self,
        user_id: int,
        request: StatsRequest,
        *,
        refresh: bool = False,
        supersede: bool = False,
    ) -> JobView:
        digest = request_key(user_id, request)
        known = None if refresh else self.state.find(digest)
        view = None if known is None else self.get(user_id, known)
        if view is not None and view.state in _REUSABLE:
            return view
        job_id = secrets.token_urlsafe(18)
        winner = self.state.create(
            job_id, user_id, digest, request, self._clock(), replacing=known, force=refresh
        )
        if winner != job_id:  # the same request was submitted at the same moment: share its job
            view = self.get(user_id, winner)
            if view is not None:
                return view
            # that job's record expired in between (this one's was dropped): take the request
            self.state.create(job_id, user_id, digest, request, self._clock(), force=True)
        self._make_room(user_id, job_id, supersede)
        try:
            self._celery.send_task(
                PLAN_TASK,
                args=[job_id, user_id, canonical_filters(request.filters)],
                queue=QUEUE,
                routing_key=QUEUE,
            )
        except Exception:
            log.exception("stats job %s: the plan message could not be sent", job_id)
            self.state.fail(job_id, WORKERS_UNREACHABLE)
        view = self.get(user_id, job_id)
        if view is None:  # pragma: no cover - its keys were just written
            raise RuntimeError("a new statistics job vanished from Redis")
        return view

    def _make_room(self, user_id: int, job_id: str, supersede: bool) -> None:
        """Admit the queued job among the user's running ones, with `supersede` cancelling the
        oldest until it fits; else forget it and raise `TooManyJobs`."""
        limit = self._config.max_per_user
        for _attempt in range(limit + 1):
            oldest = self.state.admit(user_id, job_id, self._clock(), limit)
            if oldest is None:
                return
            if not supersede:
                break
            self.state.cancel(oldest)
        self.state.discard(job_id)
        raise TooManyJobs(limit)

    @_redis_guarded
    def get(self, user_id: int, job_id: str) -> JobView | None:
        meta = self.state.meta(job_id)
        if meta is None or meta.user_id != user_id:
            return None
        partial = None
        if meta.state == "running" and meta.writes:
            partial = self._partials.get(job_id, meta.writes, lambda: self.state.partial(meta))
        return self.state.view(meta, partial)

    @_redis_guarded
    def cancel(self, user_id: int, job_id: str) -> bool:
        meta = self.state.meta(job_id)
        if meta is None or meta.user_id != user_id:
            return False
        return self.state.cancel(job_id)

    @_redis_guarded
    def ping(self) -> None:
        self.state.redis.ping()

    def close(self) -> None:
        """Release the broker and Redis connections."""
        self._celery.close()
        self.state.redis.close()
