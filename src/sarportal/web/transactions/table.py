"""The transactions table (`/transactions`) and its CSV export (blueprint `transactions`).

Filters, sort and page size live in the query string (`domain.filters`: what to match is a
`TransactionFilters`, how to show it a `TableView`), so a view can be bookmarked and shared;
the cursor position too (`Paging`: the provider's cursor only goes forward, so the URL keeps up
to `MAX_BACK_PAGES` earlier cursors for "previous"). With htmx the view region
(`#transactions-view`) is swapped in place; without JavaScript every link and the form load the
whole page. A provider failure shows an inline alert in that region with the failure's status;
bad filter input shows the form with one message per field (status 400).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.filters import (
    FilterError,
    Paging,
    TableView,
    TransactionFilters,
    parse_paging,
    parse_table,
)
from sarportal.domain.roles import Role
from sarportal.provider.errors import (
    ProviderError,
    ProviderInvalidRequest,
    ProviderRateLimited,
    ProviderTLSError,
)
from sarportal.provider.models import TransactionPage, TransactionSummary
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store, wants_region
from sarportal.web.core.problems import problem
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.transactions.view import (
    InlineAlert,
    export_url,
    order_words,
    preset_url,
    sort_toggle,
    table_rows,
    table_url,
)
from sarportal.web.ui.csv_export import CsvFormat, csv_download, csv_lines
from sarportal.web.ui.filter_form import FilterForm, field_labels, field_messages, vocabulary
from sarportal.web.ui.locale import current_locale, select_timezone

bp = Blueprint("transactions", __name__)


@bp.context_processor
def _helpers() -> dict[str, object]:
    return {
        "table_url": table_url,
        "preset_url": preset_url,
        "export_url": export_url,
        "sort_toggle": sort_toggle,
        "order_words": order_words,
        "field_labels": field_labels(),
    }


VIEW_TARGET = "transactions-view"
EXPORT_PAGE_SIZE = 1000


def _now() -> datetime:
    return portal().settings.clock().astimezone(UTC)


def _render(status: int = 200, **context: Any) -> Response:
    template = "transactions/_view.html" if wants_region(VIEW_TARGET) else "transactions/index.html"
    html = render_template(template, view_target=VIEW_TARGET, words=vocabulary(), **context)
    return no_store(Response(html, status=status, mimetype="text/html"))


INLINE_PROBLEMS: Final = frozenset(
    {"provider_untrusted", "provider_credentials_refused", "provider_unavailable"}
)
"""The provider failures the table shows in its place, keeping the filters usable."""


def _alert_for(error: ProviderError) -> tuple[int, InlineAlert] | None:
    """The inline alert and status for the provider failures a page can show in place."""
    if error.portal_code not in INLINE_PROBLEMS:
        return None
    if isinstance(error, ProviderTLSError):
        current_app.logger.error("provider TLS verification failed; nothing was shown")
    found = problem(error.portal_code)
    return found.status, InlineAlert(str(found.title), found.detail())


@bp.get("/transactions")
@requires(Role.VIEWER)
def index() -> Response:
    """The table of the merchant's transactions, filtered, sorted and paged."""
    locale = current_locale()
    form = FilterForm.from_query(request.args, locale)
    try:
        filters, view = parse_table(request.args, locale)
    except FilterError as error:
        return _render(
            400, form=form, errors=field_messages(error, locale), filters=None, view=None
        )
    form = FilterForm.from_filters(filters, locale, view)
    notice = None
    try:
        paging = parse_paging(request.args)
    except FilterError:
        paging, notice = Paging(), _("This page link is no longer valid. Here is the first page.")
    context: dict[str, Any] = {"form": form, "filters": filters, "view": view, "errors": {}}
    if filters.matches_nothing:
        empty = TransactionPage(data=[], has_more=False, next_cursor=None, total_count=0)
        return _render(page=empty, paging=Paging(), notice=notice, **context)
    try:
        page = _fetch(filters, view, paging)
    except ProviderInvalidRequest as error:
        if error.param != "cursor" or paging.is_first:
            raise
        paging, notice = Paging(), _("This page link is no longer valid. Here is the first page.")
        page = _fetch(filters, view, paging)
    except ProviderError as error:
        found = _alert_for(error)
        if found is None:
            raise
        status, alert = found
        response = _render(status, page=None, paging=paging, alert=alert, **context)
        response.headers["X-Portal-Inline-Error"] = "1"
        if isinstance(error, ProviderRateLimited) and error.retry_after:
            response.headers["Retry-After"] = str(int(error.retry_after) or 1)
        return response
    rows = table_rows(page.data)
    return _render(page=page, rows=rows, paging=paging, notice=notice, **context)


def _fetch(filters: TransactionFilters, view: TableView, paging: Paging) -> TransactionPage:
    params = filters.provider_params(_now(), ZoneInfo(select_timezone()))
    params |= view.provider_params(filters)
    if paging.cursor is not None:
        params["cursor"] = paging.cursor
    else:
        params["include_total"] = "true"
    return provider_session().list_transactions(params)


# -- CSV export ------------------------------------------------------------------------------


CSV_FIELDS = (
    "id",
    "created_at",
    "order_reference",
    "shop",
    "status",
    "settlement_status",
    "payment_method",
    "currency",
    "amount",
    "captured_amount",
    "refunded_amount",
    "cancelled_amount",
    "country",
    "customer_type",
    "authorization_expires_at",
    "captured_at",
    "due_date",
    "paid_at",
    "dunning_level",
)


def _csv_header(tz: ZoneInfo) -> list[str]:
    zone = str(tz)
    return [
        _("Transaction ID"),
        _("Created (%(zone)s)", zone=zone),
        _("Order reference"),
        _("Shop"),
        _("Status"),
        _("Settlement status"),
        _("Payment method"),
        _("Currency"),
        _("Amount"),
        _("Captured"),
        _("Refunded"),
        _("Cancelled"),
        _("Country"),
        _("Customer type"),
        _("Authorization expires (%(zone)s)", zone=zone),
        _("Captured at (%(zone)s)", zone=zone),
        _("Due date"),
        _("Paid at (%(zone)s)", zone=zone),
        _("Dunning level"),
    ]


@bp.get("/transactions/export.csv")
@requires(Role.VIEWER)
def export() -> Response:
    """Every transaction matching the filters, all pages, streamed as CSV."""
    locale = current_locale()
    try:
        filters, view = parse_table(request.args, locale)
    except FilterError as error:
        form = FilterForm.from_query(request.args, locale)
        return _render(
            400, form=form, errors=field_messages(error, locale), filters=None, view=None
        )
    tz = ZoneInfo(select_timezone())
    fmt = CsvFormat(locale, tz, vocabulary())
    rows: Iterator[TransactionSummary] = iter(())
    first: list[TransactionSummary] = []
    if not filters.matches_nothing:
        params = filters.provider_params(_now(), tz)
        params["order"] = view.effective_order(filters).value
        rows = provider_session().iter_transactions(params, page_size=EXPORT_PAGE_SIZE)
        # The first page is fetched before the answer starts, so a provider that is down
        # gives a proper error page instead of an empty file.
        first = [tx for tx in [next(rows, None)] if tx is not None]

    def everything() -> Iterator[TransactionSummary]:
        yield from first
        try:
            yield from rows
        except ProviderError as error:
            current_app.logger.error("transactions export stopped: %s", type(error).__name__)
            raise ExportInterrupted from None

    def lines() -> Iterator[list[str]]:
        for count, tx in enumerate(everything(), start=1):
            yield fmt.row(tx)
            if count % 10_000 == 0:
                current_app.logger.info("transactions export: %d rows streamed", count)

    today = _now().astimezone(tz).date().isoformat()
    body = csv_lines(_csv_header(tz), lines(), fmt.delimiter)
    return no_store(csv_download(body, f"transactions-{today}.csv"))


class ExportInterrupted(RuntimeError):
    """The provider failed in the middle of an export; the download is cut off, not completed."""
