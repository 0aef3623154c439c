"""`/claims`, `/claims/export.csv` and `/claims/<id>` (blueprint `claims`).

The inbox opens on the claims that wait for the merchant, soonest deadline first, and marks
those that expire within 72 hours (a claim not answered by its `respond_by` is deducted from
the payout). Views, reasons and currencies live in the query string; the cursor as on the other
tables. Claims hold no personal data, but the pages are `no-store` like every page that lists
transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.filters import CURRENCIES, FilterError, Paging, QueryReader, parse_paging
from sarportal.domain.money import minor_digits
from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import CLAIM_REASONS
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import Claim
from sarportal.web.claims import respond
from sarportal.web.claims.present import SOON, ClaimRow, claim_rows, inbox_url
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.ui.csv_export import csv_download, csv_lines, csv_text
from sarportal.web.ui.filter_form import field_messages
from sarportal.web.ui.locale import current_locale, select_timezone

bp = Blueprint("claims", __name__)

PAGE_SIZE: Final = 50
VIEWS: Final[dict[str, dict[str, Any]]] = {
    "open": {"status": ["open"]},
    "expiring": {"status": ["open"]},  # and respond_by within SOON
    "under_review": {"status": ["under_review"]},
    "decided": {"status": ["accepted", "expired", "won", "lost"], "order": "created_desc"},
    "all": {"order": "created_desc"},
}


def _now() -> datetime:
    return portal().settings.clock().astimezone(UTC)


def _query() -> tuple[str, dict[str, Any]]:
    """The view and the provider's parameters for it; `FilterError` naming a bad field."""
    reader = QueryReader(request.args)
    view = reader.one("view") or "open"
    if view not in VIEWS:
        reader.fail("view", "choice", view)
    reasons = reader.choices("reason", CLAIM_REASONS)
    currencies = reader.choices("currency", CURRENCIES)
    if reader.errors:
        raise FilterError(reader.errors)
    params: dict[str, Any] = dict(VIEWS[view])
    if view == "expiring":
        params["respond_by_before"] = _now() + SOON
    if reasons:
        params["reason"] = list(reasons)
    if currencies:
        params["currency"] = list(currencies)
    return view, params


def _render(template: str, status: int = 200, **context: Any) -> Response:
    html = render_template(template, **context)
    return no_store(Response(html, status=status, mimetype="text/html"))


def _counts(session: Any) -> dict[str, int]:
    """How many claims wait for a response, and how many of them expire soon."""
    counts = {}
    for view in ("open", "expiring"):
        params: dict[str, Any] = {**VIEWS[view], "limit": 1, "include_total": True}
        if view == "expiring":
            params["respond_by_before"] = _now() + SOON
        counts[view] = session.list_claims(params).total_count or 0
    return counts


@bp.get("/claims")
@requires(Role.VIEWER)
def index() -> Response:
    """The inbox: claims of the chosen view, soonest deadline first where one is running."""
    try:
        view, params = _query()
    except FilterError as error:
        errors = field_messages(error, current_locale())
        return _render("claims/index.html", 400, view=None, rows=[], page=None, errors=errors,
                       counts={}, paging=Paging(), notice=None, filters={})  # fmt: skip
    notice = None
    try:
        paging = parse_paging(request.args)
    except FilterError:
        paging, notice = Paging(), _("This page link is no longer valid. Here is the first page.")
    session = provider_session()
    ask = {**params, "limit": PAGE_SIZE, "include_total": True}
    try:
        page = session.list_claims(
            ask if paging.cursor is None else {**ask, "cursor": paging.cursor}
        )
    except ProviderInvalidRequest as error:
        if error.param != "cursor" or paging.is_first:
            raise
        paging, notice = Paging(), _("This page link is no longer valid. Here is the first page.")
        page = session.list_claims(ask)
    filters = {
        "view": view,
        "reason": params.get("reason", []),
        "currency": params.get("currency", []),
    }
    return _render(
        "claims/index.html", view=view, rows=claim_rows(page.data, _now(), SOON), page=page,
        counts=_counts(session), paging=paging, notice=notice, errors={}, filters=filters,
        export_url=inbox_url("claims.export", filters),
    )  # fmt: skip


def _csv_header(zone: str) -> list[str]:
    return [
        _("Claim"), _("Transaction"), _("Order reference"), _("Reason"), _("Status"),
        _("Currency"), _("Amount"), _("Raised (%(zone)s)", zone=zone),
        _("Respond by (%(zone)s)", zone=zone), _("Responded (%(zone)s)", zone=zone),
        _("Decided (%(zone)s)", zone=zone), _("Deducted in payout"),
    ]  # fmt: skip


@bp.get("/claims/export.csv")
@requires(Role.VIEWER)
def export() -> Response:
    """Every claim of the chosen view, all pages, as CSV (ids and amounts; no personal data)."""
    try:
        view, params = _query()
    except FilterError:
        return _render("claims/index.html", 400, view=None, rows=[], page=None, counts={},
                       errors={"view": _("Please choose one of the offered values.")},
                       paging=Paging(), notice=None, filters={})  # fmt: skip
    tz = ZoneInfo(select_timezone())
    claims = provider_session().iter_claims(params)
    first = [c for c in [next(claims, None)] if c is not None]  # a provider that is down: a page

    def moment(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def rows() -> Iterator[list[str]]:
        for claim in [*first, *claims]:
            yield [
                claim.id, claim.transaction_id, csv_text(claim.order_reference), claim.reason,
                claim.status, claim.currency, _amount(claim), moment(claim.created_at),
                moment(claim.respond_by), moment(claim.responded_at), moment(claim.decided_at),
                claim.deducted_in_payout or "",
            ]  # fmt: skip

    today = _now().astimezone(tz).date().isoformat()
    body = csv_lines(_csv_header(str(tz)), rows(), ",")
    return no_store(csv_download(body, f"claims-{view}-{today}.csv"))


def _amount(claim: Claim) -> str:
    """Major units with a point, as in the transactions' export."""
    return f"{Decimal(claim.amount).scaleb(-minor_digits(claim.currency)):f}"


@bp.get("/claims/<claim_id>")
@requires(Role.VIEWER)
def detail(claim_id: str) -> Response:
    """One claim: what it is about, until when to respond, and the response."""
    claim = provider_session().claim(claim_id)
    return _render("claims/detail.html", **respond.page_context(claim, respond.Entry()))


bp.post("/claims/<claim_id>/accept")(respond.accept)
bp.post("/claims/<claim_id>/contest")(respond.contest)


__all__ = ["ClaimRow", "bp"]
