"""What the dashboard and the counter page share: their query, their job, its state for people.

Both pages read the transactions table's filters from the query string (`domain.filters`), with
the last 30 days when no period is chosen, plus two display choices that are not filters:
`display_currency` and `granularity`. A page submits a statistics job for the signed-in user
(`jobs.submit` returns the running or recently finished job for the same filters, so a reload is
instant) and shows whatever the job has: the result, or the partial figures while it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import g, url_for
from flask_babel import gettext as _

from sarportal.domain.filters import Period, QueryLike, TransactionFilters, parse_filters
from sarportal.jobs import JobView, StatsRequest
from sarportal.jobs import codes as job_codes
from sarportal.web.core.problems import problem
from sarportal.web.core.services import portal
from sarportal.web.stats.buckets import GRANULARITIES
from sarportal.web.transactions.view import table_url
from sarportal.web.ui.formats import format_moment, format_number
from sarportal.web.ui.locale import select_timezone

DEFAULT_PERIOD: Final = Period.LAST_30_DAYS
DISPLAY_KEYS: Final = ("display_currency", "granularity")


@dataclass(frozen=True)
class StatsQuery:
    """The filters of a statistics page (period defaulted) and how to display the figures."""

    filters: TransactionFilters
    currency: str | None = None
    granularity: str = "auto"

    def pairs(self, **display: str | None) -> list[tuple[str, str]]:
        """The canonical query pairs: the filters, then the display choices (`display` wins)."""
        chosen = {"display_currency": self.currency, "granularity": self.granularity} | display
        pairs = self.filters.query_pairs()
        if chosen["display_currency"]:
            pairs.append(("display_currency", chosen["display_currency"]))
        if chosen["granularity"] and chosen["granularity"] != "auto":
            pairs.append(("granularity", chosen["granularity"]))
        return pairs

    def url(self, endpoint: str, *, job: str | None = None, **display: str | None) -> str:
        """The page's own URL for this query (`display` changes the display choices); with
        `job`, the URL that shows that job's failure instead of starting a new job."""
        base: str = url_for(endpoint)
        pairs = self.pairs(**display) + ([("job", job)] if job else [])
        return f"{base}?{urlencode(pairs)}" if pairs else base

    def transactions_link(self, **changes: Any) -> str:
        """The transactions table for these filters with `changes` (a chart segment's filter)."""
        return table_url(self.filters, **changes)


def parse_query(query: QueryLike, locale: str) -> StatsQuery:
    """The statistics page's query; raises `FilterError` for bad filter input."""
    filters = parse_filters(query, locale)
    if filters.period is None:
        filters = filters.replace(period=DEFAULT_PERIOD)
    currency = _one(query, "display_currency")
    granularity = _one(query, "granularity") or "auto"
    return StatsQuery(
        filters,
        currency.upper()[:3] if currency and currency.isalpha() else None,
        granularity if granularity in GRANULARITIES else "auto",
    )


def _one(query: QueryLike, key: str) -> str | None:
    values = [v.strip() for v in query.getlist(key) if isinstance(v, str) and v.strip()]
    return values[-1] if values else None


def stats_request(filters: TransactionFilters) -> StatsRequest:
    """The job for `filters` in the user's time zone, with the previous period for changes."""
    zone = select_timezone()
    now = portal().settings.clock().astimezone(UTC)
    params = filters.provider_params(now, ZoneInfo(zone))
    return StatsRequest(params, time_zone=zone, previous_period=True)


def submit(filters: TransactionFilters, *, refresh: bool = False) -> JobView:
    """The signed-in user's job for `filters`: running, recently finished, or new (a page the
    user opens supersedes their oldest running job when they have as many as they may)."""
    request = stats_request(filters)
    return portal().jobs.submit(g.user.id, request, refresh=refresh, supersede=True)


def current_job(filters: TransactionFilters, query: QueryLike) -> JobView:
    """The job a page shows: the failed job named by `job` in the query (so that a page that
    reloads itself without JavaScript can show the failure), else `submit(filters)`."""
    named = _one(query, "job")
    shown = find_job(named) if named else None
    if shown is not None and shown.state in ("failed", "cancelled"):
        return shown
    return submit(filters)


def find_job(job_id: str) -> JobView | None:
    """The signed-in user's job with this id, or None (unknown, expired or someone else's)."""
    if not job_id or len(job_id) > 64:
        return None
    return portal().jobs.get(g.user.id, job_id)


def figures_of(job: JobView) -> Mapping[str, Any] | None:
    """The job's figures: the result when it succeeded, the partial figures while it runs."""
    if job.state == "succeeded":
        return job.result
    return job.partial if job.state in ("queued", "running") else None


def job_status(job: JobView, locale: str) -> dict[str, Any]:
    """The job's state as the pages show it: progress, "as of", or what went wrong."""
    progress = job.progress
    rows = progress.get("rows") or 0
    total = progress.get("estimated_total")
    shards, done = progress.get("shards_total") or 0, progress.get("shards_done") or 0
    if job.state == "succeeded":
        percent = 100
    elif total:
        percent = min(99, int(100 * rows / total))
    else:
        percent = min(99, int(100 * done / shards)) if shards else 0
    if total:
        text = _(
            "≈ %(rows)s of %(total)s transactions counted",
            rows=format_number(rows, locale),
            total=format_number(max(total, rows), locale),
        )
    else:
        text = _("%(rows)s transactions counted", rows=format_number(rows, locale))
    zone = select_timezone()
    as_of = None
    if job.finished_at is not None:
        as_of = format_moment(job.finished_at, locale, zone, "short")
    return {
        "id": job.id,
        "state": job.state,
        "running": job.state in ("queued", "running"),
        "complete": job.state == "succeeded",
        "percent": percent,
        "progress_text": text,
        "detail": _(
            "%(done)s of %(shards)s time slices, %(pages)s pages",
            done=format_number(done, locale),
            shards=format_number(shards, locale),
            pages=format_number(progress.get("pages") or 0, locale),
        ),
        "as_of": as_of,
        "failure": failure(job) if job.state in ("failed", "cancelled") else None,
    }


def failure(job: JobView) -> dict[str, str]:
    """What went wrong with a job, and what to do, in the user's language (`web.problems`)."""
    code = job_codes.CANCELLED if job.state == "cancelled" else job.error
    found = problem(code, default=job_codes.FAILED)
    return {"code": code or job_codes.FAILED, "title": str(found.title), "detail": found.detail()}
