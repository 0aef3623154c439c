"""The counter page (`/counter`) and its CSV export (blueprint `counter`).

Payment statistics as counters (count and amount per status and per settlement state) and a
table by period, for the filters of the transactions table in the query string. While the job
runs, htmx reloads the results region (`#counter-results`) every half second; without
JavaScript the page reloads itself. The CSV export waits for the job to finish.
"""

from __future__ import annotations

import time
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.filters import FilterError
from sarportal.domain.roles import Role
from sarportal.jobs import JobView
from sarportal.jobs import codes as job_codes
from sarportal.web.core.access import requires
from sarportal.web.core.errors import error_response
from sarportal.web.core.htmx import no_store, wants_region
from sarportal.web.core.services import portal
from sarportal.web.stats import buckets
from sarportal.web.stats.counter_table import counters, csv_header, csv_rows, period_table
from sarportal.web.stats.query import (
    StatsQuery,
    current_job,
    figures_of,
    find_job,
    job_status,
    parse_query,
    submit,
)
from sarportal.web.stats.words import chart_words
from sarportal.web.ui.csv_export import CsvFormat, csv_download, csv_lines
from sarportal.web.ui.filter_form import FilterForm, field_labels, field_messages, vocabulary
from sarportal.web.ui.locale import current_locale, select_timezone

bp = Blueprint("counter", __name__)

RESULTS_TARGET: Final = "counter-results"
EXPORT_WAIT_SECONDS: Final = 60.0
EXPORT_POLL_SECONDS: Final = 0.2


def results(job: JobView, query: StatsQuery, locale: str) -> dict[str, Any]:
    """The job's state, counters and table by period for the page's currency."""
    status = job_status(job, locale)
    figures = figures_of(job)
    currency = buckets.pick_currency(figures, query.currency)
    found: dict[str, Any] = {
        "job": status, "currency": currency, "currencies": [], "empty": status["complete"],
    }  # fmt: skip
    if figures is None or currency is None:
        return found
    period = buckets.period_days(figures)
    days = 0 if period is None else (period[1] - period[0]).days + 1
    granularity = buckets.pick_granularity(query.granularity, days)
    words = chart_words()
    count = figures["key_figures"][currency]["count"]["value"] or 0
    return found | {
        "currencies": buckets.currencies(figures),
        "currency_links": {
            code: query.url("counter.index", display_currency=code)
            for code in buckets.currencies(figures)
        },
        "granularity_used": granularity,
        "empty": count == 0,
        "counters": counters(figures, currency, locale, words, query.transactions_link),
        "table": period_table(figures, currency, granularity, locale),
        "words": words,
    }


@bp.get("/counter")
@requires(Role.VIEWER)
def index() -> Response:
    """Payment statistics as counters and a table by period, for the filters."""
    locale = current_locale()
    context: dict[str, Any] = {
        "words": vocabulary(),
        "field_labels": field_labels(),
        "granularities": buckets.GRANULARITIES,
        "results_target": RESULTS_TARGET,
    }
    try:
        query = parse_query(request.args, locale)
    except FilterError as error:
        form = FilterForm.from_query(request.args, locale)
        html = render_template(
            "counter/index.html", form=form, errors=field_messages(error, locale),
            query=None, data=None, **context,
        )  # fmt: skip
        return no_store(Response(html, status=400, mimetype="text/html"))
    data = None
    if not query.filters.matches_nothing:
        job = current_job(query.filters, request.args)
        data = results(job, query, locale)
        context["reload_url"] = query.url("counter.index", job=job.id)
    template = "counter/_results.html" if wants_region(RESULTS_TARGET) else "counter/index.html"
    form = FilterForm.from_filters(query.filters, locale)
    html = render_template(template, form=form, errors={}, query=query, data=data, **context)
    return no_store(Response(html, mimetype="text/html"))


@bp.post("/counter/refresh")
@requires(Role.VIEWER)
def refresh() -> Response:
    """Count again (not from the cache), then show the counter page."""
    try:
        query = parse_query(request.form, current_locale())
    except FilterError:
        return redirect(url_for("counter.index"), code=303)
    if not query.filters.matches_nothing:
        submit(query.filters, refresh=True)
    return redirect(query.url("counter.index"), code=303)


def _finished(job: JobView) -> JobView:
    """The job once it has ended, or as it is after `EXPORT_WAIT_SECONDS`."""
    deadline = time.monotonic() + EXPORT_WAIT_SECONDS
    while not job.finished and time.monotonic() < deadline:
        time.sleep(EXPORT_POLL_SECONDS)
        job = find_job(job.id) or job
    return job


@bp.get("/counter/export.csv")
@requires(Role.VIEWER)
def export() -> Response:
    """The table by period for every currency as CSV, in the user's locale."""
    locale = current_locale()
    try:
        query = parse_query(request.args, locale)
    except FilterError as error:
        detail = "; ".join(field_messages(error, locale).values())
        return no_store(error_response(400, title=_("Please check the filters"), detail=detail))
    tables = []
    if not query.filters.matches_nothing:
        job = _finished(submit(query.filters))
        status = job_status(job, locale)
        if not status["complete"]:
            failure = status["failure"] or {
                "title": _("The statistics are not ready yet"),
                "detail": _("Please try the export again in a minute."),
            }
            # without provider access, waiting does not help; otherwise it may
            unready = job.error not in (job_codes.NO_PROVIDER, job_codes.NO_CREDENTIALS)
            code = 503 if unready else 409
            response = error_response(code, title=failure["title"], detail=failure["detail"])
            if unready:
                response.headers["Retry-After"] = "30"
            return no_store(response)
        figures = job.result or {}
        period = buckets.period_days(figures)
        days = 0 if period is None else (period[1] - period[0]).days + 1
        granularity = buckets.pick_granularity(query.granularity, days)
        tables = [
            period_table(figures, currency, granularity, locale)
            for currency in sorted(figures.get("key_figures", {}))
        ]
    words = chart_words()
    zone = ZoneInfo(select_timezone())
    fmt = CsvFormat(locale, zone)
    rows = csv_rows(tables, fmt.amount, words["total"])
    today = portal().settings.clock().astimezone(zone).date().isoformat()
    body = csv_lines(csv_header(words), rows, fmt.delimiter)
    return no_store(csv_download(body, f"payment-statistics-{today}.csv"))
