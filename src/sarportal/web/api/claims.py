"""`/api/v1/claims`: the customers' claims, passed through, and the merchant's answers.

Soonest deadline first (`respond_by_asc`) or newest first; amounts in minor units; no personal
data. `POST …/{id}/acceptance` (an empty JSON object) and `POST …/{id}/contestation`
(multipart/form-data: `text` and up to five `evidence` files) share the page's service
(`sarportal.claim_responses`): audit, an idempotency key (the caller's `Idempotency-Key`, else
one made for the request), and reconciliation after a lost answer. The files are checked as
the provider's contract says and passed through from memory. Session callers need the CSRF
header and a recent sign-in, as for the transaction actions. Every claim carries the portal's
`assignee_user_id` (or null), which `PUT …/{id}/assignee` sets (`sarportal.claim_assignments`,
the page's service).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from flask import Blueprint, Response, g, request, url_for

from sarportal.actions import Outcome, new_key, provider_key
from sarportal.claim_assignments import AssigneeRefused, ClaimAssignments
from sarportal.claim_responses import Answer, ClaimIntent, ClaimResponses
from sarportal.domain.claims import ContestationError, Upload, check_contestation
from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import ClaimReason, ClaimStatus
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import Claim as ProviderClaim
from sarportal.store.claim_assignees import ClaimAssignee
from sarportal.web.api.openapi import InvalidParameter, Problem, SpecResponse, decode_json, spec
from sarportal.web.api.transaction import (
    ACTION_PROBLEMS,
    ActionHeaders,
    ActionProblem,
    action_problem,
    write_responses,
)
from sarportal.web.api.transactions import RFC3339
from sarportal.web.claims.respond import LARGEST_CONTESTATION, claim_failure, contestation_message
from sarportal.web.core import problems
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import needs_step_up
from sarportal.web.core.uploads import allow_larger_uploads
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import failure_sentence

bp = Blueprint("api_claims", __name__, url_prefix="/api/v1/claims")


class ClaimListQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Filters (combined with AND; a repeated parameter matches any of its values) and paging."""

    status: list[ClaimStatus] | None = None
    reason: list[ClaimReason] | None = None
    respond_by_before: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    transaction_id: Annotated[str, msgspec.Meta(pattern="^tx_[0-9a-f]{16}$")] | None = None
    currency: list[Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]] | None = None
    order: Literal["respond_by_asc", "created_desc"] = "respond_by_asc"
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    cursor: Annotated[str, msgspec.Meta(min_length=1, max_length=512)] | None = None
    include_total: bool = False


class Claim(ProviderClaim, frozen=True):
    """A customer's claim (dispute) against a transaction, as the provider has it (no personal
    data), with the portal's `assignee_user_id`: the user of the organisation who looks after
    it, or null."""

    assignee_user_id: int | None = None


def _assignments() -> ClaimAssignments:
    return ClaimAssignments(portal().store)


def _with_assignee(claim: ProviderClaim, assignee: ClaimAssignee | None) -> Claim:
    fields = {name: getattr(claim, name) for name in ProviderClaim.__struct_fields__}
    return Claim(**fields, assignee_user_id=assignee.user_id if assignee else None)


def _with_assignees(claims: Sequence[ProviderClaim]) -> list[Claim]:
    user: CurrentUser = g.user
    found = _assignments().of_claims(user.organisation_id, [claim.id for claim in claims])
    return [_with_assignee(claim, found.get(claim.id)) for claim in claims]


class ClaimList(msgspec.Struct, omit_defaults=True):
    """One page of claims; follow `next_cursor` while `has_more` is true."""

    data: list[Claim]
    has_more: bool
    next_cursor: str | None
    total_count: int | None = None


@bp.get("")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=ClaimList), tags=["claims"])
def list_claims(query: ClaimListQuery) -> ClaimList:
    """List claims.

    The customers' claims against the merchant's transactions, soonest `respond_by` first:
    `status=open&respond_by_before=…` are those about to expire (an unanswered claim is
    deducted from the payout).
    """
    stamp = request.args.get("respond_by_before")
    if stamp is not None and not RFC3339.fullmatch(stamp):
        raise InvalidParameter(
            "respond_by_before", "`respond_by_before` must be an RFC 3339 date-time with an offset."
        )
    params = {
        name: value
        for name in ClaimListQuery.__struct_fields__
        if (value := getattr(query, name)) is not None
    }
    params["include_total"] = query.include_total or None
    try:
        page = provider_session().list_claims(params)
    except ProviderInvalidRequest as error:
        param = error.param or "cursor"
        raise InvalidParameter(param, f"The provider refused the parameter `{param}`.") from error
    return ClaimList(_with_assignees(page.data), page.has_more, page.next_cursor, page.total_count)


@bp.get("/<claim_id>")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=Claim, HTTP_404=Problem), tags=["claims"])
def get_claim(claim_id: str) -> Claim:
    """Get a claim with the merchant's response (its text and the files' names and sizes)."""
    (claim,) = _with_assignees([provider_session().claim(claim_id)])
    return claim


class AssigneeRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Whom the claim is assigned to: the id of an active user of the caller's organisation
    (`GET /api/v1/me` names the caller's own), or null for nobody."""

    user_id: int | None


@bp.put("/<claim_id>/assignee")
@requires(Role.OPERATOR)
@spec.validate(
    json=AssigneeRequest,
    resp=SpecResponse(
        HTTP_200=Claim, HTTP_400=Problem, HTTP_403=Problem, HTTP_404=Problem, HTTP_422=Problem
    ),
    tags=["claims"],
    skip_validation=True,  # `decode_json` validates, naming the field
)
def assign(claim_id: str) -> Response:
    """Assign a claim to a user of the organisation, or to nobody.

    The last assignment wins; each is audited. `422 invalid_request` (param `user_id`) when the
    user is no active user of the caller's organisation; nothing is changed then.
    """
    body = decode_json(AssigneeRequest)
    claim = provider_session().claim(claim_id)  # a 404 for an unknown id
    try:
        found = _assignments().assign(actor(), claim.id, body.user_id)
    except AssigneeRefused:
        raise InvalidParameter(
            "user_id", "`user_id` is no active user of your organisation.", status=422
        ) from None
    encoded = msgspec.json.encode(_with_assignee(claim, found))
    return Response(encoded, 200, mimetype="application/json")


class AcceptanceRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An empty object: the claim's whole amount is deducted from the current payout."""


ANSWER_RESPONSES = write_responses(Claim)
Created = tuple[Claim, int, dict[str, str]]


@bp.post("/<claim_id>/acceptance")
@requires(Role.OPERATOR)
@spec.validate(
    json=AcceptanceRequest, headers=ActionHeaders, resp=ANSWER_RESPONSES, tags=["claims"]
)
def accept(claim_id: str, json: AcceptanceRequest, headers: ActionHeaders) -> Created:
    """Accept a claim: its amount is deducted from the current payout.

    Only an `open` claim before its `respond_by`; otherwise `409 invalid_state`.
    """
    if json is None or not isinstance(request.get_json(silent=True), dict):
        raise InvalidParameter("body", "The body must be a JSON object (application/json).")
    return _answer(claim_id, Answer.ACCEPT, headers, "", ())


@bp.post("/<claim_id>/contestation")
@requires(Role.OPERATOR)
@spec.validate(headers=ActionHeaders, resp=ANSWER_RESPONSES, tags=["claims"])
def contest(claim_id: str, headers: ActionHeaders) -> Created:
    """Contest a claim with a statement and evidence files (multipart/form-data).

    `text`: why (1 to 5,000 characters, not only blanks); `evidence`: up to 5 files, PDF, PNG
    or JPEG by their content, each at most 5 MB, together at most 10 MB. The files are passed
    through to the provider and not kept. The claim becomes `under_review`.
    """
    if request.mimetype != "multipart/form-data":
        raise InvalidParameter("body", "The body must be multipart/form-data.")
    unknown = sorted({*request.form, *request.files} - {"text", "evidence"})
    if unknown:
        raise InvalidParameter(unknown[0], f"Unknown field `{unknown[0]}`.")
    texts = request.form.getlist("text")
    if len(texts) != 1:
        raise InvalidParameter("text", "`text` is required, once.")
    files = [(f.filename or "", f.read()) for f in request.files.getlist("evidence")]
    try:
        checked = check_contestation(texts[0], files)
    except ContestationError as error:
        raise InvalidParameter(error.field, contestation_message(error)) from None
    return _answer(claim_id, Answer.CONTEST, headers, checked.text, checked.evidence)


allow_larger_uploads("api_claims.contest", LARGEST_CONTESTATION)


def _answer(
    claim_id: str,
    answer: Answer,
    headers: ActionHeaders | None,
    text: str,
    evidence: tuple[Upload, ...],
) -> Created:
    user: CurrentUser = g.user
    if not user.via_token and needs_step_up():
        raise ActionProblem(403, "step_up_required", failure_sentence("step_up_required"))
    session = provider_session()
    claim = session.claim(claim_id)  # the amount for the audit; a 404 for an unknown id
    raw_key = (headers.idempotency_key if headers else None) or new_key()
    intent = ClaimIntent(
        claim_id=claim.id,
        answer=answer,
        amount=claim.amount,
        currency=claim.currency,
        idempotency_key=provider_key(user.id, raw_key),
        text=text,
        evidence=evidence,
    )
    result = ClaimResponses(portal().store, session).respond(actor(), intent)
    if result.outcome is Outcome.SUCCEEDED and result.claim is not None:
        location = url_for("api_claims.get_claim", claim_id=claim.id)
        (answered,) = _with_assignees([result.claim])
        return answered, 201, {"Location": location}
    code = result.problem_code
    if code in ACTION_PROBLEMS:
        raise ActionProblem(problems.problem(code).status, code, claim_failure(result))
    assert result.error is not None  # noqa: S101 (a failure always carries its error)
    raise result.error


bp.register_error_handler(ActionProblem, action_problem)
