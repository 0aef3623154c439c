"""Four-eyes approval with its rules: `ApprovalDesk(store)` is what the pages and the API call.

- `needs_approval` reads the organisation's policy for an intent's currency;
- `request` records the intent as pending (with the idempotency key made when it was asked
  for: a double submit gives the same request) and an audit line on the transaction;
- `approve` claims the request in one conditional UPDATE (of racing approvers, over any number
  of processes, one wins; the others get `approval_decided`), commits, and only then sends the
  action through `TransactionActions` with the request's key, so the provider applies it once
  however often it is sent. Its outcome (the provider's code on a refusal) goes on the request;
  when the answer is lost, the approver sends it again with the same key;
- `reject` and `withdraw` close a pending request; `expire` closes those whose lifetime is over.

Audit lines hold the request's key, the kind, the amount and the currency, never the reason's
text (the merchant's words, which could quote anybody); the request keeps that text only while
it is pending.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from sarportal.actions import ActionResult, Actor, Intent, TransactionActions
from sarportal.domain.actions import ActionKind
from sarportal.domain.approvals import (
    DEFAULT_LIFETIME,
    ApprovalError,
    ApprovalRequest,
    Decider,
    Policy,
    State,
    may_decide,
)
from sarportal.domain.roles import Role
from sarportal.provider import ProviderSession
from sarportal.store import Store, UnitOfWork

__all__ = ["ApprovalDesk"]

TARGET: Final = "transaction"


class ApprovalDesk:
    """Policies, requests and decisions of four-eyes approval."""

    def __init__(self, store: Store, lifetime: timedelta = DEFAULT_LIFETIME) -> None:
        self._store = store
        self._lifetime = lifetime

    # -- policies ------------------------------------------------------------------------------

    def policies(self, organisation_id: int) -> dict[str, Policy]:
        with self._store.unit_of_work() as uow:
            return uow.approvals.policies(organisation_id)

    def needs_approval(
        self, organisation_id: int, kind: ActionKind, amount: int, currency: str
    ) -> bool:
        policy = self.policies(organisation_id).get(currency)
        return policy is not None and policy.requires(kind, amount)

    def set_policies(self, who: Decider, policies: dict[str, Policy | None]) -> None:
        """Set the organisation's policy per currency (None: no approval in it); admins."""
        with self._store.unit_of_work() as uow:
            before = uow.approvals.policies(who.organisation_id)
            for currency, policy in sorted(policies.items()):
                if before.get(currency) == policy:
                    continue
                uow.approvals.set_policy(who.organisation_id, currency, policy)
                details: dict[str, object] = {"currency": currency}
                if policy is not None:
                    details |= {
                        "threshold": policy.threshold,
                        "captures": policy.captures,
                        "cancellations": policy.cancellations,
                    }
                uow.audit.record(
                    "approval.policy_set",
                    actor_user_id=who.id,
                    organisation_id=who.organisation_id,
                    target_type="organisation",
                    target_id=str(who.organisation_id),
                    details=details,
                )
            uow.commit()

    # -- requests ------------------------------------------------------------------------------

    def request(self, actor: Actor, intent: Intent) -> tuple[ApprovalRequest, bool]:
        """Record `intent` as waiting for approval; the request and whether it is new."""
        now = self._store.clock()
        asked = ApprovalRequest(
            key="",
            organisation_id=actor.organisation_id,
            transaction_id=intent.transaction_id,
            kind=intent.kind,
            amount=intent.amount,
            currency=intent.currency,
            reason_code=intent.reason_code,
            idempotency_key=intent.idempotency_key,
            baseline=intent.baseline,
            requested_by=actor.user_id,
            requester_name="",
            requested_at=now,
            expires_at=now + self._lifetime,
            state=State.PENDING,
            reason=intent.reason,
        )
        with self._store.unit_of_work() as uow:
            key, new = uow.approvals.create(asked)
            if new:
                _audit(uow, actor.user_id, actor.organisation_id, "approval.requested", asked, key)
            uow.commit()
            found = uow.approvals.by_key(key)
        assert found is not None  # noqa: S101 (just written)
        return found, new

    def get(self, who: Decider, key: str) -> ApprovalRequest:
        """The request `key` of `who`'s organisation; `approval_not_found` otherwise."""
        self.expire(who.organisation_id)
        with self._store.unit_of_work() as uow:
            return _seen(uow, who, key)

    def listed(
        self, who: Decider, *, states: list[State] | None = None, transaction_id: str | None = None
    ) -> list[ApprovalRequest]:
        """The organisation's requests, newest first (expired ones closed first)."""
        self.expire(who.organisation_id)
        with self._store.unit_of_work() as uow:
            return uow.approvals.listed(
                who.organisation_id, states=states, transaction_id=transaction_id
            )

    def count_open(self, who: Decider) -> int:
        """How many requests wait for `who`'s decision (none for a viewer)."""
        if not who.role.allows(Role.OPERATOR):
            return 0
        with self._store.unit_of_work() as uow:
            return uow.approvals.count_open(
                who.organisation_id, self._store.clock(), excluding=who.id
            )

    # -- decisions -----------------------------------------------------------------------------

    def approve(
        self, who: Decider, key: str, session: ProviderSession
    ) -> tuple[ApprovalRequest, ActionResult]:
        """Approve the request and send its action (or send it again after a lost answer)."""
        now = self._store.clock()
        self.expire(who.organisation_id)
        with self._store.unit_of_work() as uow:
            request = _seen(uow, who, key)
            resend = request.needs_sending(now) and request.decided_by == who.id
            if not resend:
                _check_decidable(request, who, now)
                if not uow.approvals.decide(key, State.APPROVED, who.id, now):
                    raise ApprovalError("approval_decided")
                _audit(uow, who.id, who.organisation_id, "approval.approved", request, key)
            uow.commit()
        intent = Intent(
            transaction_id=request.transaction_id,
            kind=request.kind,
            amount=request.amount,
            currency=request.currency,
            idempotency_key=request.idempotency_key,
            baseline=request.baseline,
            reason=request.reason,
            reason_code=request.reason_code,
        )
        result = TransactionActions(self._store, session).perform(
            Actor(who.id, who.organisation_id), intent
        )
        with self._store.unit_of_work() as uow:
            uow.approvals.record_outcome(key, result.outcome.value, result.problem_code)
            uow.commit()
            done = uow.approvals.by_key(key)
        assert done is not None  # noqa: S101 (just written)
        return done, result

    def reject(self, who: Decider, key: str) -> ApprovalRequest:
        """Reject the request: nothing is sent."""
        return self._close(who, key, State.REJECTED, "approval.rejected")

    def withdraw(self, who: Decider, key: str) -> ApprovalRequest:
        """The requester takes the request back: nothing is sent."""
        return self._close(who, key, State.WITHDRAWN, "approval.withdrawn")

    def expire(self, organisation_id: int) -> list[ApprovalRequest]:
        """Close the organisation's requests whose lifetime is over (an audit line each)."""
        with self._store.unit_of_work() as uow:
            expired = uow.approvals.expire(organisation_id, self._store.clock())
            for request in expired:
                _audit(uow, None, organisation_id, "approval.expired", request, request.key)
            uow.commit()
        return [replace(request, state=State.EXPIRED) for request in expired]

    def _close(self, who: Decider, key: str, state: State, action: str) -> ApprovalRequest:
        now = self._store.clock()
        self.expire(who.organisation_id)
        with self._store.unit_of_work() as uow:
            request = _seen(uow, who, key)
            if state is State.WITHDRAWN:
                if request.requested_by != who.id:
                    raise ApprovalError("approval_forbidden")
                if request.state is not State.PENDING:
                    raise ApprovalError("approval_decided")
            else:
                _check_decidable(request, who, now)
            if not uow.approvals.decide(key, state, who.id, now):
                raise ApprovalError("approval_decided")
            _audit(uow, who.id, who.organisation_id, action, request, key)
            uow.commit()
            closed = uow.approvals.by_key(key)
        assert closed is not None  # noqa: S101 (just written)
        return closed


def _seen(uow: UnitOfWork, who: Decider, key: str) -> ApprovalRequest:
    request = uow.approvals.by_key(key) if 0 < len(key) <= 24 else None
    if request is None or request.organisation_id != who.organisation_id:
        raise ApprovalError("approval_not_found")
    return request


def _check_decidable(request: ApprovalRequest, who: Decider, now: datetime) -> None:
    if request.requested_by == who.id:
        raise ApprovalError("approval_own")
    if not may_decide(request, who):
        raise ApprovalError("approval_forbidden")
    if request.state is State.EXPIRED or (
        request.state is State.PENDING and now >= request.expires_at
    ):
        raise ApprovalError("approval_expired")
    if request.state is not State.PENDING:
        raise ApprovalError("approval_decided")


def _audit(
    uow: UnitOfWork,
    actor_id: int | None,
    organisation_id: int,
    action: str,
    request: ApprovalRequest,
    key: str,
) -> None:
    uow.audit.record(
        action,
        actor_user_id=actor_id,
        organisation_id=organisation_id,
        target_type=TARGET,
        target_id=request.transaction_id,
        details={
            "approval": key,
            "kind": request.kind.value,
            "amount": request.amount,
            "currency": request.currency,
        },
    )
