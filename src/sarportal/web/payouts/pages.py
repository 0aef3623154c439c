"""`/payouts`, `/payouts/<id>` and `/payouts/<id>/export/<format>` (blueprint `payouts`).

Everything is read live from the provider for the request and forgotten: a payout holds no
personal data, but its lines name transactions, so the pages are `no-store` like the others.
Filters and the cursor position live in the query string (a view can be bookmarked); the
provider's cursor only goes forward, so "previous" works as on the transactions table.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any, Final

from flask import Blueprint, abort, current_app, render_template, request, stream_with_context
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.filters import FilterError, Paging, parse_paging
from sarportal.domain.payout_filters import parse_payout_filters
from sarportal.domain.roles import Role
from sarportal.domain.vocabulary import PAYOUT_FORMATS, PayoutFormat
from sarportal.provider.errors import ProviderError, ProviderInvalidRequest
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store, wants_region
from sarportal.web.core.provider_access import provider_session
from sarportal.web.payouts.present import detail_context, list_context
from sarportal.web.ui.filter_form import field_messages
from sarportal.web.ui.locale import current_locale

bp = Blueprint("payouts", __name__)

VIEW_TARGET: Final = "payouts-view"
LINES_TARGET: Final = "payout-lines"
PAGE_SIZE: Final = 25
LINES_PAGE_SIZE: Final = 50
STALE_LINK: Final = "This page link is no longer valid. Here is the first page."


def _page(template: str, region: str, status: int = 200, **context: Any) -> Response:
    name = f"payouts/_{template}.html" if wants_region(region) else f"payouts/{template}.html"
    return no_store(Response(render_template(name, **context), status=status, mimetype="text/html"))


def _paging() -> tuple[Paging, str | None]:
    try:
        return parse_paging(request.args), None
    except FilterError:
        return Paging(), _(STALE_LINK)


@bp.get("/payouts")
@requires(Role.VIEWER)
def index() -> Response:
    """The merchant's payouts, newest first, with totals per currency over the filters."""
    try:
        filters = parse_payout_filters(request.args)
    except FilterError as error:
        errors = field_messages(error, current_locale())
        return _page("index", VIEW_TARGET, 400, **list_context(None, None, Paging(), errors))
    paging, notice = _paging()
    session = provider_session()
    params: dict[str, Any] = {
        **filters.provider_params(), "limit": PAGE_SIZE, "include_totals": True
    }  # fmt: skip
    try:
        found = session.list_payouts(_with_cursor(params, paging))
    except ProviderInvalidRequest as error:
        if error.param != "cursor" or paging.is_first:
            raise
        paging, notice = Paging(), _(STALE_LINK)
        found = session.list_payouts(params)
    context = list_context(filters, found, paging, {}, notice=notice)
    return _page("index", VIEW_TARGET, **context)


def _with_cursor(params: dict[str, Any], paging: Paging) -> dict[str, Any]:
    return params if paging.cursor is None else {**params, "cursor": paging.cursor}


@bp.get("/payouts/<payout_id>")
@requires(Role.VIEWER)
def detail(payout_id: str) -> Response:
    """One payout: its totals by kind, its lines page by page, and its exports."""
    session = provider_session()
    payout = session.payout(payout_id)
    paging, notice = _paging()
    params: dict[str, Any] = {"limit": LINES_PAGE_SIZE}
    try:
        lines = session.payout_lines(payout.id, _with_cursor(params, paging))
    except ProviderInvalidRequest as error:
        if error.param != "cursor" or paging.is_first:
            raise
        paging, notice = Paging(), _(STALE_LINK)
        lines = session.payout_lines(payout.id, params)
    return _page("detail", LINES_TARGET, **detail_context(payout, lines, paging, notice))


@bp.get("/payouts/<payout_id>/export/<fmt>")
@requires(Role.VIEWER)
def export(payout_id: str, fmt: str) -> Response:
    """The payout's accounting file, passed on from the provider chunk by chunk."""
    if fmt not in PAYOUT_FORMATS:
        abort(404)
    chosen: PayoutFormat = fmt
    stack = ExitStack()
    file = stack.enter_context(provider_session().payout_export(payout_id, chosen))

    def body() -> Any:
        with stack:
            try:
                yield from file.chunks()
            except ProviderError as error:
                current_app.logger.error(
                    "payout export stopped: %s (%d lines announced)",
                    type(error).__name__, file.line_count,
                )  # fmt: skip
                raise ExportInterrupted from None
        current_app.logger.info("payout export streamed: %d lines", file.line_count)

    response = Response(stream_with_context(body()), content_type=file.content_type)
    response.call_on_close(stack.close)
    response.headers["Content-Disposition"] = f'attachment; filename="{file.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


class ExportInterrupted(RuntimeError):
    """The provider's file broke off or arrived short; the download is cut off, not completed."""


__all__ = ["ExportInterrupted", "bp"]
