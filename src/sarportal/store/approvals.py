"""The repository of four-eyes policies and approval requests (`domain.approvals`).

Every change of a request's state is one conditional UPDATE (`WHERE state = 'pending' AND
expires_at > now`): of two approvers racing, over any number of processes, exactly one sees a
row changed; the other is told the request was decided already. Like every repository it never
commits.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from sarportal.config import Clock
from sarportal.domain.actions import ActionKind, Amounts
from sarportal.domain.approvals import ApprovalRequest, Policy, State
from sarportal.store.models import ApprovalPolicyRow, ApprovalRequestRow, User


class Approvals:
    """Policies and requests of the organisations."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    # -- policies ------------------------------------------------------------------------------

    def policies(self, organisation_id: int) -> dict[str, Policy]:
        """The organisation's policy per currency."""
        rows = self._session.scalars(
            select(ApprovalPolicyRow).where(ApprovalPolicyRow.organisation_id == organisation_id)
        )
        return {
            row.currency: Policy(row.currency, row.threshold, row.captures, row.cancellations)
            for row in rows
        }

    def set_policy(self, organisation_id: int, currency: str, policy: Policy | None) -> None:
        """Set (or, with None, drop) the organisation's policy in `currency`."""
        row = self._session.get(ApprovalPolicyRow, (organisation_id, currency))
        if policy is None:
            if row is not None:
                self._session.delete(row)
            return
        if row is None:
            row = ApprovalPolicyRow(organisation_id=organisation_id, currency=currency)
            self._session.add(row)
        row.threshold = policy.threshold
        row.captures = policy.captures
        row.cancellations = policy.cancellations
        row.updated_at = self._clock()
        self._session.flush()

    # -- requests ------------------------------------------------------------------------------

    def create(self, request: ApprovalRequest) -> tuple[str, bool]:
        """Record a pending request; its key and whether it is new (False: the same intent,
        by its idempotency key, was recorded before, and that request's key is answered)."""
        row = ApprovalRequestRow(
            key=secrets.token_urlsafe(12),
            organisation_id=request.organisation_id,
            transaction_id=request.transaction_id,
            kind=request.kind.value,
            amount=request.amount,
            currency=request.currency,
            reason_code=request.reason_code,
            reason=request.reason,
            idempotency_key=request.idempotency_key,
            baseline=baseline_json(request.baseline),
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            expires_at=request.expires_at,
            state=State.PENDING.value,
        )
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError:
            self._session.rollback()
            key = self._session.scalar(
                select(ApprovalRequestRow.key).where(
                    ApprovalRequestRow.idempotency_key == request.idempotency_key
                )
            )
            if key is None:
                raise
            return key, False
        return row.key, True

    def by_key(self, key: str) -> ApprovalRequest | None:
        found = self._select().where(ApprovalRequestRow.key == key)
        rows = self._requests(found)
        return rows[0] if rows else None

    def listed(
        self,
        organisation_id: int,
        *,
        states: Sequence[State] | None = None,
        transaction_id: str | None = None,
        limit: int = 200,
    ) -> list[ApprovalRequest]:
        """The organisation's requests, newest first."""
        query = self._select().where(ApprovalRequestRow.organisation_id == organisation_id)
        if states is not None:
            query = query.where(ApprovalRequestRow.state.in_([s.value for s in states]))
        if transaction_id is not None:
            query = query.where(ApprovalRequestRow.transaction_id == transaction_id)
        query = query.order_by(ApprovalRequestRow.requested_at.desc(), ApprovalRequestRow.id.desc())
        return self._requests(query.limit(limit))

    def count_open(self, organisation_id: int, now: datetime, *, excluding: int) -> int:
        """How many requests wait for a decision that `excluding` (a user) did not ask for."""
        return (
            self._session.scalar(
                select(func.count())
                .select_from(ApprovalRequestRow)
                .where(
                    ApprovalRequestRow.organisation_id == organisation_id,
                    ApprovalRequestRow.state == State.PENDING.value,
                    ApprovalRequestRow.expires_at > now,
                    ApprovalRequestRow.requested_by != excluding,
                )
            )
            or 0
        )

    def decide(self, key: str, state: State, decider: int, now: datetime) -> bool:
        """Move a pending, unexpired request to `state` (approved, rejected, withdrawn): True
        for the one caller that did it, False when it was decided (or expired) already."""
        changes: dict[str, Any] = {"state": state.value, "decided_by": decider, "decided_at": now}
        if state is not State.APPROVED:
            changes["reason"] = None  # never sent: not kept
        done = self._session.execute(
            update(ApprovalRequestRow)
            .where(
                ApprovalRequestRow.key == key,
                ApprovalRequestRow.state == State.PENDING.value,
                ApprovalRequestRow.expires_at > now,
            )
            .values(**changes)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]

    def record_outcome(self, key: str, outcome: str, code: str | None) -> None:
        """What the provider did on approval. Once that is known the reason is no longer kept;
        while it is unknown it stays, for sending the very same request again."""
        changes: dict[str, Any] = {"outcome": outcome, "outcome_code": code}
        if outcome != "unknown":
            changes["reason"] = None
        self._session.execute(
            update(ApprovalRequestRow).where(ApprovalRequestRow.key == key).values(**changes)
        )

    def expire(self, organisation_id: int, now: datetime) -> list[ApprovalRequest]:
        """Mark the organisation's pending requests whose lifetime is over as expired; them."""
        due = self.listed(organisation_id, states=[State.PENDING])
        expired = []
        for request in due:
            if request.expires_at > now:
                continue
            done = self._session.execute(
                update(ApprovalRequestRow)
                .where(
                    ApprovalRequestRow.key == request.key,
                    ApprovalRequestRow.state == State.PENDING.value,
                )
                .values(state=State.EXPIRED.value, decided_at=now, reason=None)
            )
            if done.rowcount:  # type: ignore[attr-defined]
                expired.append(request)
        return expired

    # -- helpers -------------------------------------------------------------------------------

    def _select(self) -> Any:
        requester, decider = aliased(User), aliased(User)
        return (
            select(
                ApprovalRequestRow,
                requester.display_name,
                requester.email,
                decider.display_name,
                decider.email,
            )
            .join(requester, requester.id == ApprovalRequestRow.requested_by)
            .outerjoin(decider, decider.id == ApprovalRequestRow.decided_by)
        )

    def _requests(self, query: Any) -> list[ApprovalRequest]:
        return [
            _request(row, asked_name or asked_email, decided_name or decided_email)
            for row, asked_name, asked_email, decided_name, decided_email in self._session.execute(
                query
            )
        ]


def baseline_json(amounts: Amounts) -> dict[str, Any]:
    expiry = amounts.authorization_expires_at
    return {
        "status": amounts.status,
        "currency": amounts.currency,
        "amount": amounts.amount,
        "captured": amounts.captured,
        "refunded": amounts.refunded,
        "cancelled": amounts.cancelled,
        "authorization_expires_at": expiry.isoformat() if expiry else None,
    }


def baseline_from_json(data: dict[str, Any]) -> Amounts:
    expiry = data.get("authorization_expires_at")
    return Amounts(
        status=str(data["status"]),
        currency=str(data["currency"]),
        amount=int(data["amount"]),
        captured=int(data["captured"]),
        refunded=int(data["refunded"]),
        cancelled=int(data["cancelled"]),
        authorization_expires_at=datetime.fromisoformat(expiry) if expiry else None,
    )


def _request(
    row: ApprovalRequestRow, requester_name: str, decider_name: str | None
) -> ApprovalRequest:
    return ApprovalRequest(
        key=row.key,
        organisation_id=row.organisation_id,
        transaction_id=row.transaction_id,
        kind=ActionKind.parse(row.kind),
        amount=row.amount,
        currency=row.currency,
        reason_code=row.reason_code,
        idempotency_key=row.idempotency_key,
        baseline=baseline_from_json(row.baseline),
        requested_by=row.requested_by,
        requester_name=requester_name,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        state=State(row.state),
        decided_by=row.decided_by,
        decider_name=decider_name,
        decided_at=row.decided_at,
        outcome=row.outcome,
        outcome_code=row.outcome_code,
        reason=row.reason,
    )
