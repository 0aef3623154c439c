"""`/claims`, `/claims/export.csv`, `/claims/<id>` and its assignee (blueprint `claims`).

The inbox opens on the claims that wait for the merchant, soonest deadline first, and marks
those that expire within 72 hours (a claim not answered by its `respond_by` is deducted from
the payout). Views, reasons, currencies and the assignee filter live in the query string; the
cursor as on the other tables (a filtered inbox has none: see `assignee`). Claims hold no
personal data, but the pages are `no-store` like every page that lists transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.claim_assignments import AssigneeRefused
from sarportal.domain.filters import CURRENCIES, FilterError, Paging, QueryReader, parse_paging
from sarportal.domain.money import minor_digits
from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import CLAIM_REASONS
from sarportal.provider.errors import ProviderInvalidRequest
from sarportal.provider.models import Claim, ClaimPage
from sarportal.web.claims import assignee, respond
from sarportal.web.claims.present import SOON, ClaimRow, claim_rows, inbox_url
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.htmx import no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.transactions.actor import actor
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


def _query() -> tuple[str, dict[str, Any], str | None]:
    """The view, the provider's parameters for it and the assignee filter; `FilterError`
    naming a bad field."""
    reader = QueryReader(request.args)
    view = reader.one("view") or "open"
    if view not in VIEWS:
        reader.fail("view", "choice", view)
    reasons = reader.choices("reason", CLAIM_REASONS)
    currencies = reader.choices("currency", CURRENCIES)
    wanted = reader.one("assignee")
    if wanted is not None and wanted not in assignee.FILTERS:
        reader.fail("assignee", "choice", wanted)
    if reader.errors:
        raise FilterError(reader.errors)
    params: dict[str, Any] = dict(VIEWS[view])
    if view == "expiring":
        params["respond_by_before"] = _now() + SOON
    if reasons:
        params["reason"] = list(reasons)
    if currencies:
        params["currency"] = list(currencies)
    return view, params, wanted


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
        view, params, wanted = _query()
    except FilterError as error:
        errors = field_messages(error, current_locale())
        return _render("claims/index.html", 400, view=None, rows=[], page=None, errors=errors,
                       counts={}, paging=Paging(), notice=None, filters={})  # fmt: skip
    session = provider_session()
    filters = {
        "view": view,
        "reason": params.get("reason", []),
        "currency": params.get("currency", []),
        "assignee": wanted,
    }
    if wanted is None:
        page, paging, notice = _provider_page(session, params)
        emails = assignee.emails(page.data)
    else:
        kept = assignee.filtered(session.iter_claims(params), wanted, PAGE_SIZE)
        page = ClaimPage(kept.claims, has_more=False, next_cursor=None, total_count=kept.total)
        paging, notice, emails = Paging(), kept.notice(), kept.emails
    return _render(
        "claims/index.html", view=view, rows=claim_rows(page.data, _now(), SOON, emails),
        page=page, counts=_counts(session), paging=paging, notice=notice, errors={},
        filters=filters, export_url=inbox_url("claims.export", filters),
    )  # fmt: skip


def _provider_page(session: Any, params: dict[str, Any]) -> tuple[ClaimPage, Paging, str | None]:
    """The page of the view that the query's cursor names, and a notice when it had to go
    back to the first page."""
    notice = None
    try:
        paging = parse_paging(request.args)
    except FilterError:
        paging, notice = Paging(), _("This page link is no longer valid. Here is the first page.")
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
    return page, paging, notice


def _me() -> CurrentUser:
    user: CurrentUser = g.user
    return user


def _csv_header(zone: str) -> list[str]:
    return [
        _("Claim"), _("Transaction"), _("Order reference"), _("Reason"), _("Status"),
        _("Currency"), _("Amount"), _("Raised (%(zone)s)", zone=zone),
        _("Respond by (%(zone)s)", zone=zone), _("Responded (%(zone)s)", zone=zone),
        _("Decided (%(zone)s)", zone=zone), _("Deducted in payout"), _("Assignee (user ID)"),
    ]  # fmt: skip


@bp.get("/claims/export.csv")
@requires(Role.VIEWER)
def export() -> Response:
    """Every claim of the chosen view, all pages, as CSV (ids and amounts; no personal data).

    The assignee is their user id, as in the API: a file travels, and staff addresses stay in
    the portal."""
    try:
        view, params, wanted = _query()
    except FilterError:
        return _render("claims/index.html", 400, view=None, rows=[], page=None, counts={},
                       errors={"view": _("Please choose one of the offered values.")},
                       paging=Paging(), notice=None, filters={})  # fmt: skip
    tz = ZoneInfo(select_timezone())
    claims = provider_session().iter_claims(params)
    first = [c for c in [next(claims, None)] if c is not None]  # a provider that is down: a page
    me = _me()
    annotated = assignee.assignments().annotated(me.organisation_id, chain(first, claims))

    def moment(value: datetime | None) -> str:
        return "" if value is None else value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")

    def rows() -> Iterator[list[str]]:
        for claim, found in annotated:
            if not assignee.matches(wanted, found, me.id):
                continue
            yield [
                claim.id, claim.transaction_id, csv_text(claim.order_reference), claim.reason,
                claim.status, claim.currency, _amount(claim), moment(claim.created_at),
                moment(claim.respond_by), moment(claim.responded_at), moment(claim.decided_at),
                claim.deducted_in_payout or "", str(found.user_id) if found else "",
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


@bp.post("/claims/<claim_id>/assignee")
@requires(Role.OPERATOR)
def assign(claim_id: str) -> Response:
    """Assign the claim to one of the organisation's active users, or to nobody."""
    claim = provider_session().claim(claim_id)  # it exists for this merchant: else a 404
    chosen = request.form.get("assignee", "").strip()
    try:
        if chosen and not (chosen.isascii() and chosen.isdigit()):
            raise AssigneeRefused(chosen)
        found = assignee.assignments().assign(actor(), claim.id, int(chosen) if chosen else None)
    except AssigneeRefused:
        refused = assignee.refused_message()
        context = respond.page_context(claim, respond.Entry(), assign_error=refused)
        return _render("claims/detail.html", 422, **context)
    if found is None:
        flash(_("Claim %(id)s is assigned to nobody now.", id=claim.id), "success")
    else:
        said = _("Claim %(id)s is assigned to %(email)s now.", id=claim.id, email=found.email)
        flash(said, "success")
    return redirect(url_for("claims.detail", claim_id=claim.id), code=303)


__all__ = ["ClaimRow", "bp"]
