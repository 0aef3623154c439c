"""`POST /api/v1/stats/jobs` and `GET /api/v1/stats/jobs/{id}`: statistics jobs over the API.

A job aggregates every transaction matching the provider's list filters; it runs in the
background (threads, or Celery workers), so the POST answers 202 at once with the job's id and
the GET shows its progress, the partial figures while it runs and the figures when it has
succeeded. A job is visible to the user who submitted it only: anybody else gets 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from flask import Blueprint, Response, g, url_for
from werkzeug.wrappers import Response as AnyResponse

from sarportal.domain.roles import Role
from sarportal.jobs import JobView, StatsRequest
from sarportal.web.api.openapi import (
    InvalidParameter,
    Problem,
    SpecResponse,
    decode_json,
    problem,
    spec,
)
from sarportal.web.api.transactions import ProviderFilters
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.services import portal
from sarportal.web.stats.query import failure

bp = Blueprint("api_stats", __name__, url_prefix="/api/v1/stats")

JobId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern="^[A-Za-z0-9_-]+$")]


class StatsFilters(ProviderFilters, forbid_unknown_fields=True, kw_only=True):
    """The provider's list filters (combined with AND; a list matches any of its values). Without
    `created_from` the job covers everything from the oldest matching transaction; without
    `created_to`, up to now."""


class StatsJobRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What to compute; `time_zone` (IANA name, default: the user's) sets the days, weeks and
    months; `refresh` starts a new job even when a recent result for the same filters exists."""

    filters: StatsFilters = msgspec.field(default_factory=StatsFilters)
    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    refresh: bool = False


State = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobAccepted(msgspec.Struct):
    """The job's id (follow the `Location` header) and its state."""

    id: str
    state: State


class JobProgress(msgspec.Struct):
    """How far the job has come; no number ever goes down."""

    shards_total: int | None
    shards_done: int | None
    pages: int | None
    rows: int | None
    estimated_total: int | None = None  # the provider's total counts, once every shard has one


class Totals(msgspec.Struct):
    count: int
    amount_by_currency: dict[str, int]  # Σ amount per ISO 4217 currency, in minor units


class StatsFigures(msgspec.Struct, kw_only=True):
    """The figures of the period (and changes against the previous one). `totals.count` and
    `totals.amount_by_currency` are exact; `by_status` maps each status to its count."""

    period: dict[str, Any]
    totals: Totals
    by_status: dict[str, int]
    key_figures: dict[str, Any]
    series: dict[str, Any]
    breakdowns: dict[str, Any]
    amount_distribution: dict[str, Any]
    days_to_pay: dict[str, Any]
    payment_delay: dict[str, Any]
    dunning_funnel: dict[str, Any]


class JobStatus(msgspec.Struct):
    """A job. `result` only once it has succeeded; `partial` (never complete) while it runs;
    `error_code` says why it failed or was cancelled (stable: `provider_unavailable`,
    `filters_refused`, …) and `error` says it as a sentence for people; `finished_at` is the
    "as of" of a result."""

    id: str
    state: State
    progress: JobProgress
    result: StatsFigures | None
    partial: StatsFigures | None
    error: str | None
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None


@bp.post("/jobs")
@requires(Role.VIEWER)
@spec.validate(
    json=StatsJobRequest,
    resp=SpecResponse(HTTP_202=JobAccepted, HTTP_400=Problem, HTTP_429=Problem),
    tags=["statistics"],
    skip_validation=True,  # `decode_json` validates, naming nested fields (`filters.status`)
)
def submit_job() -> Response:
    """Start a statistics job.

    Answers 202 with the job's id and a `Location` to poll. Within a few minutes of a job for
    the same filters and time zone, the same job is answered (running or finished) unless
    `refresh` is true. A user runs at most a few jobs at once (3 by default): a new one beyond
    that is a 429 `too_many_jobs` with `Retry-After`; a job finishing or cancelled makes room.
    """
    user: CurrentUser = g.user
    json = decode_json(StatsJobRequest)
    zone = json.time_zone or user.timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter("time_zone", "`time_zone` must be an IANA time zone.") from None
    filters = _provider_filters(json.filters)
    view = portal().jobs.submit(
        user.id, StatsRequest(filters, time_zone=zone), refresh=json.refresh
    )
    body = msgspec.json.encode(JobAccepted(view.id, view.state))
    location = url_for("api_stats.get_job", job_id=view.id)
    return Response(body, 202, {"Location": location}, mimetype="application/json")


@bp.get("/jobs/<job_id>")
@requires(Role.VIEWER)
@spec.validate(
    resp=SpecResponse(HTTP_200=JobStatus, HTTP_404=Problem),
    tags=["statistics"],
)
def get_job(job_id: str) -> AnyResponse:
    """Get a statistics job: its state, progress, partial figures or result."""
    user: CurrentUser = g.user
    view = portal().jobs.get(user.id, job_id) if len(job_id) <= 64 else None
    if view is None:
        return problem(404, code="not_found", detail="There is no such statistics job.")
    return Response(msgspec.json.encode(job_status(view)), 200, mimetype="application/json")


def job_status(view: JobView) -> JobStatus:
    """The API's form of a job."""
    why = failure(view) if view.state in ("failed", "cancelled") else None
    return JobStatus(
        id=view.id,
        state=view.state,
        progress=msgspec.convert(dict(view.progress), JobProgress),
        result=None if view.result is None else msgspec.convert(view.result, StatsFigures),
        partial=None if view.partial is None else msgspec.convert(view.partial, StatsFigures),
        error=why["detail"] if why else None,
        error_code=why["code"] if why else None,
        created_at=view.created_at,
        finished_at=view.finished_at,
    )


def _provider_filters(filters: StatsFilters) -> dict[str, Any]:
    """The filters as the provider takes them, checked for sense."""
    filters.check_ranges("filters.")
    found: dict[str, Any] = {}
    for name in StatsFilters.__struct_fields__:
        value = getattr(filters, name)
        if value is None:
            continue
        found[name] = value
    return found
