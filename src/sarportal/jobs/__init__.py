"""Statistics jobs: one small interface, two back ends.

`make_jobs(settings, store, provider)` gives the threads back end (a bounded pool in the web
process, the default) or, when `settings.redis_url` is set, the Celery back end (shards fanned
out to `sarportal worker` processes, state in Redis). Both run the same work (`jobs.work`) and
answer with the same `JobView`. A job belongs to the user who submitted it: `get` and `cancel`
answer None / False for anybody else's job id, exactly as for an unknown one.

A job carries only the user's id, the filters and shard bounds; the process that runs the work
loads and decrypts the user's provider credentials itself. Results are aggregated figures that
identify nobody, kept for a short time (`JobsConfig.result_ttl`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from sarportal.config import Settings
    from sarportal.jobs.config import JobsConfig
    from sarportal.provider import Provider
    from sarportal.store import Store

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED_STATES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE: frozenset[str] = frozenset({"queued", "running"})  # the states that count as running


@dataclass(frozen=True)
class StatsRequest:
    """What a statistics job computes: provider list filters (`status`, `payment_method`, …
    lists; `amount_min`/`amount_max`; `created_from`/`created_to` as aware datetimes, or as
    RFC 3339 strings from the wire)."""

    filters: Mapping[str, Any]
    time_zone: str = "Europe/Berlin"
    previous_period: bool = True


@dataclass(frozen=True)
class JobView:
    """A job as its owner sees it at one moment."""

    id: str
    state: JobState
    progress: Mapping[str, int | None]  # shards_total, shards_done, pages, rows, estimated_total
    result: Mapping[str, Any] | None  # stats.figures(...) of the finished job (succeeded only)
    partial: Mapping[str, Any] | None  # figures over what is aggregated so far, while running
    error: str | None  # why it failed or was cancelled: a code of `jobs.codes` (or a provider
    # error's `portal_code`), which `web.problems` puts in words
    created_at: datetime
    finished_at: datetime | None  # "as of" for cached results

    @property
    def finished(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.state in FINISHED_STATES


class JobsUnavailable(Exception):
    """The job back end cannot be reached (Redis is down); `str(error)` is for people."""


class TooManyJobs(Exception):
    """The user has as many queued and running jobs as they may (`limit`); nothing started."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} statistics jobs may run at once for one user")
        self.limit = limit


class Jobs(Protocol):
    """Submit, watch and cancel statistics jobs."""

    def submit(
        self,
        user_id: int,
        request: StatsRequest,
        *,
        refresh: bool = False,
        supersede: bool = False,
    ) -> JobView:
        """Start a job, or return the user's running or recently finished one for the same
        request (unless `refresh`). A new job beyond the user's limit of running ones raises
        `TooManyJobs`, or with `supersede` (a page the user moved on from) cancels their oldest
        running job to make room."""
        ...

    def get(self, user_id: int, job_id: str) -> JobView | None:
        """The job, or None for an unknown id or another user's job."""
        ...

    def cancel(self, user_id: int, job_id: str) -> bool:
        """Ask the job to stop; False for an unknown id, another user's or a finished job."""
        ...

    def ping(self) -> None:
        """Raise `JobsUnavailable` unless the back end can take and answer jobs now."""
        ...

    def close(self) -> None:
        """Stop this process's part: cancel jobs running here, release connections."""
        ...


def make_jobs(
    settings: Settings,
    store: Store,
    provider: Provider | None,
    *,
    config: JobsConfig | None = None,
) -> Jobs:
    """The threads back end, or the Celery back end when `settings.redis_url` is set."""
    from sarportal.jobs.config import JobsConfig

    config = config or JobsConfig.from_env()
    if settings.redis_url:
        from sarportal.jobs.redis_jobs import RedisJobs

        return RedisJobs(settings, config)
    from sarportal.jobs.threads import ThreadJobs

    return ThreadJobs(store, provider, config)


__all__ = [
    "FINISHED_STATES",
    "JobState",
    "JobView",
    "Jobs",
    "JobsUnavailable",
    "StatsRequest",
    "make_jobs",
]
