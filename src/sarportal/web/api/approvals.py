"""`/api/v1/approvals`: four-eyes requests over the API (list, read, approve, reject, withdraw).

A refund (or, where the organisation says so, a capture or cancellation) above the
organisation's threshold is answered `202 Accepted` by the action's endpoint with the request
made for it; another operator or admin approves it here, which sends the action with the
request's idempotency key (so it runs once, however often it is sent). The answer is the
request with its `outcome`: `succeeded`, `failed` (with `outcome_code`, the provider's reason)
or `unknown` (approve again: it is sent again with the same key). Session callers need a
recent sign-in (step-up), like the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from flask import Blueprint, Response, g, url_for
from werkzeug.wrappers import Response as AnyResponse

from sarportal.domain.approvals import ApprovalError, ApprovalRequest, State
from sarportal.domain.roles import Role
from sarportal.web.api.openapi import Problem, SpecResponse, problem, spec
from sarportal.web.approvals.intents import decider, desk
from sarportal.web.core import problems
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.stepup import needs_step_up

bp = Blueprint("api_approvals", __name__, url_prefix="/api/v1/approvals")

Kind = Literal["refund", "capture", "cancellation"]
StateName = Literal["pending", "approved", "rejected", "withdrawn", "expired"]
OutcomeName = Literal["succeeded", "failed", "unknown"]


class Person(msgspec.Struct):
    id: int
    name: str


class ApprovalView(msgspec.Struct, kw_only=True):
    """A request for approval. `outcome` is what the provider did once it was approved (with
    `outcome_code` for a failure); `reason_code` names a refund's reason from the portal's list
    (its text is never answered: it stays between the requester and the provider)."""

    id: str
    transaction_id: str
    kind: Kind
    amount: int
    currency: str
    reason_code: str | None
    state: StateName
    requested_by: Person
    requested_at: datetime
    expires_at: datetime
    decided_by: Person | None
    decided_at: datetime | None
    outcome: OutcomeName | None
    outcome_code: str | None


class ApprovalList(msgspec.Struct):
    """The organisation's requests, newest first."""

    data: list[ApprovalView]


class ApprovalListQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    state: StateName | None = None
    transaction_id: str | None = None


def approval_view(found: ApprovalRequest) -> ApprovalView:
    decided = (
        None if found.decided_by is None else Person(found.decided_by, found.decider_name or "")
    )
    return ApprovalView(
        id=found.key,
        transaction_id=found.transaction_id,
        kind=found.kind.value,
        amount=found.amount,
        currency=found.currency,
        reason_code=found.reason_code,
        state=found.state.value,
        requested_by=Person(found.requested_by, found.requester_name),
        requested_at=found.requested_at,
        expires_at=found.expires_at,
        decided_by=decided,
        decided_at=found.decided_at,
        outcome=found.outcome,  # type: ignore[arg-type]
        outcome_code=found.outcome_code,
    )


def approval_response(found: ApprovalRequest, status: int = 200) -> Response:
    headers = {"Location": url_for("api_approvals.get_approval", key=found.key)}
    body = msgspec.json.encode(approval_view(found))
    return Response(body, status, headers, mimetype="application/json")


def _refused(error: ApprovalError) -> AnyResponse:
    found = problems.problem(error.code)
    return problem(found.status, code=error.code, detail=found.detail())


def _require_fresh() -> AnyResponse | None:
    user: CurrentUser = g.user
    if not user.via_token and needs_step_up():
        found = problems.problem("step_up_required")
        return problem(found.status, code="step_up_required", detail=found.detail())
    return None


DECISION = SpecResponse(HTTP_200=ApprovalView, HTTP_403=Problem, HTTP_404=Problem, HTTP_409=Problem)


@bp.get("")
@requires(Role.OPERATOR)
@spec.validate(resp=SpecResponse(HTTP_200=ApprovalList), tags=["approvals"])
def list_approvals(query: ApprovalListQuery) -> ApprovalList:
    """List the organisation's requests for approval (`state`, `transaction_id`: of one)."""
    states = [State(query.state)] if query.state else None
    found = desk().listed(decider(), states=states, transaction_id=query.transaction_id)
    return ApprovalList([approval_view(request) for request in found])


@bp.get("/<key>")
@requires(Role.OPERATOR)
@spec.validate(resp=SpecResponse(HTTP_200=ApprovalView, HTTP_404=Problem), tags=["approvals"])
def get_approval(key: str) -> AnyResponse:
    """Get a request for approval."""
    try:
        return approval_response(desk().get(decider(), key))
    except ApprovalError as error:
        return _refused(error)


@bp.post("/<key>/approve")
@requires(Role.OPERATOR)
@spec.validate(resp=DECISION, tags=["approvals"])
def approve(key: str) -> AnyResponse:
    """Approve (never one's own request) and send the action; 409 `approval_decided` when
    somebody decided first, `approval_expired` after its lifetime."""
    stale = _require_fresh()
    if stale is not None:
        return stale
    try:
        found, _result = desk().approve(decider(), key, provider_session())
    except ApprovalError as error:
        return _refused(error)
    return approval_response(found)


@bp.post("/<key>/reject")
@requires(Role.OPERATOR)
@spec.validate(resp=DECISION, tags=["approvals"])
def reject(key: str) -> AnyResponse:
    """Reject a request: nothing is sent."""
    stale = _require_fresh()
    if stale is not None:
        return stale
    try:
        return approval_response(desk().reject(decider(), key))
    except ApprovalError as error:
        return _refused(error)


@bp.post("/<key>/withdraw")
@requires(Role.OPERATOR)
@spec.validate(resp=DECISION, tags=["approvals"])
def withdraw(key: str) -> AnyResponse:
    """Withdraw one's own pending request: nothing is sent."""
    try:
        return approval_response(desk().withdraw(decider(), key))
    except ApprovalError as error:
        return _refused(error)
