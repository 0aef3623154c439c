"""Process faults: a Celery worker killed mid-job, Redis restarted, the database briefly gone.

- A worker killed with SIGKILL in the middle of a shard: its unacknowledged task is given to the
  next worker once the visibility timeout has passed (`task_acks_late`); that worker finishes the
  job and the result equals the ground truth (the redelivered shard replaces its partial).
- Redis restarted (a private `redis-server` without persistence, never the machine's shared
  one): while it is down the API and `/readyz` say so with a 503; the running job is lost with
  Redis's memory and answers 404; after Redis returns, a new job works.
- The database gone (a private PostgreSQL database renamed away after its connections are
  ended): `/readyz` 503, pages a clear 503 page and the API a 503 problem, an action is not sent
  to the provider; after it returns everything works and no audit entry is missing. An action
  whose pending audit line cannot be written is never sent (`TransactionActions`).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask
from sqlalchemy import select

from sarportal.actions import Actor, Intent, TransactionActions, new_key
from sarportal.auth.passwords import Passwords
from sarportal.auth.users import create_user
from sarportal.bulk import BulkCelery, BulkDesk
from sarportal.domain.actions import ActionKind, Amounts
from sarportal.domain.bulk import RowState
from sarportal.domain.roles import Role
from sarportal.jobs import JobView, StatsRequest
from sarportal.jobs.celery_app import make_celery
from sarportal.jobs.redis_jobs import RedisJobs
from sarportal.provider import Credentials, Provider, ProviderConfig
from sarportal.store import Store
from sarportal.store.engine import make_engine
from sarportal.store.migrate import upgrade
from sarportal.store.models import AuditEntry
from sarportal.web import create_app
from tests.fixtures.jobs import JobsWorld, jobs_config, wait_for
from tests.fixtures.polling import poll
from tests.fixtures.portal import FAST_ARGON2, PASSWORD, PG_ADMIN, csrf_token, new_client, sign_in
from tests.fixtures.portal_provider import make_provider_user
from tests.fixtures.sandbox import SECRETS, SandboxHandle
from tests.fixtures.services import port_open, require_service
from tests.integration.helpers_transaction import provider_view

VISIBILITY = 2  # seconds: how long a dead worker's task waits before it is given again
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
RANGE = {
    "created_from": (TODAY - timedelta(days=330)).isoformat().replace("+00:00", "Z"),
    "created_to": (TODAY - timedelta(days=30)).isoformat().replace("+00:00", "Z"),
}
STATUSES = ("declined", "authorized", "partially_captured", "captured", "partially_refunded",
            "refunded", "cancelled", "expired")  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PrivateRedis:
    """A `redis-server` of this module's own, without persistence, that tests stop and start."""

    folder: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--dir", str(self.folder)]  # fmt: skip
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.1):
            assert self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    require_service(
        "redis-server", shutil.which("redis-server") is not None, "install redis-server"
    )
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@dataclass
class Workers:
    """`sarportal worker` processes on the private Redis, each in a process group of its own."""

    world: JobsWorld
    redis: PrivateRedis
    folder: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, rate_limit: float, **extra: str) -> subprocess.Popen[bytes]:
        env = {
            **self.world.worker_env(self.redis.url),
            "SARPORTAL_JOBS_VISIBILITY_TIMEOUT": str(VISIBILITY),
            "SARPORTAL_JOBS_RATE_LIMIT": str(rate_limit),
            **extra,
        }
        command = [sys.executable, "-m", "sarportal", "worker", "--concurrency", "1",
                   "--hostname", f"{name}@%h"]  # fmt: skip
        with (self.folder / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.running[name] = process
        node = f"{name}@{socket.gethostname()}"
        app = make_celery(self.redis.url)
        try:
            deadline = time.monotonic() + 45
            while not _answers(app, node):
                assert process.poll() is None, self.log(name)
                assert time.monotonic() < deadline, f"worker {name} did not start"
        finally:
            app.close()
        return process

    def kill(self, name: str) -> None:
        """SIGKILL the worker and its pool: no chance to acknowledge or give anything back."""
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop_all(self) -> None:
        for name in list(self.running):
            self.kill(name)


def _answers(app: Any, node: str) -> bool:
    """Whether the worker `node` answers a ping (a Redis that restarted a moment ago may drop
    the first connection: that is no answer yet)."""
    try:
        return any(node in answer for answer in app.control.ping([node], timeout=0.5))
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture(scope="module")
def workers(
    jobs_world: JobsWorld, private_redis: PrivateRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    found = Workers(jobs_world, private_redis, tmp_path_factory.mktemp("workers"))
    yield found
    found.stop_all()


def _truth(world: JobsWorld, filters: dict[str, Any]) -> dict[str, Any]:
    """Count, Σ amount per currency and count per status, straight from the sandbox."""
    rows: list[dict[str, Any]] = []
    cursor = None
    with world.sandbox.client("demo-viewer", timeout=30.0) as client:
        while True:
            query = {**filters, "limit": 1000, **({"cursor": cursor} if cursor else {})}
            body = client.get("/v1/transactions", params=query).raise_for_status().json()
            rows += body["data"]
            if not body["has_more"]:
                break
            cursor = body["next_cursor"]
    amounts: dict[str, int] = defaultdict(int)
    for row in rows:
        amounts[row["currency"]] += row["amount"]
    statuses = Counter(row["status"] for row in rows)
    return {
        "count": len(rows),
        "amount_by_currency": dict(amounts),
        "by_status": {status: statuses.get(status, 0) for status in STATUSES},
    }


def test_a_worker_killed_mid_shard_is_replaced_and_the_result_is_exact(
    jobs_world: JobsWorld, private_redis: PrivateRedis, workers: Workers
) -> None:
    workers.start("victim", rate_limit=5)  # slow pages: the kill lands inside a shard
    broker = redis.Redis.from_url(private_redis.url)
    jobs = RedisJobs(replace(jobs_world.settings, redis_url=private_redis.url), jobs_config())
    try:
        user = jobs_world.user_a
        view = jobs.submit(user, StatsRequest(RANGE), refresh=True)

        def inside_a_shard(seen: JobView) -> bool:
            return seen.finished or ((seen.progress["pages"] or 0) >= 1 and broker.hlen("unacked"))

        wait_for(lambda: jobs.get(user, view.id), inside_a_shard, timeout=30)
        workers.kill("victim")
        assert broker.hlen("unacked") >= 1, "the kill did not leave a task unacknowledged"
        during = jobs.get(user, view.id)
        assert during is not None and during.state == "running"
        done_before = during.progress["shards_done"] or 0
        assert done_before < (during.progress["shards_total"] or 16)
        # A task out longer than the visibility timeout is given again when a worker starts.
        time.sleep(VISIBILITY + 0.5)
        workers.start("heir", rate_limit=50)
        final = wait_for(lambda: jobs.get(user, view.id), timeout=60)[-1]
        assert final.state == "succeeded", (final.error, workers.log("heir"))
        assert final.result is not None
        truth = _truth(jobs_world, RANGE)
        assert final.result["totals"]["count"] == truth["count"] > 100
        assert final.result["totals"]["amount_by_currency"] == truth["amount_by_currency"]
        assert final.result["by_status"] == truth["by_status"]
        ran = broker.hgetall(f"sarportal:job:{view.id}:workers")
        by = Counter(name.decode().split("@")[0] for name in ran.values())
        assert by["heir"] >= 1 and set(by) <= {"victim", "heir"}, by
    finally:
        jobs.close()
        broker.close()


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == code


def test_redis_restarted_mid_job_is_reported_and_new_jobs_work_after(
    jobs_world: JobsWorld, private_redis: PrivateRedis, workers: Workers
) -> None:
    if not workers.running:
        workers.start("steady", rate_limit=20)
    app = create_app(replace(jobs_world.settings, redis_url=private_redis.url))
    app.config["TESTING"] = True
    client = app.test_client()
    auth = {"Authorization": f"Bearer {jobs_world.token_a}"}
    body = {"filters": RANGE, "refresh": True}
    try:
        submitted = client.post("/api/v1/stats/jobs", json=body, headers=auth)
        assert submitted.status_code == 202
        location = submitted.headers["Location"]
        seen = wait_for(
            lambda: _view(client.get(location, headers=auth).get_json()),
            lambda seen: seen.state != "queued",
        )
        assert seen[-1].state == "running", seen[-1]
        private_redis.stop()
        _problem(client.get(location, headers=auth), 503, "jobs_unavailable")
        _problem(
            client.post("/api/v1/stats/jobs", json=body, headers=auth), 503, "jobs_unavailable"
        )
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"] == {"database": "ok", "jobs": "failing"}

        private_redis.start()  # empty: the running job went with Redis's memory
        deadline = time.monotonic() + 20
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the portal did not see Redis come back"
            time.sleep(0.05)
        _problem(client.get(location, headers=auth), 404, "not_found")
        again = client.post("/api/v1/stats/jobs", json=body, headers=auth)
        assert again.status_code == 202, again.get_data(as_text=True)
        final = wait_for(
            lambda: _view(client.get(again.headers["Location"], headers=auth).get_json()),
            timeout=60,
        )[-1]
        assert final.state == "succeeded", final.error
        assert final.result is not None
        assert final.result["totals"]["count"] == _truth(jobs_world, RANGE)["count"]
    finally:
        if private_redis.process is None:
            private_redis.start()
        app.extensions["sarportal"].jobs.close()
        app.extensions["sarportal"].provider.close()
        app.extensions["sarportal"].store.dispose()


def _view(body: dict[str, Any]) -> JobView:
    return JobView(
        id=body["id"],
        state=body["state"],
        progress=body["progress"],
        result=body["result"],
        partial=body["partial"],
        error=body["error"],
        created_at=datetime.fromisoformat(body["created_at"]),
        finished_at=None,
    )


# -- the database briefly gone ------------------------------------------------------------------


@pytest.fixture
def private_database() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (it is renamed away and back)."""
    require_service(
        "PostgreSQL",
        port_open("127.0.0.1", 5432),
        "start it at 127.0.0.1:5432 with trust auth for postgres",
    )
    name = f"sarportal_outage_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
    upgrade(engine)
    engine.dispose()
    yield name
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        for candidate in (name, f"{name}_away"):
            admin.execute(f'DROP DATABASE IF EXISTS "{candidate}" WITH (FORCE)')


def _rename(old: str, new: str) -> None:
    """End every connection to `old` (as a database restart would), then rename it."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (old,),
        )
        admin.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')


def _audit(app: Flask, tx_id: str) -> list[tuple[int, str, int | None]]:
    store: Store = app.extensions["sarportal"].store
    with store.unit_of_work() as uow:
        query = select(AuditEntry).where(AuditEntry.target_id == tx_id).order_by(AuditEntry.id)
        return [(e.id, e.outcome, e.completes_id) for e in uow.session.scalars(query)]


def _captured(handle: SandboxHandle) -> str:
    with handle.client("demo-operator") as client:
        params = {"status": "captured", "currency": "EUR", "limit": 1}
        return str(client.get("/v1/transactions", params=params).json()["data"][0]["id"])


def test_the_database_briefly_gone_is_a_clear_503_and_loses_no_audit_entry(
    private_database: str,
    make_sandbox: Callable[..., SandboxHandle],
    make_provider_app: Callable[..., Flask],
) -> None:
    handle = make_sandbox(transactions=300, seed=4)
    app = make_provider_app(
        handle, database_url=f"postgresql://postgres@127.0.0.1:5432/{private_database}"
    )
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer like production: never a trace
    user = make_provider_user(app, Role.OPERATOR)
    browser = new_client(app)
    assert sign_in(browser, user.email) == 303
    with app.extensions["sarportal"].store.unit_of_work() as uow:
        raw, _row = uow.tokens.create(user.id, None)
        uow.commit()
    auth = {"Authorization": f"Bearer {raw}"}
    api = app.test_client()
    tx_id = _captured(handle)
    refund = {"amount": 100, "reason": "goodwill"}
    path = f"/api/v1/transactions/{tx_id}/refunds"
    assert api.post(path, json=refund, headers=auth).status_code == 201
    token = csrf_token(browser, "/account")

    _rename(private_database, f"{private_database}_away")
    try:
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "failing"
        for page in ("/transactions", f"/transactions/{tx_id}", "/account"):
            response = browser.get(page)
            text = response.get_data(as_text=True)
            assert response.status_code == 503, (page, response.status_code)
            assert "cannot reach its database" in text and "Traceback" not in text, page
        posted = browser.post(f"/transactions/{tx_id}/customer/email", data={"csrf_token": token})
        assert posted.status_code == 503
        _problem(api.get("/api/v1/me", headers=auth), 503, "database_unavailable")
        _problem(api.post(path, json=refund, headers=auth), 503, "database_unavailable")
        assert provider_view(handle, tx_id)["refunded_amount"] == 100  # nothing was sent
    finally:
        _rename(f"{private_database}_away", private_database)

    assert api.get("/readyz").status_code == 200
    assert browser.get("/transactions").status_code == 200  # the session survived
    assert api.post(path, json=refund, headers=auth).status_code == 201
    assert provider_view(handle, tx_id)["refunded_amount"] == 200
    entries = _audit(app, tx_id)
    pending = [entry_id for entry_id, outcome, _ in entries if outcome == "pending"]
    completed = [completes for _, outcome, completes in entries if outcome == "succeeded"]
    assert len(pending) == 2 and sorted(completed) == sorted(pending)  # two actions, both whole


class _Unwritable:
    """A store whose writes fail as when the database is gone."""

    def unit_of_work(self) -> Any:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT INTO audit_log", {}, Exception("connection refused"))


class _Recorder:
    """A provider session that records what it is asked to do."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            raise AssertionError(f"the provider was asked to {name}")

        return call


def test_an_action_whose_pending_line_cannot_be_written_is_never_sent() -> None:
    from sqlalchemy.exc import OperationalError

    session = _Recorder()
    actions = TransactionActions(_Unwritable(), session)  # type: ignore[arg-type]
    intent = Intent(
        transaction_id="tx_1",
        kind=ActionKind.REFUND,
        amount=100,
        currency="EUR",
        idempotency_key=new_key(),
        baseline=Amounts("captured", "EUR", 1000, 1000, 0, 0, None),
        reason="goodwill",
    )
    with pytest.raises(OperationalError):
        actions.perform(Actor(user_id=1, organisation_id=1), intent)
    assert session.calls == []


def test_a_bulk_jobs_worker_killed_mid_job_is_replaced_and_each_row_applies_once(
    jobs_world: JobsWorld,
    private_redis: PrivateRedis,
    workers: Workers,
    make_sandbox: Callable[..., SandboxHandle],
) -> None:
    own = make_sandbox(transactions=1500, seed=23)  # the jobs world's sandbox stays unwritten
    workers.stop_all()  # the workers of other tests act on the jobs world's sandbox (this test
    # comes last in the module: the workers it leaves stopped are no other test's)
    store = jobs_world.store
    user_id = create_user(
        store,
        Passwords(FAST_ARGON2),
        email=f"bulk-{secrets.token_hex(3)}@example.com",
        password=PASSWORD,
        role=Role.OPERATOR,
        organisation="Musterhaus GmbH",
        provider_credentials=("demo-operator", SECRETS["demo-operator"]),
    )
    with store.unit_of_work() as uow:
        organisation_id = uow.users.get(user_id).organisation_id  # type: ignore[union-attr]
    actor = Actor(user_id, organisation_id)
    desk = BulkDesk(store)
    provider = Provider(ProviderConfig(own.url, ca_bundle=own.ca))
    try:
        own_session = provider.session(Credentials("demo-operator", SECRETS["demo-operator"]))
        query = {"status": "captured", "currency": "CHF"}
        planned, _ = desk.plan_filter(own_session, ActionKind.REFUND, query)
    finally:
        provider.close()
    assert len(planned) >= 30, len(planned)
    key = desk.create(
        actor, ActionKind.REFUND, planned[:30], reason_code="goodwill", reason="Goodwill"
    )
    desk.start(actor, key)
    on_own = {"SARPORTAL_PROVIDER_URL": own.url, "SARPORTAL_PROVIDER_CA_BUNDLE": str(own.ca)}
    lease = {"SARPORTAL_JOBS_BULK_LEASE": "2"}
    workers.start("bulk-victim", rate_limit=5, **on_own, **lease)
    BulkCelery(private_redis.url).submit(key, user_id)

    def job() -> Any:
        return desk.get(actor, key)

    # The rows of a batch are marked `sending` in one commit and settled in one commit after
    # the batch: kill the worker while its batch is out, some of its refunds applied.
    poll(job, lambda found: found.counts.get(RowState.SENDING, 0) > 0, timeout=30, what="sending")
    poll(
        lambda: sum(
            provider_view(own, row.transaction_id)["refunded_amount"] > row.baseline.refunded
            for row in planned[:30]
        ),
        lambda applied: applied >= 3,
        timeout=30,
        every=0.1,
        what="three refunds applied",
    )
    workers.kill("bulk-victim")
    during = desk.get(actor, key)
    assert not during.finished and during.settled < during.total
    time.sleep(VISIBILITY + 0.5)  # the unacknowledged task is given again when a worker starts
    workers.start("bulk-heir", rate_limit=50, **on_own, **lease)
    try:
        final = poll(job, lambda found: found.finished, timeout=60, what="the job's end")[-1]
    finally:
        workers.stop_all()
    assert final.counts == {RowState.DONE: 30}, (final.counts, workers.log("bulk-heir"))
    for row in planned[:30]:
        after = provider_view(own, row.transaction_id)
        assert after["refunded_amount"] == row.baseline.refunded + row.amount
        assert len([e for e in after["events"] if e["type"] == "refund"]) == 1
