"""The Celery back end's tasks: `plan` cuts a job into shards, one `shard` task per shard.

Messages are JSON and carry ids, filters and shard bounds only: the worker loads and decrypts
the user's provider credentials itself. Celery keeps no results (`task_ignore_result`): the job's
state, progress, partial aggregates and result live under `sarportal:job:` in Redis
(`redis_state`). Tasks are acknowledged late and one at a time, so a shard whose worker died is
delivered again; it then replaces its earlier partial aggregate instead of adding to it.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task
from kombu import Queue

from sarportal.config import Settings
from sarportal.domain.moments import parse_time, rfc3339
from sarportal.jobs.config import JobsConfig
from sarportal.jobs.redis_state import RedisState
from sarportal.jobs.work import (
    CredentialGates,
    failure_code,
    log_failure,
    open_session,
    page_source,
    provider_for,
)
from sarportal.provider import Provider
from sarportal.stats import Aggregate, PageDecoder, RunCancelled, Shard, batched, fetch_shard
from sarportal.stats.engine import CPU_TURN, plan
from sarportal.store import Store

log = logging.getLogger("sarportal.jobs")

QUEUE = "stats"
PLAN_TASK = "sarportal.stats.plan"
SHARD_TASK = "sarportal.stats.shard"
WRITE_INTERVAL = 0.5  # seconds between a shard's partial writes (and always after its last page)


def make_celery(redis_url: str, *, visibility_timeout: float = 900.0) -> Celery:
    """The Celery app on the Redis broker at `redis_url`, with the statistics tasks; a task
    left unacknowledged by a dead worker is delivered again after `visibility_timeout` s."""
    # The bulk actions' task stands above the jobs (it acts through `sarportal.actions`): the
    # worker imports it by name, and it attaches itself to every app (a shared task).
    app = Celery("sarportal", broker=redis_url, set_as_current=False, include=["sarportal.bulk"])
    app.conf.update(
        task_default_queue=QUEUE,
        task_queues=[Queue(QUEUE, routing_key=QUEUE)],
        task_routes={"sarportal.*": {"queue": QUEUE, "routing_key": QUEUE}},
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout},
    )
    app.task(name=PLAN_TASK, bind=True)(_plan_task)
    app.task(name=SHARD_TASK, bind=True)(_shard_task)
    return app


@dataclass(frozen=True)
class _Runtime:
    """What a worker process needs: settings from the environment, store, provider, state."""

    config: JobsConfig
    store: Store
    provider: Provider | None
    gates: CredentialGates
    state: RedisState


@functools.cache
def _runtime_for(pid: int) -> _Runtime:
    settings = Settings.from_env()
    if not settings.redis_url:
        raise RuntimeError("SARPORTAL_REDIS_URL is not set")
    config = JobsConfig.from_env()
    state = RedisState.from_url(
        settings.redis_url, result_ttl=config.result_ttl, running_ttl=config.running_ttl
    )
    return _Runtime(config, Store(settings), provider_for(settings), CredentialGates(config), state)


def _runtime() -> _Runtime:
    """One runtime per process (a forked pool child builds its own connections)."""
    return _runtime_for(os.getpid())


def worker_runtime() -> _Runtime:
    """This worker process's settings, store, provider and rate gates (for the tasks that
    stand above the jobs, such as the bulk actions')."""
    return _runtime()


def _plan_task(task: Task[Any, Any], job_id: str, user_id: int, filters: dict[str, Any]) -> None:
    """Cut the job into shards (probing for the oldest match without `created_from`) and send
    one shard task per shard, newest first."""
    runtime = _runtime()
    state = runtime.state
    meta = state.meta(job_id)
    if meta is None or not state.move(job_id, "running", ("queued",)):
        return
    log.info("stats job %s: planning", job_id)
    try:
        session, credentials = open_session(runtime.store, runtime.provider, user_id)
        gate = runtime.gates.gate(credentials)
        config = runtime.config
        source = page_source(session, gate)
        log.info("stats job %s: reading the provider's %s", job_id, source.kind)
        planned = plan(
            filters,
            source.fetch_page,
            shards_per_period=config.shards_per_period or 2 * config.concurrency,
            limiter=gate.limiter,
            cancelled=lambda: state.halted(job_id),
            previous_period=meta.previous_period,
            now=lambda: meta.created_at,
        )
    except Exception as error:  # noqa: BLE001 - logged; every failure ends the job
        log_failure(job_id, error)
        if not isinstance(error, RunCancelled):
            state.fail(job_id, failure_code(error))
        return
    state.planned(
        job_id,
        planned.start,
        planned.end,
        len(planned.shards),
        previous_period=planned.previous_period,
    )
    if not planned.shards:
        state.succeed(job_id)
        return
    for number, shard in enumerate(planned.shards):
        task.app.send_task(
            SHARD_TASK,
            args=[job_id, user_id, number, planned.base, _bounds(shard)],
            queue=QUEUE,
            routing_key=QUEUE,
        )


def _bounds(shard: Shard) -> dict[str, str]:
    return {
        "created_from": rfc3339(shard.created_from),
        "created_to": rfc3339(shard.created_to),
        "period": shard.period,
    }


def _shard_task(
    task: Task[Any, Any],
    job_id: str,
    user_id: int,
    number: int,
    filters: dict[str, Any],
    bounds: dict[str, str],
) -> None:
    """Fetch and aggregate one shard, writing its partial aggregate to Redis as it goes; the
    last shard to finish merges them all into the result."""
    runtime = _runtime()
    state = runtime.state
    meta = state.meta(job_id)
    if meta is None or meta.state != "running" or state.shard_finished_before(job_id, number):
        return
    shard = Shard(
        parse_time(bounds["created_from"]), parse_time(bounds["created_to"]), bounds["period"]
    )
    worker = str(task.request.hostname or "?")
    aggregate = Aggregate(meta.time_zone)
    pages = rows = 0
    total: int | None = None
    written = time.monotonic()
    try:
        session, credentials = open_session(runtime.store, runtime.provider, user_id)
        gate = runtime.gates.gate(credentials)
        source = page_source(session, gate)
        shard_pages = fetch_shard(
            shard,
            filters,
            source.fetch_page,
            decoder=PageDecoder(),
            limiter=gate.limiter,
            cancelled=lambda: state.halted(job_id),
            page_size=source.page_size,
        )
        for page in batched(shard_pages):
            with CPU_TURN:  # as in the engine's own run, for workers with several threads
                aggregate.fold(page)
            pages, rows = pages + page.pages, rows + len(page)
            total = page.total_count if total is None else total
            if not page.has_more or time.monotonic() - written >= WRITE_INTERVAL:
                state.write_shard(job_id, number, aggregate, period=shard.period, pages=pages,
                                  rows=rows, total=total, worker=worker)  # fmt: skip
                written = time.monotonic()
    except Exception as error:  # noqa: BLE001 - logged; every failure ends the job
        log_failure(job_id, error)
        if not isinstance(error, RunCancelled):
            state.fail(job_id, failure_code(error))
        return
    if state.finish_shard(job_id, number):
        state.succeed(job_id)
        log.info("stats job %s: succeeded", job_id)
