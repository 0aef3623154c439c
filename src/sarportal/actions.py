"""Refund, capture and cancel at the provider: one intent, one idempotency key, two audit lines.

`TransactionActions.perform(actor, intent)` is what the detail page and the API both call:

1. a `pending` audit line is committed before the provider hears anything, so even a crash in
   the middle leaves a trace;
2. the provider is asked with the intent's idempotency key (the client repeats the request with
   the same key on timeouts and 5xx, and a repeated intent replays instead of acting twice);
3. an outcome line pointing at the pending one is appended: `succeeded`, `failed` (with the
   provider's code) or `unknown`. When the answer is lost (timeout, 5xx, a garbled body), the
   transaction is read again and compared with the amounts the user saw: moved by exactly this
   action → succeeded; not moved → failed (`not_applied`); otherwise, or when even the read
   fails → unknown. A repeated intent (a double submit, an API client's retry with its
   `Idempotency-Key`) that the provider answers with its stored first response
   (`Idempotent-Replayed: true`) after a recorded success ends `replayed`, naming that success
   (`replay_of`): one `succeeded` line per effect.

Audit lines hold ids, amounts, the currency, the reason's code and a digest-based key: never a
customer's data and never the merchant's free-text note (it could quote a customer).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeVar

from sarportal.domain.actions import ActionKind, Amounts, Effect, effect_of
from sarportal.provider import ProviderSession
from sarportal.provider.errors import (
    ProviderError,
    ProviderTLSError,
    ProviderUnavailable,
)
from sarportal.provider.models import Action, TransactionSummary
from sarportal.store import Store, UnitOfWork

TARGET: Final = "transaction"
REPLAYED: Final = "replayed"  # the audit outcome of a repeated request that had no new effect
CUSTOMER_VIEWED: Final = "transaction.customer_viewed"


class Outcome(enum.Enum):
    """How an action ended, as the audit log records it."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Actor:
    """The portal user on whose behalf the provider is asked."""

    user_id: int
    organisation_id: int


@dataclass(frozen=True)
class Intent:
    """One thing a user asked for; repeating the same intent has exactly one effect."""

    transaction_id: str
    kind: ActionKind
    amount: int  # minor units; for a cancellation, the capturable rest it will cancel
    currency: str
    idempotency_key: str  # as the provider receives it (see `provider_key`)
    baseline: Amounts  # the amounts the user saw when deciding
    reason: str | None = None  # refunds: the text sent to the provider
    reason_code: str | None = None  # refunds: the chosen reason's code, for the audit


class Ended:
    """How a write at the provider ended, for the result classes that carry these fields: its
    `outcome`, the `effect` reconciling found after a lost answer, the `error` of a failure."""

    outcome: Outcome
    error: ProviderError | None
    effect: Effect | None

    @property
    def code(self) -> str | None:
        """A stable code for a failure: the provider's, or what reconciling found out."""
        if self.outcome is Outcome.SUCCEEDED:
            return None
        if self.effect is Effect.NOT_APPLIED:
            return "not_applied"
        if self.outcome is Outcome.UNKNOWN:
            return "outcome_unclear" if self.effect is Effect.UNCLEAR else "outcome_unknown"
        return (self.error.code if self.error else None) or "provider_error"

    @property
    def problem_code(self) -> str | None:
        """The portal's code for telling people about the failure (`web.problems`): what
        reconciling found out, else the provider error's `portal_code`."""
        code = self.code
        if code in (None, "not_applied", "outcome_unknown", "outcome_unclear"):
            return code
        return self.error.portal_code if self.error else "provider_unavailable"


@dataclass(frozen=True)
class ActionResult(Ended):
    """The outcome, the transaction afterwards when known, and the error behind a failure."""

    outcome: Outcome
    transaction: TransactionSummary | None
    error: ProviderError | None = None
    reconciled: bool = False
    effect: Effect | None = None


def new_key() -> str:
    """A fresh random idempotency key for one user intent (never derived from any data)."""
    return secrets.token_urlsafe(24)


def provider_key(user_id: int, key: str) -> str:
    """The key as sent to the provider: per portal user, so users sharing a client never clash."""
    return hashlib.sha256(f"sarportal:{user_id}:{key}".encode()).hexdigest()


def summary_of(transaction: TransactionSummary) -> TransactionSummary:
    """Only the summary fields (a detail's customer, items and events are dropped)."""
    if type(transaction) is TransactionSummary:
        return transaction
    fields = {name: getattr(transaction, name) for name in TransactionSummary.__struct_fields__}
    return TransactionSummary(**fields)


def amounts_of(transaction: TransactionSummary) -> Amounts:
    """The money per stage of a transaction."""
    return Amounts(
        status=transaction.status,
        currency=transaction.currency,
        amount=transaction.amount,
        captured=transaction.captured_amount,
        refunded=transaction.refunded_amount,
        cancelled=transaction.cancelled_amount,
        authorization_expires_at=transaction.authorization_expires_at,
    )


class TransactionActions:
    """Performs and audits actions for one user's provider session."""

    def __init__(self, store: Store, session: ProviderSession) -> None:
        self._store = store
        self._session = session

    def perform(self, actor: Actor, intent: Intent) -> ActionResult:
        """Ask the provider for `intent`; never raises a provider error (it is in the result)."""
        pending_id = self._pending(actor, intent)
        try:
            action = self._send(intent)
        except ProviderUnavailable as error:
            if isinstance(error, ProviderTLSError):  # nothing was sent
                result = ActionResult(Outcome.FAILED, None, error)
            else:
                result = self._reconcile(intent, error)
        except ProviderError as error:
            result = ActionResult(Outcome.FAILED, None, error)
        except BaseException:
            self._complete(actor, intent, pending_id, ActionResult(Outcome.UNKNOWN, None), None)
            raise
        else:
            result = ActionResult(Outcome.SUCCEEDED, summary_of(action.transaction))
            self._complete(actor, intent, pending_id, result, action)
            return result
        self._complete(actor, intent, pending_id, result, None)
        return result

    def _send(self, intent: Intent) -> Action:
        key = intent.idempotency_key
        if intent.kind is ActionKind.REFUND:
            return self._session.refund(
                intent.transaction_id, intent.amount, intent.reason or "", idempotency_key=key
            )
        if intent.kind is ActionKind.CAPTURE:
            return self._session.capture(intent.transaction_id, intent.amount, idempotency_key=key)
        return self._session.cancel(intent.transaction_id, idempotency_key=key)

    def _reconcile(self, intent: Intent, error: ProviderError) -> ActionResult:
        try:
            now = summary_of(self._session.transaction(intent.transaction_id))
        except ProviderError:
            return ActionResult(Outcome.UNKNOWN, None, error, reconciled=True)
        effect = effect_of(intent.kind, intent.amount, intent.baseline, amounts_of(now))
        outcome = {
            Effect.APPLIED: Outcome.SUCCEEDED,
            Effect.NOT_APPLIED: Outcome.FAILED,
            Effect.UNCLEAR: Outcome.UNKNOWN,
        }[effect]
        return ActionResult(outcome, now, error, reconciled=True, effect=effect)

    def _details(self, intent: Intent) -> dict[str, Any]:
        details: dict[str, Any] = {
            "amount": intent.amount,
            "currency": intent.currency,
            "idempotency_key": intent.idempotency_key,
        }
        if intent.reason_code:
            details["reason_code"] = intent.reason_code
        return details

    def _pending(self, actor: Actor, intent: Intent) -> int:
        trail = AuditTrail(self._store, actor, TARGET, intent.transaction_id)
        return trail.pending(intent.kind.audit_action, self._details(intent))

    def _complete(
        self,
        actor: Actor,
        intent: Intent,
        pending_id: int,
        result: ActionResult,
        action: Action | None,
    ) -> None:
        details = self._details(intent)
        if result.code:
            details["code"] = result.code
        if result.reconciled:
            details["reconciled"] = True
        if action is not None:
            details["provider_action_id"] = action.id
        trail = AuditTrail(self._store, actor, TARGET, intent.transaction_id)
        trail.complete(
            intent.kind.audit_action, pending_id, result.outcome, details,
            replayed=action is not None and action.replayed,
        )  # fmt: skip


class AuditTrail:
    """The two audit lines of one write at the provider, on one target: `pending` before the
    provider hears anything, and the outcome pointing at it. `details` carry the write's
    `idempotency_key`; an answer the provider replayed after a success already recorded for
    that key ends `replayed`, naming that success (`replay_of`): one `succeeded` per effect."""

    def __init__(self, store: Store, actor: Actor, target_type: str, target_id: str) -> None:
        self._store = store
        self._actor = actor
        self._target = (target_type, target_id)

    def pending(self, action: str, details: dict[str, Any]) -> int:
        """Commit the pending line; its id."""
        return self._record(action, "pending", details, None)

    def complete(
        self,
        action: str,
        pending_id: int,
        outcome: Outcome,
        details: dict[str, Any],
        *,
        replayed: bool = False,
    ) -> None:
        """Commit the outcome line for `pending_id`."""
        self._record(action, outcome.value, details, pending_id, replayed=replayed)

    def _record(
        self,
        action: str,
        outcome: str,
        details: dict[str, Any],
        completes_id: int | None,
        *,
        replayed: bool = False,
    ) -> int:
        actor, (target_type, target_id) = self._actor, self._target
        with self._store.unit_of_work() as uow:
            first = self._first_success(uow, action, details) if replayed else None
            if first is not None:  # the provider replayed an effect already recorded: no new one
                outcome, details = REPLAYED, {**details, "replay_of": first}
            entry = uow.audit.record(
                action,
                outcome=outcome,
                actor_user_id=actor.user_id,
                organisation_id=actor.organisation_id,
                target_type=target_type,
                target_id=target_id,
                details=details,
                completes_id=completes_id,
            )
            uow.commit()
            return entry.id

    def _first_success(self, uow: UnitOfWork, action: str, details: dict[str, Any]) -> int | None:
        """The audit line that recorded this key succeeding before, if there is one (a replay
        after a lost answer, whose first attempt was never recorded as succeeded, is the first
        effect and is recorded as such)."""
        key = details.get("idempotency_key")
        target_type, target_id = self._target
        for entry, _email in uow.audit.for_target(
            self._actor.organisation_id, target_type, target_id
        ):
            if (
                entry.action == action
                and entry.outcome == Outcome.SUCCEEDED.value
                and (entry.details or {}).get("idempotency_key") == key
            ):
                return entry.id
        return None


class Written(Protocol):
    """A provider's answer to a write: whether it replayed its stored first answer."""

    @property
    def replayed(self) -> bool: ...


class Finished(Protocol):
    """How a write ended, as `audited_write` records it (see `Ended`)."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def code(self) -> str | None: ...

    @property
    def reconciled(self) -> bool: ...


W = TypeVar("W", bound=Written)
R = TypeVar("R", bound=Finished)


def audited_write(
    trail: AuditTrail,
    action: str,
    details: dict[str, Any],
    send: Callable[[], W],
    *,
    succeeded: Callable[[W], R],
    failed: Callable[[ProviderError], R],
    reconcile: Callable[[ProviderError], R],
) -> R:
    """One write at the provider between its two audit lines: `pending` first, then `send()`;
    a refusal is `failed`, a lost answer is `reconcile`d (not after a TLS failure: nothing was
    sent), and the outcome line carries the failure's code. Never raises a provider error."""
    pending_id = trail.pending(action, details)
    written: W | None = None
    try:
        written = send()
    except ProviderUnavailable as error:
        result = failed(error) if isinstance(error, ProviderTLSError) else reconcile(error)
    except ProviderError as error:
        result = failed(error)
    except BaseException:
        trail.complete(action, pending_id, Outcome.UNKNOWN, details)
        raise
    else:
        result = succeeded(written)
    if result.code:
        details["code"] = result.code
    if result.reconciled:
        details["reconciled"] = True
    replayed = written is not None and written.replayed
    trail.complete(action, pending_id, result.outcome, details, replayed=replayed)
    return result


def record_customer_view(store: Store, actor: Actor, transaction_id: str, field: str) -> None:
    """Audit that a user revealed one customer field of a transaction (never the value)."""
    with store.unit_of_work() as uow:
        uow.audit.record(
            CUSTOMER_VIEWED,
            actor_user_id=actor.user_id,
            organisation_id=actor.organisation_id,
            target_type=TARGET,
            target_id=transaction_id,
            details={"field": field},
        )
        uow.commit()
