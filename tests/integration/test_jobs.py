"""Statistics jobs on both back ends: threads in this process, and Celery with two real worker
processes on Redis. The ground truth comes from the sandbox's raw listing, summed here."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from sarportal.jobs import Jobs, JobView, StatsRequest, TooManyJobs
from sarportal.jobs.celery_app import QUEUE, SHARD_TASK
from sarportal.jobs.codes import PROVIDER_UNAVAILABLE
from sarportal.jobs.redis_jobs import RedisJobs
from sarportal.jobs.threads import ThreadJobs
from sarportal.provider import Provider, ProviderConfig
from sarportal.sandbox.server import sandbox_in_thread
from sarportal.stats import Aggregate, PageDecoder
from tests.fixtures.jobs import JobsDatabases, JobsWorld, jobs_config, wait_for
from tests.fixtures.sandbox import SECRETS

STATUSES = ("declined", "authorized", "partially_captured", "captured", "partially_refunded",
            "refunded", "cancelled", "expired")  # fmt: skip
CANARY = b"PIICANARY"
SECRET = SECRETS["demo-viewer"].encode()
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# Two periods compared (16 shards), and an open start found by the engine's probe (8 shards).
RANGE = {
    "created_from": _rfc3339(TODAY - timedelta(days=330)),
    "created_to": _rfc3339(TODAY - timedelta(days=30)),
    "status": ["captured", "declined", "partially_refunded", "refunded"],
    "amount_min": 2000,
}
OPEN_START = {"created_to": _rfc3339(TODAY - timedelta(days=100)), "payment_method": ["invoice"]}


def listing(world: JobsWorld, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Every matching summary, straight from the sandbox as demo-viewer."""
    rows: list[dict[str, Any]] = []
    cursor = None
    with world.sandbox.client("demo-viewer", timeout=30.0) as client:
        while True:
            query = {**filters, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v1/transactions", params=query).raise_for_status().json()
            rows += body["data"]
            if not body["has_more"]:
                return rows
            cursor = body["next_cursor"]


def ground_truth(rows: list[dict[str, Any]]) -> dict[str, Any]:
    amounts: dict[str, int] = defaultdict(int)
    for row in rows:
        amounts[row["currency"]] += row["amount"]
    statuses = Counter(row["status"] for row in rows)
    return {
        "count": len(rows),
        "amount_by_currency": dict(amounts),
        "by_status": {status: statuses.get(status, 0) for status in STATUSES},
    }


def finish(jobs: Jobs, user_id: int, view: JobView, timeout: float = 30.0) -> list[JobView]:
    return wait_for(lambda: jobs.get(user_id, view.id), timeout=timeout)


@pytest.fixture(params=["threads", "celery"])
def jobs(request: pytest.FixtureRequest) -> Jobs:
    """Each back end in turn."""
    name = "thread_jobs" if request.param == "threads" else "redis_jobs"
    found: Jobs = request.getfixturevalue(name)
    return found


@pytest.mark.parametrize("filters", [RANGE, OPEN_START], ids=["two-periods", "open-start"])
def test_threads_and_celery_agree_with_the_ground_truth(
    jobs_world: JobsWorld,
    thread_jobs: ThreadJobs,
    redis_jobs: RedisJobs,
    filters: dict[str, Any],
) -> None:
    request = StatsRequest(filters)
    on_threads = thread_jobs.submit(jobs_world.user_a, request)
    on_celery = redis_jobs.submit(jobs_world.user_a, request)
    threads_done = finish(thread_jobs, jobs_world.user_a, on_threads)[-1]
    celery_done = finish(redis_jobs, jobs_world.user_a, on_celery)[-1]
    assert (threads_done.state, celery_done.state) == ("succeeded", "succeeded"), (
        threads_done.error,
        celery_done.error,
    )
    assert threads_done.result is not None and celery_done.result is not None
    assert json.dumps(threads_done.result, sort_keys=True) == json.dumps(
        celery_done.result, sort_keys=True
    )
    truth = ground_truth(listing(jobs_world, filters))
    assert truth["count"] > 100
    result = celery_done.result
    assert result["totals"]["count"] == truth["count"]
    assert result["totals"]["amount_by_currency"] == truth["amount_by_currency"]
    assert result["by_status"] == truth["by_status"]
    assert celery_done.progress["rows"] == threads_done.progress["rows"]
    assert celery_done.progress["shards_done"] == celery_done.progress["shards_total"]


def test_a_provider_without_the_export_is_read_through_its_list_with_the_same_result(
    jobs_world: JobsWorld,
    thread_jobs: ThreadJobs,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same data (same seed and size) behind a sandbox that offers only the paged list: the
    job finds out from the provider's contract and reads the list; the jobs world's sandbox
    offers the export, which its job reads."""
    config = replace(
        jobs_world.sandbox.running.app.config, state_dir=tmp_path / "plain", port=0, export=False
    )
    with sandbox_in_thread(config) as running:
        plain = Provider(ProviderConfig(running.url, ca_bundle=running.ca))
        list_jobs = ThreadJobs(jobs_world.store, plain, jobs_config())
        request = StatsRequest(RANGE)
        with caplog.at_level(logging.INFO, logger="sarportal.jobs"):
            over_list = list_jobs.submit(jobs_world.user_a, request)
            over_export = thread_jobs.submit(jobs_world.user_a, request)
            listed = finish(list_jobs, jobs_world.user_a, over_list)[-1]
            exported = finish(thread_jobs, jobs_world.user_a, over_export)[-1]
        list_jobs.close()
        plain.close()
    assert (listed.state, exported.state) == ("succeeded", "succeeded")
    assert json.dumps(listed.result, sort_keys=True) == json.dumps(exported.result, sort_keys=True)
    read = {
        r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records if "reading" in r.getMessage()
    }
    assert read == {"list", "export"}


def test_two_worker_processes_share_one_job(
    jobs_world: JobsWorld, redis_jobs: RedisJobs, jobs_redis: redis.Redis
) -> None:
    view = redis_jobs.submit(jobs_world.user_a, StatsRequest(RANGE))
    done = finish(redis_jobs, jobs_world.user_a, view)[-1]
    assert done.state == "succeeded" and done.progress["shards_total"] == 16
    ran = jobs_redis.hgetall(f"sarportal:job:{view.id}:workers")
    assert len(ran) == 16
    per_worker = Counter(name.decode().split("@")[0] for name in ran.values())
    assert set(per_worker) == {"stats-a", "stats-b"}, per_worker


@pytest.fixture(params=["threads", "celery"])
def unthrottled_jobs(request: pytest.FixtureRequest, jobs_world: JobsWorld) -> Iterator[Jobs]:
    """Each back end, recomputing a running job's figures on every change: a job here is over
    in well under the default interval, which would show one partial and then the result."""
    config = jobs_config(partial_interval=0.0)
    found: Jobs
    if request.param == "threads":
        found = ThreadJobs(jobs_world.store, jobs_world.provider, config)
    else:
        request.getfixturevalue("celery_workers")
        request.getfixturevalue("jobs_redis")  # flushed before and after
        databases: JobsDatabases = request.getfixturevalue("jobs_databases")
        found = RedisJobs(replace(jobs_world.settings, redis_url=databases.url), config)
    yield found
    found.close()


def test_progress_only_moves_forward_and_partials_are_never_complete(
    jobs_world: JobsWorld, unthrottled_jobs: Jobs
) -> None:
    jobs = unthrottled_jobs
    view = jobs.submit(jobs_world.user_a, StatsRequest(RANGE), refresh=True)
    seen = wait_for(lambda: jobs.get(jobs_world.user_a, view.id), every=0.005)
    assert seen[-1].state == "succeeded"
    for before, after in itertools.pairwise(seen):
        for name in ("shards_total", "shards_done", "pages", "rows", "estimated_total"):
            old, new = before.progress[name], after.progress[name]
            assert old is None or (new is not None and new >= old), (name, old, new)
    estimates = {moment.progress["estimated_total"] for moment in seen} - {None}
    assert estimates <= {seen[-1].progress["rows"]}, "an estimate summed only some shards"
    for moment in seen[:-1]:
        assert moment.result is None and moment.finished_at is None
    partials = [moment.partial for moment in seen if moment.partial is not None]
    assert partials, "no partial figures were seen while the job ran"
    final = seen[-1].result
    assert final is not None
    assert all(p["totals"]["count"] <= final["totals"]["count"] for p in partials)
    assert len({json.dumps(p["totals"]) for p in partials}) >= 2, "the partials did not grow"


def test_user_b_cannot_read_or_cancel_user_a_job(jobs_world: JobsWorld, jobs: Jobs) -> None:
    view = jobs.submit(jobs_world.user_a, StatsRequest(OPEN_START), refresh=True)
    assert jobs.get(jobs_world.user_b, view.id) is None
    assert jobs.cancel(jobs_world.user_b, view.id) is False
    assert jobs.get(jobs_world.user_b, "no-such-job") is None
    assert finish(jobs, jobs_world.user_a, view)[-1].state == "succeeded"
    assert jobs.get(jobs_world.user_b, view.id) is None
    other = jobs.submit(jobs_world.user_b, StatsRequest(OPEN_START))
    assert other.id != view.id  # same filters, another user: never the same job


def test_a_shard_that_keeps_failing_fails_the_job_without_a_result(
    jobs_world: JobsWorld, jobs: Jobs
) -> None:
    jobs_world.faults(kind="error_500", path_prefix="/v1/exports/transactions", count=100_000)
    try:
        view = jobs.submit(jobs_world.user_a, StatsRequest(RANGE), refresh=True)
        seen = finish(jobs, jobs_world.user_a, view, timeout=40)
    finally:
        jobs_world.faults(clear=True)
    final = seen[-1]
    assert final.state == "failed"
    assert final.error == PROVIDER_UNAVAILABLE
    assert final.result is None and final.partial is None
    assert all(moment.result is None for moment in seen)
    assert final.finished_at is not None


def test_a_finished_job_is_reused_within_its_lifetime_and_refresh_starts_another(
    jobs_world: JobsWorld, jobs: Jobs
) -> None:
    request = StatsRequest(OPEN_START)
    first = finish(jobs, jobs_world.user_a, jobs.submit(jobs_world.user_a, request))[-1]
    assert first.state == "succeeded"
    shuffled = {"payment_method": ["invoice"], "created_to": OPEN_START["created_to"]}
    again = jobs.submit(jobs_world.user_a, StatsRequest(shuffled))
    assert (again.id, again.state, again.finished_at) == (first.id, "succeeded", first.finished_at)
    assert again.result == first.result
    fresh = jobs.submit(jobs_world.user_a, request, refresh=True)
    assert fresh.id != first.id and fresh.state in ("queued", "running")
    assert finish(jobs, jobs_world.user_a, fresh)[-1].state == "succeeded"
    assert jobs.submit(jobs_world.user_a, request).id == fresh.id


def test_the_same_request_submitted_at_once_shares_one_job(
    jobs_world: JobsWorld, jobs: Jobs
) -> None:
    request = StatsRequest({**RANGE, "currency": ["CHF"]})  # no other test asks for this
    start = threading.Barrier(8)

    def submit(_: int) -> str:
        start.wait()
        return jobs.submit(jobs_world.user_a, request).id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(submit, range(8)))
    assert len(ids) == 1
    assert finish(jobs, jobs_world.user_a, jobs.get(jobs_world.user_a, ids.pop()))[-1].state == (
        "succeeded"
    )


def test_threads_forget_a_finished_job_after_its_lifetime(jobs_world: JobsWorld) -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    jobs = ThreadJobs(jobs_world.store, jobs_world.provider, jobs_config(), clock=lambda: now[0])
    try:
        first = jobs.submit(jobs_world.user_a, StatsRequest(OPEN_START))
        assert finish(jobs, jobs_world.user_a, first)[-1].state == "succeeded"
        now[0] += timedelta(minutes=4)
        assert jobs.submit(jobs_world.user_a, StatsRequest(OPEN_START)).id == first.id
        now[0] += timedelta(minutes=2)
        assert jobs.get(jobs_world.user_a, first.id) is None
        assert jobs.submit(jobs_world.user_a, StatsRequest(OPEN_START)).id != first.id
    finally:
        jobs.close()


def test_cancel_stops_a_running_job(jobs_world: JobsWorld, jobs: Jobs) -> None:
    view = jobs.submit(jobs_world.user_a, StatsRequest(RANGE), refresh=True)
    wait_for(
        lambda: jobs.get(jobs_world.user_a, view.id),
        lambda seen: (seen.progress["pages"] or 0) >= 1 or seen.finished,
        every=0.002,
    )
    assert jobs.cancel(jobs_world.user_a, view.id) is True
    cancelled = jobs.get(jobs_world.user_a, view.id)
    assert cancelled is not None and cancelled.state == "cancelled" and cancelled.result is None
    assert jobs.cancel(jobs_world.user_a, view.id) is False
    # The workers are free again soon: another job runs to the end behind the cancelled one.
    other = jobs.submit(jobs_world.user_a, StatsRequest(OPEN_START), refresh=True)
    assert finish(jobs, jobs_world.user_a, other, timeout=15)[-1].state == "succeeded"
    after = jobs.get(jobs_world.user_a, view.id)
    assert after is not None and after.state == "cancelled" and after.result is None
    total = after.progress["shards_total"] or 16
    assert (after.progress["shards_done"] or 0) < total


def _messages(connection: redis.Redis) -> list[bytes]:
    """The broker's waiting and unacknowledged messages (kombu's Redis layout)."""
    waiting = connection.lrange(QUEUE, 0, -1)
    unacked = connection.hvals("unacked")
    return [*waiting, *unacked]


def _task_of(raw: bytes) -> tuple[str, list[Any]]:
    message = json.loads(raw)
    envelope = message[0] if isinstance(message, list) else message
    body = json.loads(base64.b64decode(envelope["body"]))
    return envelope["headers"]["task"], body[0]


def test_a_plan_message_holds_ids_and_filters_only(
    jobs_world: JobsWorld, jobs_databases: JobsDatabases
) -> None:
    """Captured on a Redis database that no worker reads."""
    url = jobs_databases.capture_url
    jobs_databases.flush(url)
    connection = redis.Redis.from_url(url)
    jobs = RedisJobs(replace(jobs_world.settings, redis_url=url), jobs_config())
    try:
        view = jobs.submit(jobs_world.user_a, StatsRequest(RANGE))
        assert view.state == "queued"
        (raw,) = connection.lrange(QUEUE, 0, -1)
        assert SECRET not in raw and CANARY not in raw
        task, args = _task_of(raw)
        assert task == "sarportal.stats.plan"
        assert args == [view.id, jobs_world.user_a, {**RANGE, "status": sorted(RANGE["status"])}]
    finally:
        jobs.close()
        connection.close()
        jobs_databases.flush(url)


def test_no_secret_or_personal_data_in_messages_or_redis(
    jobs_world: JobsWorld, redis_jobs: RedisJobs, jobs_redis: redis.Redis
) -> None:
    view = redis_jobs.submit(jobs_world.user_a, StatsRequest(RANGE))
    captured: dict[bytes, None] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        captured.update(dict.fromkeys(_messages(jobs_redis)))
        current = redis_jobs.get(jobs_world.user_a, view.id)
        if current is not None and current.finished:
            break
    assert current is not None and current.state == "succeeded"
    shard_messages = [_task_of(raw) for raw in captured if _task_of(raw)[0] == SHARD_TASK]
    assert shard_messages, "no shard message was seen in the queue"
    for _task, (job_id, user_id, _number, filters, bounds) in shard_messages:
        assert (job_id, user_id) == (view.id, jobs_world.user_a)
        assert set(filters) == {"status", "amount_min"}
        assert set(bounds) == {"created_from", "created_to", "period"}
    for raw in captured:
        assert SECRET not in raw and CANARY not in raw
    keys = list(jobs_redis.scan_iter(count=1000))
    assert any(key.startswith(b"sarportal:job:") for key in keys)
    for key in keys:
        for value in _values(jobs_redis, key):
            assert SECRET not in value and CANARY not in value, key
        if key.startswith(b"sarportal:"):
            assert jobs_redis.ttl(key) > 0, f"{key!r} has no TTL"


def _values(connection: redis.Redis, key: bytes) -> list[bytes]:
    kind = connection.type(key)
    if kind == b"string":
        return [connection.get(key) or b""]
    if kind == b"hash":
        return [k + b"=" + v for k, v in connection.hgetall(key).items()]
    if kind == b"list":
        return list(connection.lrange(key, 0, -1))
    if kind == b"set":
        return list(connection.smembers(key))
    if kind == b"zset":
        return [member for member, _score in connection.zrange(key, 0, -1, withscores=True)]
    return []


def test_a_redelivered_shard_replaces_its_partial_instead_of_adding_to_it(
    jobs_world: JobsWorld, redis_jobs: RedisJobs
) -> None:
    """What a shard delivered twice (its worker died) writes: the second run's aggregate only."""
    state = redis_jobs.state
    with jobs_world.sandbox.client("demo-viewer") as client:
        raw = client.get("/v1/transactions", params={"limit": 300}).raise_for_status().content
    aggregate = Aggregate("Europe/Berlin")
    aggregate.fold(PageDecoder().decode(raw))
    job_id = "redelivered"
    state.create(job_id, jobs_world.user_a, "digest", StatsRequest({}), datetime.now(UTC))
    assert state.move(job_id, "running", ("queued",))
    state.planned(job_id, None, datetime.now(UTC), 2, previous_period=False)
    for pages in (1, 1):  # the first delivery, then the redelivery from the start
        state.write_shard(job_id, 0, aggregate, period="current", pages=pages, rows=300,
                          total=300, worker="w")  # fmt: skip
    assert state.finish_shard(job_id, 0) is False
    assert state.finish_shard(job_id, 0) is False  # a redelivered finished shard counts once
    state.write_shard(job_id, 1, Aggregate("Europe/Berlin"), period="current", pages=1, rows=0,
                      total=0, worker="w")  # fmt: skip
    assert state.finish_shard(job_id, 1) is True
    assert state.succeed(job_id)
    done = redis_jobs.get(jobs_world.user_a, job_id)
    assert done is not None and done.state == "succeeded" and done.result is not None
    assert done.result["totals"]["count"] == 300
    assert done.progress["rows"] == 300 and done.progress["shards_done"] == 2


@pytest.mark.parametrize("backend", ["threads", "celery"])
def test_a_user_runs_at_most_their_limit_of_jobs_even_when_submissions_race(
    jobs_world: JobsWorld, jobs_databases: JobsDatabases, backend: str
) -> None:
    """Jobs that stay queued or running while the test looks: on threads, one job at a time at
    2 requests a second; on Celery, a Redis database that no worker reads."""
    url = jobs_databases.capture_url
    jobs: Jobs
    if backend == "threads":
        jobs = ThreadJobs(
            jobs_world.store, jobs_world.provider, jobs_config(max_jobs=1, rate_limit=2.0)
        )
    else:
        jobs_databases.flush(url)
        jobs = RedisJobs(replace(jobs_world.settings, redis_url=url), jobs_config())
    user = jobs_world.user_a
    made: list[str] = []
    try:
        requests = [StatsRequest({**RANGE, "amount_min": 2000 + n}) for n in range(6)]
        barrier = threading.Barrier(len(requests))

        def submit(request: StatsRequest) -> str | int:
            barrier.wait()
            try:
                return jobs.submit(user, request).id
            except TooManyJobs as refused:
                return refused.limit

        with ThreadPoolExecutor(len(requests)) as pool:
            outcomes = list(pool.map(submit, requests))
        admitted = [outcome for outcome in outcomes if isinstance(outcome, str)]
        made += admitted
        assert len(admitted) == 3 and outcomes.count(3) == 3, outcomes
        known = requests[outcomes.index(admitted[0])]
        assert jobs.submit(user, known).id == admitted[0]  # a known request is no new job
        made.append(jobs.submit(jobs_world.user_b, requests[5]).id)  # others have their own
        # A page the user opens supersedes their oldest running job.
        page = jobs.submit(user, StatsRequest({**RANGE, "amount_min": 3000}), supersede=True)
        made.append(page.id)

        def states() -> list[str]:
            return [getattr(jobs.get(user, job_id), "state", "gone") for job_id in admitted]

        assert sorted(states()) == ["cancelled", "queued", "queued"] or sorted(states()) == [
            "cancelled", "queued", "running"
        ], states()  # fmt: skip
        with pytest.raises(TooManyJobs):
            jobs.submit(user, StatsRequest({**RANGE, "amount_min": 4000}))
        # A job that ends makes room for another.
        assert jobs.cancel(user, page.id)
        room = jobs.submit(user, StatsRequest({**RANGE, "amount_min": 4000}))
        made.append(room.id)
        assert room.state in ("queued", "running")
    finally:
        for job_id in made:
            jobs.cancel(user, job_id)
            jobs.cancel(jobs_world.user_b, job_id)
        jobs.close()
        if backend == "celery":
            jobs_databases.flush(url)
