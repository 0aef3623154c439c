"""`GET /api/v1/transactions/{id}` and the three actions, for personal tokens and sessions.

The actions share the page's service (`sarportal.actions`): a pending audit line, the provider
call with an idempotency key, the outcome line, and reconciliation after a lost answer. A
caller's `Idempotency-Key` makes a retried request replay instead of acting twice; without one
the portal makes a key for this request. Session callers need the CSRF header, and a recent
sign-in (step-up) like the page; personal tokens are the credential themselves. Above the
organisation's approval threshold the action is not sent: the answer is `202 Accepted` with the
request for approval (`/api/v1/approvals`), made with the action's idempotency key.
"""

from __future__ import annotations

from typing import Annotated, Final

import msgspec
from flask import Blueprint, g, request, url_for
from werkzeug.wrappers import Response

from sarportal.actions import (
    ActionResult,
    Intent,
    Outcome,
    TransactionActions,
    amounts_of,
    new_key,
    provider_key,
    record_customer_view,
    summary_of,
)
from sarportal.domain.actions import ActionKind
from sarportal.domain.roles import Role
from sarportal.provider.models import TransactionDetail, TransactionSummary
from sarportal.web.api.approvals import ApprovalView, approval_response
from sarportal.web.api.openapi import (
    InvalidParameter,
    Problem,
    SpecResponse,
    problem,
    require_minor_units,
    spec,
)
from sarportal.web.approvals.intents import approval_needed, request_approval
from sarportal.web.core import problems
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import needs_step_up
from sarportal.web.transactions import detail as detail_page
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import failure_sentence

bp = Blueprint("api", __name__, url_prefix="/api/v1/transactions")

Minor = Annotated[int, msgspec.Meta(ge=1, le=10**12, description="Minor units (cents).")]
KEY_PATTERN: Final = r"^[\x21-\x7e]{1,255}$"


class CaptureRequest(msgspec.Struct, forbid_unknown_fields=True):
    """How much to capture; at most `amount − captured_amount − cancelled_amount`."""

    amount: Minor


class RefundRequest(msgspec.Struct, forbid_unknown_fields=True):
    """How much to refund (at most `captured_amount − refunded_amount`) and why."""

    amount: Minor
    reason: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            description="Why (sent to the provider); never put customer data here.",
        ),
    ]


class CancellationRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An empty object: the whole remaining uncaptured amount is cancelled."""


class ActionHeaders(msgspec.Struct):
    """Optional idempotency key: the same key and body within 24 hours apply once."""

    idempotency_key: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=KEY_PATTERN,
                description="1–255 printable ASCII characters; a retry with the same key and "
                "body replays the first answer instead of acting again.",
            ),
        ]
        | None
    ) = msgspec.field(default=None, name="Idempotency-Key")


def write_responses(created: type, **more: type) -> SpecResponse:
    """The answers a write at the provider documents: `created` with 201 (and `more`), and
    problem+json for its failures."""
    failures = {f"HTTP_{status}": Problem for status in (400, 403, 404, 409, 422, 429, 502, 503)}
    return SpecResponse(HTTP_201=created, **more, **failures)


ACTION_RESPONSES = write_responses(TransactionSummary, HTTP_202=ApprovalView)


class ActionProblem(Exception):
    """An action that did not succeed, answered as problem+json (outside spectree's checks)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def action_problem(error: ActionProblem) -> Response:
    return problem(error.status, code=error.code, detail=error.detail)


bp.register_error_handler(ActionProblem, action_problem)

Created = tuple[TransactionSummary, int, dict[str, str]]


@bp.get("/<tx_id>")
@requires(Role.VIEWER)
@spec.validate(
    resp=SpecResponse(HTTP_200=TransactionDetail, HTTP_404=Problem), tags=["transactions"]
)
def detail(tx_id: str) -> TransactionDetail:
    """Get a transaction with its customer, order lines and events.

    The customer's personal data is read live from the provider for this answer and not kept;
    the portal's audit log records that it was read (never what it was).
    """
    found = provider_session().transaction(tx_id)
    record_customer_view(portal().store, actor(), found.id, "all")
    return found


@bp.post("/<tx_id>/captures")
@requires(Role.OPERATOR)
@spec.validate(json=CaptureRequest, headers=ActionHeaders, resp=ACTION_RESPONSES, tags=["actions"])
def capture(tx_id: str, json: CaptureRequest, headers: ActionHeaders) -> Created:
    """Capture (all or part of) what is authorized and not yet captured or cancelled."""
    require_body(json)
    return _act(tx_id, ActionKind.CAPTURE, json.amount, None, headers)


@bp.post("/<tx_id>/refunds")
@requires(Role.OPERATOR)
@spec.validate(json=RefundRequest, headers=ActionHeaders, resp=ACTION_RESPONSES, tags=["actions"])
def refund(tx_id: str, json: RefundRequest, headers: ActionHeaders) -> Created:
    """Refund (all or part of) what is captured and not yet refunded."""
    require_body(json)
    return _act(tx_id, ActionKind.REFUND, json.amount, json.reason, headers)


@bp.post("/<tx_id>/cancellations")
@requires(Role.OPERATOR)
@spec.validate(
    json=CancellationRequest, headers=ActionHeaders, resp=ACTION_RESPONSES, tags=["actions"]
)
def cancel(tx_id: str, json: CancellationRequest, headers: ActionHeaders) -> Created:
    """Cancel the whole remaining uncaptured amount."""
    require_body(json)
    return _act(tx_id, ActionKind.CANCEL, None, None, headers)


def require_body(body: object) -> None:
    """Spectree passes no body for a request that is not JSON, and reads a JSON body that is
    not an object (`""`, `null`, `[]`, broken JSON) as `{}`; refuse both instead of acting."""
    raw = request.get_json(silent=True)
    if body is None or not isinstance(raw, dict):
        raise InvalidParameter("body", "The body must be a JSON object (application/json).")
    require_minor_units(raw)


def _act(
    tx_id: str,
    kind: ActionKind,
    amount: int | None,
    reason: str | None,
    headers: ActionHeaders | None,
) -> Created:
    user: CurrentUser = g.user
    if not user.via_token and needs_step_up():
        raise ActionProblem(403, "step_up_required", failure_sentence("step_up_required"))
    session = provider_session()
    before = summary_of(session.transaction(tx_id))
    baseline = amounts_of(before)
    if baseline.available(kind, portal().settings.clock()) <= 0:
        # As the dialog does: never send what the transaction's state rules out (a cancellation
        # would otherwise be audited, and reconciled, as 0 while the provider cancels the rest).
        raise ActionProblem(409, "invalid_state", failure_sentence("invalid_state"))
    raw_key = (headers.idempotency_key if headers else None) or new_key()
    intent = Intent(
        transaction_id=before.id,
        kind=kind,
        amount=amount if amount is not None else baseline.available(kind),
        currency=before.currency,
        idempotency_key=provider_key(user.id, raw_key),
        baseline=baseline,
        reason=reason,
    )
    if approval_needed(intent):
        found, new = request_approval(intent, tell=False)
        return approval_response(found, 202 if new else 200)  # type: ignore[return-value]
    result = TransactionActions(portal().store, session).perform(actor(), intent)
    return _answer(result)


ACTION_PROBLEMS: Final = frozenset(
    {
        "invalid_request",
        "provider_forbidden",
        "not_found",
        "invalid_state",
        "idempotency_conflict",
        "amount_exceeds_available",
        "outcome_unknown",
        "outcome_unclear",
        "not_applied",
    }
)
"""The failures answered as the action's own problem; the others (unavailable, rate limit,
credentials) as any request's provider error."""


def _answer(result: ActionResult) -> Created:
    """201 with the transaction after the action, or the failure as an `ActionProblem`."""
    if result.outcome is Outcome.SUCCEEDED and result.transaction is not None:
        location = url_for("transaction.api.detail", tx_id=result.transaction.id)
        return result.transaction, 201, {"Location": location}
    code = result.problem_code
    if code in ACTION_PROBLEMS:
        raise ActionProblem(problems.problem(code).status, code, failure_sentence(code))
    assert result.error is not None  # noqa: S101 (a failure always carries its error)
    raise result.error  # the portal-wide answer for provider errors (unavailable, rate limit…)


detail_page.bp.register_blueprint(bp)  # under the page's blueprint: `transaction.api.*`
