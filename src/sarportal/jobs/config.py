"""How statistics jobs run: result lifetime, concurrency and rate per provider credentials.

Read from the environment (`JobsConfig.from_env`) so that the web process and `sarportal worker`
agree; tests build it directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class JobsConfig:
    """Settings of the job back ends."""

    result_ttl: timedelta = timedelta(minutes=5)  # how long a finished job is kept and reused
    running_ttl: timedelta = timedelta(hours=1)  # how long a job's state lives while it runs
    concurrency: int = 4  # pages in flight at once per provider credentials, per process
    rate_limit: float | None = None  # requests a second per credentials, per process; None: any
    max_jobs: int = 8  # threads back end: jobs that run at once in the web process
    max_per_user: int = 3  # a user's queued and running jobs at once (every back end)
    shards_per_period: int | None = None  # None: the engine's choice (2 × concurrency)
    partial_interval: float = 0.25  # seconds between recomputations of a running job's figures
    # Celery on Redis: a task whose worker died unacknowledged is delivered again once it has
    # been out this long (when a worker starts or sweeps); longer than any shard may take.
    visibility_timeout: timedelta = timedelta(minutes=15)
    # Bulk actions: how long a worker holds a job without renewing; a worker that stopped
    # loses it after this, and another one resumes it.
    bulk_lease: timedelta = timedelta(seconds=30)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JobsConfig:
        """`SARPORTAL_JOBS_RESULT_TTL` (seconds), `SARPORTAL_JOBS_CONCURRENCY`,
        `SARPORTAL_JOBS_RATE_LIMIT` (requests a second), `SARPORTAL_JOBS_MAX_JOBS`,
        `SARPORTAL_JOBS_MAX_PER_USER`, `SARPORTAL_JOBS_SHARDS`,
        `SARPORTAL_JOBS_VISIBILITY_TIMEOUT` (seconds), `SARPORTAL_JOBS_BULK_LEASE` (seconds);
        unset: the defaults."""
        env = os.environ if environ is None else environ
        default = cls()

        def number(name: str) -> float | None:
            text = env.get(name, "").strip()
            return float(text) if text else None

        ttl = number("SARPORTAL_JOBS_RESULT_TTL")
        concurrency = number("SARPORTAL_JOBS_CONCURRENCY")
        max_jobs = number("SARPORTAL_JOBS_MAX_JOBS")
        per_user = number("SARPORTAL_JOBS_MAX_PER_USER")
        shards = number("SARPORTAL_JOBS_SHARDS")
        visibility = number("SARPORTAL_JOBS_VISIBILITY_TIMEOUT")
        lease = number("SARPORTAL_JOBS_BULK_LEASE")
        return cls(
            result_ttl=default.result_ttl if ttl is None else timedelta(seconds=ttl),
            concurrency=default.concurrency if concurrency is None else max(1, int(concurrency)),
            rate_limit=number("SARPORTAL_JOBS_RATE_LIMIT") or None,
            max_jobs=default.max_jobs if max_jobs is None else max(1, int(max_jobs)),
            max_per_user=default.max_per_user if per_user is None else max(1, int(per_user)),
            shards_per_period=None if shards is None else max(1, int(shards)),
            visibility_timeout=default.visibility_timeout
            if visibility is None
            else timedelta(seconds=max(1.0, visibility)),
            bulk_lease=default.bulk_lease if lease is None else timedelta(seconds=max(1.0, lease)),
        )
