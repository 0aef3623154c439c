"""The dashboard (`/`, endpoint `pages.index`) and its job status (blueprint `dashboard`).

The page renders on the server with whatever the statistics job has: a finished job's figures at
once (a reload within the result's lifetime is instant), or the partial figures and a progress bar
while it runs. `dashboard.js` then polls `dashboard.job_status` every half second, which answers
the same shaped figures as JSON (`web.stats.charts`), and redraws the charts until the job is done.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any, TypeVar

import orjson
from flask import (
    Blueprint,
    abort,
    get_template_attribute,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.wrappers import Response

from sarportal.domain.filters import FilterError
from sarportal.domain.roles import Role
from sarportal.jobs import JobView
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store
from sarportal.web.stats import buckets, charts
from sarportal.web.stats.query import (
    StatsQuery,
    current_job,
    figures_of,
    find_job,
    job_status,
    parse_query,
    submit,
)
from sarportal.web.stats.words import chart_notes, chart_titles, chart_words
from sarportal.web.ui.filter_form import FilterForm, field_labels, field_messages, vocabulary
from sarportal.web.ui.locale import current_locale

bp = Blueprint("dashboard", __name__)

T = TypeVar("T")
CHARTS = ("volume", "status", "payment_method", "country", "amount", "days_to_pay", "settlement")


class FinishedViews:
    """The dashboard's shaping of succeeded jobs, kept so that a reload within the result's
    lifetime does not shape and format the same figures again (the most recent `size`).

    A succeeded job's figures never change, so an entry is keyed by the job and by what else the
    shaping reads: the language and the query. Job ids are random and belong to one user, and an
    entry is only read after `jobs.submit` or `jobs.get` found the job for the signed-in user, so
    nobody else can reach it. Figures are totals per segment: no customer's data."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = Lock()
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        """The value kept under `key`, or `make()`'s, kept."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                found: T = self._kept[key]
                return found
        made = make()
        with self._lock:
            self._kept[key] = made
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return made


FINISHED = FinishedViews(64)


def _finished_key(job: JobView, query: StatsQuery, locale: str) -> Hashable | None:
    """What a succeeded job's shaping depends on (None for any other job: its figures change)."""
    if job.state != "succeeded":
        return None
    return (job.id, locale, request.script_root, *query.pairs())


def payload(job: JobView, query: StatsQuery, locale: str) -> dict[str, Any]:
    """The job's state and its figures shaped for the page, as the template and JSON share it."""
    key = _finished_key(job, query, locale)

    def shape() -> dict[str, Any]:
        return _view(job, query, locale, complete=key is not None)

    view = shape() if key is None else FINISHED.get(("view", key), shape)
    return {"job": job_status(job, locale), "view": view}


def _tables(view: dict[str, Any], key: Hashable | None) -> dict[str, Markup]:
    """Each chart's figures table as HTML (the same tables `dashboard.js` draws)."""

    def render() -> dict[str, Markup]:
        table = get_template_attribute("stats/_macros.html", "figure_table")
        charts = view["charts"].items()
        return {chart: table(model["table"], f"figures-{chart}") for chart, model in charts}

    return render() if key is None else FINISHED.get(("tables", key), render)


def _view(job: JobView, query: StatsQuery, locale: str, complete: bool) -> dict[str, Any]:
    view = charts.dashboard(
        figures_of(job),
        currency=query.currency,
        granularity=query.granularity,
        locale=locale,
        words=chart_words(),
        link=query.transactions_link,
        complete=complete,
    )
    view["currency_links"] = {
        code: query.url("pages.index", display_currency=code) for code in view["currencies"]
    }
    view["granularity_links"] = {
        choice: query.url("pages.index", granularity=choice) for choice in buckets.GRANULARITIES
    }
    return view


def render_dashboard() -> Response:
    """The dashboard for the query string's filters (the view behind `pages.index`)."""
    locale = current_locale()
    context: dict[str, Any] = {
        "words": vocabulary(),
        "field_labels": field_labels(),
        "chart_ids": CHARTS,
        "titles": chart_titles(),
        "notes": chart_notes(),
        "granularities": buckets.GRANULARITIES,
        "colour_keys": {
            "status": charts.STATUS_ORDER,
            "settlement": (*charts.SETTLEMENTS, *(f"dunning-{n}" for n in charts.DUNNING_STAGES)),
        },
    }
    try:
        query = parse_query(request.args, locale)
    except FilterError as error:
        html = render_template(
            "dashboard/index.html",
            form=FilterForm.from_query(request.args, locale),
            errors=field_messages(error, locale),
            query=None,
            data=None,
            **context,
        )
        return no_store(Response(html, status=400, mimetype="text/html"))
    form = FilterForm.from_filters(query.filters, locale)
    data = None
    if not query.filters.matches_nothing:
        job = current_job(query.filters, request.args)
        data = payload(job, query, locale)
        context["tables"] = _tables(data["view"], _finished_key(job, query, locale))
        context["reload_url"] = query.url("pages.index", job=job.id)
        context["status_url"] = _status_url(job.id, query)
    html = render_template(
        "dashboard/index.html", form=form, errors={}, query=query, data=data, **context
    )
    return no_store(Response(html, mimetype="text/html"))


def _status_url(job_id: str, query: StatsQuery) -> str:
    base = url_for("dashboard.job_status", job_id=job_id)
    own = query.url("pages.index")
    return base + own[own.index("?") :] if "?" in own else base


@bp.get("/dashboard/jobs/<job_id>", endpoint="job_status")
@requires(Role.VIEWER)
def job_status_view(job_id: str) -> Response:
    """The job's state and figures shaped for the dashboard, as JSON (polled while it runs)."""
    locale = current_locale()
    job = find_job(job_id)
    if job is None:
        abort(404)
    try:
        query = parse_query(request.args, locale)
    except FilterError:
        abort(400)
    # orjson: the page polls this while the job runs, and the figures make a large document
    body = orjson.dumps(payload(job, query, locale))
    return no_store(Response(body, mimetype="application/json"))


@bp.post("/dashboard/refresh")
@requires(Role.VIEWER)
def refresh() -> Response:
    """Compute the figures again (not from the cache), then show the dashboard."""
    locale = current_locale()
    try:
        query = parse_query(request.form, locale)
    except FilterError:
        return redirect(url_for("pages.index"), code=303)
    if not query.filters.matches_nothing:
        submit(query.filters, refresh=True)
    return redirect(query.url("pages.index"), code=303)


pages = Blueprint("pages", __name__)
"""The signed-in home page (`pages.index`), which is the dashboard."""


@pages.get("/")
@requires(Role.VIEWER)
def index() -> Response:
    """The dashboard: key figures and charts of the merchant's transactions."""
    return render_dashboard()
