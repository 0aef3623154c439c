"""`GET /api/v1/payouts`, a payout, its lines and its accounting files, for tokens and sessions.

The provider's payouts passed through as the contract defines them: signed amounts in minor
units, dates of arrival in UTC, opaque cursors. Nothing is kept; the files are streamed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from flask import Blueprint
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import PayoutFormat, PayoutStatus
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import Payout, PayoutLine, PayoutTotal
from sarportal.web.api.openapi import InvalidParameter, Problem, SpecResponse, spec
from sarportal.web.core.access import requires
from sarportal.web.core.provider_access import provider_session
from sarportal.web.payouts import pages

bp = Blueprint("api_payouts", __name__, url_prefix="/api/v1/payouts")

Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code.")]
Cursor = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class PayoutListQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Filters (combined with AND; a repeated parameter matches any of its values) and paging."""

    arrival_from: date | None = None
    arrival_to: date | None = None
    status: list[PayoutStatus] | None = None
    currency: list[Currency] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20
    cursor: Cursor | None = None
    include_totals: bool = False


class PayoutList(msgspec.Struct, omit_defaults=True):
    """One page of payouts, newest first; follow `next_cursor` while `has_more` is true."""

    data: list[Payout]
    has_more: bool
    next_cursor: str | None
    totals: list[PayoutTotal] | None = None


class LinesQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    cursor: Cursor | None = None


class PayoutLineList(msgspec.Struct):
    """One page of a payout's lines in booking order."""

    data: list[PayoutLine]
    has_more: bool
    next_cursor: str | None


class ExportQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    format: PayoutFormat


def _refused(error: ProviderInvalidRequest) -> InvalidParameter:
    param = error.param or "cursor"
    return InvalidParameter(param, f"The provider refused the parameter `{param}`.")


@bp.get("")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=PayoutList), tags=["payouts"])
def list_payouts(query: PayoutListQuery) -> PayoutList:
    """List payouts.

    The merchant's payouts, newest first: one a week and currency, arriving two days after its
    period (Monday to Sunday, UTC) ends. `arrival_to` is exclusive. With `include_totals=true`,
    `totals` holds per currency the count and sum of all matching payouts.
    """
    if query.arrival_from and query.arrival_to and query.arrival_from >= query.arrival_to:
        raise InvalidParameter("arrival_to", "`arrival_to` must be later than `arrival_from`.")
    params = {
        name: value.isoformat() if isinstance(value, date) else value
        for name in PayoutListQuery.__struct_fields__
        if (value := getattr(query, name)) is not None
    }
    params["include_totals"] = query.include_totals or None
    try:
        page = provider_session().list_payouts(params)
    except ProviderInvalidRequest as error:
        raise _refused(error) from error
    return PayoutList(page.data, page.has_more, page.next_cursor, page.totals)


@bp.get("/<payout_id>")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=Payout, HTTP_404=Problem), tags=["payouts"])
def get_payout(payout_id: str) -> Payout:
    """Get a payout with its totals by kind of booking (signed minor units)."""
    return provider_session().payout(payout_id)


@bp.get("/<payout_id>/lines")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=PayoutLineList, HTTP_404=Problem), tags=["payouts"])
def list_payout_lines(payout_id: str, query: LinesQuery) -> PayoutLineList:
    """List a payout's lines: captures, refunds, fees (VAT shown apart) and deductions."""
    params = {"limit": query.limit, "cursor": query.cursor}
    try:
        page = provider_session().payout_lines(payout_id, params)
    except ProviderInvalidRequest as error:
        raise _refused(error) from error
    return PayoutLineList(page.data, page.has_more, page.next_cursor)


@bp.get("/<payout_id>/export")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_404=Problem), tags=["payouts"])
def export_payout(payout_id: str, query: ExportQuery) -> Response:
    """Download a payout as `csv`, DATEV (`datev`) or camt.053 (`camt053`), streamed from the
    provider. A file that breaks off is cut off, never completed."""
    return pages.export(payout_id, query.format)
