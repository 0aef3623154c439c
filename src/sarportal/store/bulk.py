"""The repository of bulk jobs and their rows (`domain.bulk`).

A worker takes a job with one conditional UPDATE of its lease (`claim`): a job is worked on by
one worker at a time, over any number of processes, and a worker that died loses it once its
lease has run out. Rows change state one at a time; a row is marked `sending` and committed
before its request goes out, so a worker that resumes the job knows to send it again (with the
row's own key). Like every repository it never commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sarportal.config import Clock
from sarportal.domain.actions import ActionKind
from sarportal.domain.bulk import BulkJob, BulkRow, JobState, Planned, RowState
from sarportal.store.approvals import baseline_from_json, baseline_json
from sarportal.store.models import BulkJobRow, BulkRowRow


class BulkJobs:
    """Bulk jobs of the organisations' users."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def create(
        self,
        *,
        organisation_id: int,
        user_id: int,
        kind: ActionKind,
        reason_code: str | None,
        reason: str | None,
        rows: Sequence[tuple[Planned, str]],
    ) -> str:
        """A draft job of `rows` (each with its idempotency key); its key."""
        job = BulkJobRow(
            key=secrets.token_urlsafe(12),
            organisation_id=organisation_id,
            user_id=user_id,
            kind=kind.value,
            reason_code=reason_code,
            reason=reason,
            state=JobState.DRAFT.value,
            created_at=self._clock(),
        )
        self._session.add(job)
        self._session.flush()
        self._session.add_all(
            BulkRowRow(
                job_id=job.id,
                position=position,
                transaction_id=row.transaction_id,
                amount=row.amount,
                currency=row.currency,
                idempotency_key=key,
                baseline=baseline_json(row.baseline),
                state=RowState.QUEUED.value,
                reconciled=False,
            )
            for position, (row, key) in enumerate(rows, start=1)
        )
        self._session.flush()
        return job.key

    def get(self, key: str) -> BulkJob | None:
        job = self._session.scalar(select(BulkJobRow).where(BulkJobRow.key == key))
        if job is None:
            return None
        counted = self._session.execute(
            select(BulkRowRow.state, func.count())
            .where(BulkRowRow.job_id == job.id)
            .group_by(BulkRowRow.state)
        ).all()
        return _job(job, {RowState(state): int(n) for state, n in counted})

    def of_user(self, user_id: int, limit: int = 20) -> list[BulkJob]:
        keys = self._session.scalars(
            select(BulkJobRow.key)
            .where(BulkJobRow.user_id == user_id, BulkJobRow.state != JobState.DRAFT.value)
            .order_by(BulkJobRow.id.desc())
            .limit(limit)
        ).all()
        return [job for key in keys if (job := self.get(key)) is not None]

    def unfinished(self) -> list[str]:
        """The keys of the jobs queued or running (for a worker that starts)."""
        states = (JobState.QUEUED.value, JobState.RUNNING.value)
        return list(
            self._session.scalars(select(BulkJobRow.key).where(BulkJobRow.state.in_(states)))
        )

    def rows(
        self, key: str, *, states: Sequence[RowState] | None = None, limit: int | None = None
    ) -> list[BulkRow]:
        """The job's rows in order (of `states` only, and the first `limit` of them)."""
        query = (
            select(BulkRowRow)
            .join(BulkJobRow, BulkJobRow.id == BulkRowRow.job_id)
            .where(BulkJobRow.key == key)
            .order_by(BulkRowRow.position)
        )
        if states is not None:
            query = query.where(BulkRowRow.state.in_([s.value for s in states]))
        return [_row(row) for row in self._session.scalars(query.limit(limit))]

    # -- changes -------------------------------------------------------------------------------

    def set_reason(self, key: str, code: str, reason: str) -> None:
        """A draft refund's reason (its code, and the text sent to the provider)."""
        self._session.execute(
            update(BulkJobRow)
            .where(BulkJobRow.key == key, BulkJobRow.state == JobState.DRAFT.value)
            .values(reason_code=code, reason=reason)
        )

    def start(self, key: str) -> bool:
        """Queue a draft; False when it is not (any more) a draft."""
        done = self._session.execute(
            update(BulkJobRow)
            .where(BulkJobRow.key == key, BulkJobRow.state == JobState.DRAFT.value)
            .values(state=JobState.QUEUED.value)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def claim(self, key: str, owner: str, lease: timedelta) -> bool:
        """Take the job for `owner` until `lease` from now, unless another worker holds it."""
        now = self._clock()
        done = self._session.execute(
            update(BulkJobRow)
            .where(
                BulkJobRow.key == key,
                BulkJobRow.state.in_((JobState.QUEUED.value, JobState.RUNNING.value)),
                (BulkJobRow.lease_until.is_(None))
                | (BulkJobRow.lease_until < now)
                | (BulkJobRow.lease_owner == owner),
            )
            .values(
                state=JobState.RUNNING.value,
                lease_owner=owner,
                lease_until=now + lease,
                started_at=func.coalesce(BulkJobRow.started_at, now),
            )
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def release(self, key: str, owner: str) -> None:
        self._session.execute(
            update(BulkJobRow)
            .where(BulkJobRow.key == key, BulkJobRow.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )

    def set_row(
        self,
        key: str,
        position: int,
        state: RowState,
        *,
        code: str | None = None,
        reconciled: bool = False,
        approval_key: str | None = None,
    ) -> None:
        job_id = select(BulkJobRow.id).where(BulkJobRow.key == key).scalar_subquery()
        self._session.execute(
            update(BulkRowRow)
            .where(BulkRowRow.job_id == job_id, BulkRowRow.position == position)
            .values(state=state.value, code=code, reconciled=reconciled, approval_key=approval_key)
        )

    def finish(self, key: str, state: JobState) -> None:
        """End the job (finished or cancelled); its refund text is no longer kept."""
        changes: dict[str, Any] = {
            "state": state.value,
            "finished_at": self._clock(),
            "reason": None,
            "lease_owner": None,
            "lease_until": None,
        }
        self._session.execute(update(BulkJobRow).where(BulkJobRow.key == key).values(**changes))

    def cancel(self, key: str) -> bool:
        """Stop a queued or running job: its unsent rows are cancelled."""
        job = self._session.scalar(select(BulkJobRow).where(BulkJobRow.key == key))
        if job is None or job.state not in (
            JobState.DRAFT.value,
            JobState.QUEUED.value,
            JobState.RUNNING.value,
        ):
            return False
        self._session.execute(
            update(BulkRowRow)
            .where(BulkRowRow.job_id == job.id, BulkRowRow.state == RowState.QUEUED.value)
            .values(state=RowState.CANCELLED.value)
        )
        job.state = JobState.CANCELLED.value
        job.finished_at = self._clock()
        job.reason = None
        return True

    def is_cancelled(self, key: str) -> bool:
        state = self._session.scalar(select(BulkJobRow.state).where(BulkJobRow.key == key))
        return state == JobState.CANCELLED.value


def _job(row: BulkJobRow, counts: dict[RowState, int]) -> BulkJob:
    return BulkJob(
        key=row.key,
        organisation_id=row.organisation_id,
        user_id=row.user_id,
        kind=ActionKind.parse(row.kind),
        reason_code=row.reason_code,
        state=JobState(row.state),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        counts=counts,
        reason=row.reason,
    )


def _row(row: BulkRowRow) -> BulkRow:
    return BulkRow(
        position=row.position,
        transaction_id=row.transaction_id,
        amount=row.amount,
        currency=row.currency,
        idempotency_key=row.idempotency_key,
        baseline=baseline_from_json(row.baseline),
        state=RowState(row.state),
        code=row.code,
        reconciled=row.reconciled,
        approval_key=row.approval_key,
    )
