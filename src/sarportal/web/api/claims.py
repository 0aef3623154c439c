"""`GET /api/v1/claims` and `GET /api/v1/claims/{id}`: the customers' claims, passed through.

Soonest deadline first (`respond_by_asc`) or newest first; amounts in minor units; no personal
data. Answering a claim is done at the provider for now (the portal's pages show the claims).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from flask import Blueprint, request

from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import ClaimReason, ClaimStatus
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import Claim
from sarportal.web.api.openapi import InvalidParameter, Problem, SpecResponse, spec
from sarportal.web.api.transactions import RFC3339
from sarportal.web.core.access import requires
from sarportal.web.core.provider_access import provider_session

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
    return ClaimList(page.data, page.has_more, page.next_cursor, page.total_count)


@bp.get("/<claim_id>")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=Claim, HTTP_404=Problem), tags=["claims"])
def get_claim(claim_id: str) -> Claim:
    """Get a claim with the merchant's response (its text and the files' names and sizes)."""
    return provider_session().claim(claim_id)
