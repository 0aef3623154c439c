"""Bulk actions with their rules: `BulkDesk(store)` plans, makes, starts and cancels jobs;
`run_job` works one through, row by row, at the provider's pace.

- Planning reads the chosen transactions from the provider now (all that match a filter, up
  to `MAX_ROWS`, or a list of ids) and keeps, per row, the amount the action will take and
  the amounts seen (`domain.bulk.plan_rows`); the draft job holds each row's idempotency key.
- Starting queues the draft; a worker (a thread of the web process, or `sarportal worker`)
  takes it with a lease, and each row goes through `TransactionActions` with its own key, so
  a retried, resumed or restarted job sends the same requests again and the provider applies
  each once. A row above the organisation's approval threshold becomes a request for approval
  (made with the row's key) instead of being sent.
- A row is marked `sending` and committed before it is sent: a worker that died mid-row left
  it so, and the next one sends it again.

Rows hold ids, amounts and codes; the refund's text stays on the job until it ends.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, Protocol

from celery import shared_task

from sarportal.actions import (
    Actor,
    Intent,
    Outcome,
    TransactionActions,
    amounts_of,
    new_key,
    provider_key,
    summary_of,
)
from sarportal.approvals import ApprovalDesk
from sarportal.config import Settings
from sarportal.domain.actions import ActionKind, Amounts
from sarportal.domain.bulk import (
    MAX_ROWS,
    BulkJob,
    BulkRow,
    JobState,
    Planned,
    RowState,
    Skipped,
    plan_rows,
)
from sarportal.provider import Credentials, Provider, ProviderSession
from sarportal.provider.errors import ProviderNotFound
from sarportal.stats.limiter import TokenBucket
from sarportal.store import Store

__all__ = ["BulkDesk", "BulkError", "BulkRunner", "BulkThreads", "make_bulk_runner", "run_job"]

log = logging.getLogger("sarportal.bulk")

LEASE: Final = timedelta(seconds=30)
CONCURRENCY: Final = 4  # rows in flight at once per job
BATCH: Final = 50  # rows between two looks at the lease and a stop
BULK_TASK: Final = "sarportal.bulk.run"
LIST_PAGE: Final = 1000


class BulkError(Exception):
    """A bulk job cannot be planned, found or changed; `code` is a key of the portal's errors."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class BulkDesk:
    """Plans, makes, starts and cancels bulk jobs."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- planning ------------------------------------------------------------------------------

    def plan_filter(
        self, session: ProviderSession, kind: ActionKind, params: Mapping[str, Any]
    ) -> tuple[list[Planned], list[Skipped]]:
        """The rows for every transaction matching `params` (provider list filters)."""
        chosen: list[tuple[str, Amounts, int | None]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": LIST_PAGE, **({"cursor": cursor} if cursor else {})}
            page = session.list_transactions(query)
            chosen.extend((row.id, amounts_of(row), None) for row in page.data)
            if len(chosen) > MAX_ROWS:
                raise BulkError("bulk_too_many")
            if not page.has_more or not page.next_cursor:
                break
            cursor = page.next_cursor
        return plan_rows(kind, chosen, self._store.clock())

    def plan_ids(
        self,
        session: ProviderSession,
        kind: ActionKind,
        wanted: Iterable[tuple[str, int | None]],
    ) -> tuple[list[Planned], list[Skipped]]:
        """The rows for these transaction ids (with an amount each, None: all possible); an
        id the provider does not know for this merchant is left out as `not_found`."""
        chosen: list[tuple[str, Amounts, int | None]] = []
        missing: list[Skipped] = []
        wanted = list(wanted)
        if len(wanted) > MAX_ROWS:
            raise BulkError("bulk_too_many")
        for tx_id, amount in wanted:
            try:
                found = summary_of(session.transaction(tx_id))
            except ProviderNotFound:
                missing.append(Skipped(tx_id, "not_found"))
                continue
            chosen.append((found.id, amounts_of(found), amount))
        planned, skipped = plan_rows(kind, chosen, self._store.clock())
        return planned, missing + skipped

    # -- jobs ----------------------------------------------------------------------------------

    def create(
        self,
        actor: Actor,
        kind: ActionKind,
        rows: list[Planned],
        *,
        reason_code: str | None = None,
        reason: str | None = None,
    ) -> str:
        """A draft job of `rows`, each with its own new idempotency key."""
        if not rows:
            raise BulkError("bulk_empty")
        keyed = [(row, provider_key(actor.user_id, new_key())) for row in rows]
        with self._store.unit_of_work() as uow:
            key = uow.bulk.create(
                organisation_id=actor.organisation_id,
                user_id=actor.user_id,
                kind=kind,
                reason_code=reason_code,
                reason=reason,
                rows=keyed,
            )
            uow.commit()
        return key

    def get(self, actor: Actor, key: str) -> BulkJob:
        """The job `key` if it is `actor`'s; `bulk_not_found` otherwise."""
        with self._store.unit_of_work() as uow:
            job = uow.bulk.get(key) if 0 < len(key) <= 24 else None
        if job is None or job.user_id != actor.user_id:
            raise BulkError("bulk_not_found")
        return job

    def rows(self, actor: Actor, key: str) -> list[BulkRow]:
        self.get(actor, key)
        with self._store.unit_of_work() as uow:
            return uow.bulk.rows(key)

    def recent(self, actor: Actor) -> list[BulkJob]:
        with self._store.unit_of_work() as uow:
            return uow.bulk.of_user(actor.user_id)

    def set_reason(self, actor: Actor, key: str, code: str, reason: str) -> None:
        """The reason every refund of the draft is sent with."""
        self.get(actor, key)
        with self._store.unit_of_work() as uow:
            uow.bulk.set_reason(key, code, reason)
            uow.commit()

    def start(self, actor: Actor, key: str) -> BulkJob:
        """Queue the draft (once: a second start is `bulk_started`)."""
        job = self.get(actor, key)
        with self._store.unit_of_work() as uow:
            if not uow.bulk.start(key):
                raise BulkError("bulk_started")
            uow.audit.record(
                f"bulk.{job.kind.value}",
                actor_user_id=actor.user_id,
                organisation_id=actor.organisation_id,
                target_type="bulk",
                target_id=key,
                details={"rows": job.total},
            )
            uow.commit()
        return self.get(actor, key)

    def cancel(self, actor: Actor, key: str) -> BulkJob:
        """Stop the job: rows not sent yet are not sent."""
        self.get(actor, key)
        with self._store.unit_of_work() as uow:
            if not uow.bulk.cancel(key):
                raise BulkError("bulk_finished")
            uow.commit()
        return self.get(actor, key)


def run_job(
    store: Store,
    key: str,
    session_for: Callable[[int], ProviderSession],
    *,
    owner: str,
    pace: Callable[[], None] = lambda: None,
    lifetime: timedelta | None = None,
    lease: timedelta = LEASE,
    concurrency: int = CONCURRENCY,
) -> bool:
    """Work the job `key` through (as `owner`); False when another worker holds it. `pace` is
    called before each request (the rate limit per credentials); `session_for(user_id)` opens
    the provider as the job's user. Up to `concurrency` rows are in flight at once (each row's
    round trip and commits would otherwise leave the provider's rate unused); between batches
    the lease is renewed and a stop is noticed."""
    with store.unit_of_work() as uow:
        if not uow.bulk.claim(key, owner, lease):
            return False
        uow.commit()
        job = uow.bulk.get(key)
    assert job is not None  # noqa: S101 (just claimed)
    session = session_for(job.user_id)
    actor = Actor(job.user_id, job.organisation_id)
    actions = TransactionActions(store, session)
    approvals = ApprovalDesk(store, lifetime) if lifetime else ApprovalDesk(store)
    policies = approvals.policies(job.organisation_id)
    renewed = time.monotonic()
    try:
        while True:
            with store.unit_of_work() as uow:
                if uow.bulk.is_cancelled(key):
                    return True
                batch = uow.bulk.rows(key, states=[RowState.SENDING, RowState.QUEUED], limit=BATCH)
            if not batch:
                break
            if time.monotonic() - renewed > lease.total_seconds() / 3:
                with store.unit_of_work() as uow:
                    if not uow.bulk.claim(key, owner, lease):
                        return True  # another worker has it now
                    uow.commit()
                renewed = time.monotonic()
            _run_batch(
                store,
                job,
                batch,
                actions,
                approvals,
                policies,
                actor,
                pace,
                concurrency,
            )
        with store.unit_of_work() as uow:
            uow.bulk.finish(key, JobState.FINISHED)
            uow.commit()
        return True
    finally:
        with store.unit_of_work() as uow:
            uow.bulk.release(key, owner)
            uow.commit()


@dataclass(frozen=True)
class _Outcome:
    position: int
    state: RowState
    code: str | None = None
    reconciled: bool = False
    approval_key: str | None = None


def _run_batch(
    store: Store,
    job: BulkJob,
    rows: list[BulkRow],
    actions: TransactionActions,
    approvals: ApprovalDesk,
    policies: Mapping[str, Any],
    actor: Actor,
    pace: Callable[[], None],
    concurrency: int,
) -> None:
    """Send a batch of rows, `concurrency` at a time. The batch is marked `sending` in one
    commit before any of it goes out and its outcomes are written in one commit after: a worker
    that stops in between leaves the rows `sending`, and the next sends them again with their
    keys (the provider replays what it applied). Each action's own audit lines are committed
    around its request, as always."""
    with store.unit_of_work() as uow:
        for row in rows:
            uow.bulk.set_row(job.key, row.position, RowState.SENDING)
        uow.commit()

    def send(row: BulkRow) -> _Outcome:
        intent = Intent(
            transaction_id=row.transaction_id,
            kind=job.kind,
            amount=row.amount,
            currency=row.currency,
            idempotency_key=row.idempotency_key,
            baseline=row.baseline,
            reason=job.reason if job.kind is ActionKind.REFUND else None,
            reason_code=job.reason_code,
        )
        policy = policies.get(row.currency)
        if policy is not None and policy.requires(job.kind, row.amount):
            request, _new = approvals.request(actor, intent)
            return _Outcome(row.position, RowState.APPROVAL, approval_key=request.key)
        pace()
        result = actions.perform(actor, intent)  # a provider error is in the result
        state = {
            Outcome.SUCCEEDED: RowState.DONE,
            Outcome.FAILED: RowState.REFUSED,
            Outcome.UNKNOWN: RowState.UNKNOWN,
        }[result.outcome]
        return _Outcome(row.position, state, result.problem_code, result.reconciled)

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="bulk-row") as pool:
        outcomes = list(pool.map(send, rows))
    with store.unit_of_work() as uow:
        for done in outcomes:
            uow.bulk.set_row(
                job.key,
                done.position,
                done.state,
                code=done.code,
                reconciled=done.reconciled,
                approval_key=done.approval_key,
            )
        uow.commit()


class BulkRunner(Protocol):
    """Where started jobs run: threads of the web process, or Celery workers."""

    def submit(self, key: str, user_id: int) -> None: ...

    def resume(self) -> None: ...


def paced(rate: float | None) -> Callable[[int], Callable[[], None]]:
    """Per user (and so per provider credentials): wait for the rate limit before a request."""
    buckets: dict[int, TokenBucket] = {}
    lock = threading.Lock()

    def pace_for(user_id: int) -> Callable[[], None]:
        with lock:
            bucket = buckets.setdefault(user_id, TokenBucket(rate))

        def pace() -> None:
            bucket.acquire()

        return pace

    return pace_for


class BulkThreads:
    """The embedded runner: each started job on a thread of this process; on start-up, the
    jobs a stopped process left unfinished are resumed."""

    def __init__(
        self,
        store: Store,
        session_for: Callable[[int], ProviderSession],
        pace: Callable[[int], Callable[[], None]],
        lifetime: timedelta,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._session_for = session_for
        self._pace = pace
        self._lifetime = lifetime
        self._lease = lease
        self._owner = f"threads-{new_key()[:12]}"

    def submit(self, key: str, user_id: int) -> None:
        thread = threading.Thread(
            target=self._run, args=(key, user_id), name=f"bulk-{key}", daemon=True
        )
        thread.start()

    def resume(self) -> None:
        with self._store.unit_of_work() as uow:
            keys = uow.bulk.unfinished()
            jobs = [(key, job.user_id) for key in keys if (job := uow.bulk.get(key))]
        for key, user_id in jobs:
            self.submit(key, user_id)

    def _run(self, key: str, user_id: int) -> None:
        """Work the job; while another worker holds it (one that stopped holds it until its
        lease runs out), wait and try again, until the job has ended."""
        try:
            while not run_job(
                self._store,
                key,
                self._session_for,
                owner=self._owner,
                pace=self._pace(user_id),
                lifetime=self._lifetime,
                lease=self._lease,
            ):
                with self._store.unit_of_work() as uow:
                    job = uow.bulk.get(key)
                if job is None or job.finished:
                    return
                time.sleep(self._lease.total_seconds() / 3)
        except Exception:
            log.exception("bulk job %s stopped", key)


class BulkCelery:
    """The Celery runner: a started job is one task for `sarportal worker` (`jobs.celery_app`);
    a worker that dies leaves the task unacknowledged, and it is delivered again."""

    def __init__(self, redis_url: str) -> None:
        from sarportal.jobs.celery_app import make_celery

        self._celery = make_celery(redis_url)

    def submit(self, key: str, user_id: int) -> None:
        self._celery.send_task(BULK_TASK, args=[key])

    def resume(self) -> None:
        """The broker keeps unacknowledged tasks: nothing to do here."""


def make_bulk_runner(
    settings: Settings,
    store: Store,
    provider: Provider | None,
    rate: float | None,
    lease: timedelta = LEASE,
) -> BulkRunner:
    """Threads of this process, or Celery workers when `settings.redis_url` is set."""
    if settings.redis_url:
        return BulkCelery(settings.redis_url)

    def session_for(user_id: int) -> ProviderSession:
        from sarportal.jobs.work import open_session

        return open_session(store, provider, user_id)[0]

    return BulkThreads(store, session_for, paced(rate), settings.approval_lifetime, lease)


@shared_task(name=BULK_TASK, bind=True, max_retries=None)
def bulk_task(task: Any, key: str) -> None:
    """Celery: work a bulk job through; while another worker still holds its lease (one that
    died holds it until it runs out), try again after the lease."""
    from sarportal.jobs.celery_app import worker_runtime

    runtime = worker_runtime()
    settings = Settings.from_env()
    with runtime.store.unit_of_work() as uow:
        job = uow.bulk.get(key)
    if job is None:
        return
    found = runtime.store.provider_credentials_for(job.user_id)
    limiter = runtime.gates.gate(Credentials(*found)).limiter if found else TokenBucket(None)

    def session_for(user_id: int) -> ProviderSession:
        from sarportal.jobs.work import open_session

        return open_session(runtime.store, runtime.provider, user_id)[0]

    def pace() -> None:
        limiter.acquire()

    taken = run_job(
        runtime.store,
        key,
        session_for,
        owner=f"celery-{socket.gethostname()}-{os.getpid()}",
        pace=pace,
        lifetime=settings.approval_lifetime,
        lease=runtime.config.bulk_lease,
    )
    if not taken:
        with runtime.store.unit_of_work() as uow:
            again = uow.bulk.get(key)
        if again is not None and not again.finished:
            raise task.retry(countdown=runtime.config.bulk_lease.total_seconds())
