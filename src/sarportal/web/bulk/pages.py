"""Bulk actions in the browser (blueprint `bulk`).

- `POST /bulk`: plan a job from the table (the rows ticked, `tx`, or every transaction that
  matches the table's filters) or from an uploaded CSV (`/bulk/upload`); the plan is a draft,
  shown at `/bulk/<key>` for review: what will happen, the total per currency, what needs
  approval, and what is left out and why.
- `POST /bulk/<key>/start` (with step-up; a refund takes one reason for every row) queues it;
  `/bulk/<key>` then shows its progress (htmx polls `/bulk/<key>/progress`) and, once done,
  each row's outcome; `/bulk/<key>/result.csv` is the outcome as a download.
- `POST /bulk/<key>/cancel` stops it: rows not sent yet are not sent.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.bulk import BulkDesk, BulkError
from sarportal.domain.actions import ActionKind, ReasonError, refund_reason
from sarportal.domain.bulk import MAX_ROWS, BulkJob, Planned, RowState, Skipped, totals
from sarportal.domain.filters import FilterError, parse_filters
from sarportal.domain.roles import Role
from sarportal.web.approvals.intents import desk as approvals_desk
from sarportal.web.bulk.upload import UploadError, read_upload
from sarportal.web.core.access import requires
from sarportal.web.core.errors import error_response
from sarportal.web.core.htmx import is_htmx, no_store
from sarportal.web.core.problems import problem
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import step_up_required
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import REASON_LABELS, failure_sentence, reason_error
from sarportal.web.transactions.present import ACTION_NAME
from sarportal.web.ui.csv_export import CsvFormat, csv_download, csv_lines
from sarportal.web.ui.locale import current_locale, select_timezone

bp = Blueprint("bulk", __name__, url_prefix="/bulk")
SHOWN_SKIPPED: Final = 50
KINDS: Final = {kind.value: kind for kind in ActionKind}


def desk() -> BulkDesk:
    return BulkDesk(portal().store)


def skipped_words() -> dict[str, str]:
    return {
        "nothing_to_capture": _("nothing left to capture"),
        "nothing_to_refund": _("nothing left to refund"),
        "nothing_to_cancel": _("nothing left to cancel"),
        "above_available": _("the amount asked for is more than is possible"),
        "not_found": _("no such transaction for your account"),
    }


def row_words() -> dict[str, str]:
    return {
        RowState.QUEUED.value: _("Waiting"),
        RowState.SENDING.value: _("Being sent"),
        RowState.DONE.value: _("Done"),
        RowState.REFUSED.value: _("Refused"),
        RowState.UNKNOWN.value: _("Outcome unknown"),
        RowState.APPROVAL.value: _("Waiting for approval"),
        RowState.CANCELLED.value: _("Not sent (stopped)"),
    }


# -- the list --------------------------------------------------------------------------------


@bp.get("")
@requires(Role.OPERATOR)
def index() -> Response:
    """The user's recent bulk actions, and how to start one."""
    html = render_template(
        "bulk/index.html",
        jobs=desk().recent(actor()),
        action_names=ACTION_NAME,
    )
    return no_store(Response(html, mimetype="text/html"))


# -- planning ----------------------------------------------------------------------------------


@bp.post("")
@requires(Role.OPERATOR)
def plan() -> Response:
    """A draft from the table: the ticked rows (`tx`), else every match of its filters."""
    kind = KINDS.get(request.form.get("kind", ""))
    if kind is None:
        return _bad(_("Please choose capture, refund or cancel."))
    ticked = [tx for tx in request.form.getlist("tx") if tx.strip()][: MAX_ROWS + 1]
    session = provider_session()
    try:
        if ticked:
            planned, skipped = desk().plan_ids(session, kind, ((tx, None) for tx in ticked))
        else:
            filters = parse_filters(_filter_query(), current_locale())
            if filters.matches_nothing:
                planned, skipped = [], []
            else:
                now = portal().settings.clock().astimezone(UTC)
                params = filters.provider_params(now, ZoneInfo(select_timezone()))
                planned, skipped = desk().plan_filter(session, kind, params)
    except FilterError:
        return _bad(_("The table's filters are not valid. Please correct them first."))
    except BulkError as error:
        return _bad(problem(error.code).detail())
    return _draft(kind, planned, skipped)


def _filter_query() -> Any:
    """The table's filters, which the bulk form carries as `f.<name>` fields."""
    from werkzeug.datastructures import MultiDict

    pairs = [
        (name.removeprefix("f."), value)
        for name, values in request.form.lists()
        if name.startswith("f.")
        for value in values
    ]
    return MultiDict(pairs)


@bp.get("/upload")
@requires(Role.OPERATOR)
def upload_form() -> Response:
    return _upload_page({}, [], 200)


@bp.post("/upload")
@requires(Role.OPERATOR)
def upload() -> Response:
    """A draft from a CSV of transaction ids (or order references), with optional amounts."""
    kind = KINDS.get(request.form.get("kind", ""))
    typed = {"kind": request.form.get("kind", "")}
    if kind is None:
        return _upload_page(typed, [_("Please choose capture, refund or cancel.")], 400)
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _upload_page(typed, [_("Please choose a CSV file.")], 400)
    try:
        lines = read_upload(sent.stream.read(2_000_001), kind, current_locale())
    except UploadError as error:
        return _upload_page(typed, error.messages, 400)
    session = provider_session()
    wanted = []
    skipped: list[Skipped] = []
    for line in lines:
        if line.order_reference is not None:
            page = session.list_transactions({"order_reference": line.order_reference, "limit": 2})
            if len(page.data) != 1:
                skipped.append(Skipped(f"#{line.number}", "not_found"))
                continue
            wanted.append((page.data[0].id, line.amount))
        else:
            wanted.append((line.transaction_id or "", line.amount))
    try:
        planned, more = desk().plan_ids(session, kind, wanted)
    except BulkError as error:
        return _upload_page(typed, [problem(error.code).detail()], 400)
    return _draft(kind, planned, skipped + more)


def _draft(kind: ActionKind, planned: list[Planned], skipped: list[Skipped]) -> Response:
    if not planned:
        return _bad(_("None of the chosen transactions allows this action now."), skipped)
    key = desk().create(actor(), kind, planned)
    _remember_skipped(key, skipped)
    return redirect(url_for("bulk.show", key=key), 303)


_SKIPPED: dict[str, list[Skipped]] = {}  # what the review leaves out, for this process's page


def _remember_skipped(key: str, skipped: list[Skipped]) -> None:
    _SKIPPED[key] = skipped[:SHOWN_SKIPPED]
    while len(_SKIPPED) > 200:
        _SKIPPED.pop(next(iter(_SKIPPED)))


def _bad(message: str, skipped: list[Skipped] | None = None) -> Response:
    html = render_template(
        "bulk/refused.html", message=message, skipped=skipped or [], words=skipped_words()
    )
    return no_store(Response(html, status=400, mimetype="text/html"))


def _upload_page(typed: dict[str, str], errors: list[str], status: int) -> Response:
    html = render_template(
        "bulk/upload.html", typed=typed, errors=errors, max_rows=MAX_ROWS, kinds=ACTION_NAME
    )
    return no_store(Response(html, status=status, mimetype="text/html"))


# -- a job -------------------------------------------------------------------------------------


@bp.get("/<key>")
@requires(Role.OPERATOR)
def show(key: str) -> Response:
    try:
        job = desk().get(actor(), key)
        rows = desk().rows(actor(), key)
    except BulkError as error:
        return _not_found(error)
    html = render_template(
        "bulk/job.html",
        job=job,
        rows=rows,
        totals=totals(rows),
        approvals=_needing_approval(job, rows),
        skipped=_SKIPPED.get(key, []),
        skipped_words=skipped_words(),
        row_words=row_words(),
        action_name=ACTION_NAME[job.kind],
        reasons=REASON_LABELS,
        sentence=failure_sentence,
        error=None,
    )
    return no_store(Response(html, mimetype="text/html"))


def _needing_approval(job: BulkJob, rows: list[Any]) -> int:
    policies = approvals_desk().policies(job.organisation_id)
    return sum(
        1
        for row in rows
        if (policy := policies.get(row.currency)) and policy.requires(job.kind, row.amount)
    )


@bp.get("/<key>/progress")
@requires(Role.OPERATOR)
def progress(key: str) -> Response:
    try:
        job = desk().get(actor(), key)
    except BulkError as error:
        return _not_found(error)
    html = render_template("bulk/_progress.html", job=job, row_words=row_words())
    response = no_store(Response(html, mimetype="text/html"))
    if job.finished and is_htmx():
        response.headers["HX-Refresh"] = "true"  # the whole page, with every row's outcome
    return response


@bp.post("/<key>/start")
@requires(Role.OPERATOR)
@step_up_required
def start(key: str) -> Response:
    try:
        job = desk().get(actor(), key)
        reason = None
        if job.kind is ActionKind.REFUND:
            code = request.form.get("reason", "")[:32]
            try:
                reason = refund_reason(code, request.form.get("note", "")[:1000])
            except ReasonError as error:
                flash(reason_error(error.reason), "danger")
                return redirect(url_for("bulk.show", key=key), 303)
            desk().set_reason(actor(), key, code, reason)
        desk().start(actor(), key)
    except BulkError as error:
        flash(problem(error.code).detail(), "warning")
        return redirect(url_for("bulk.show", key=key), 303)
    portal().bulk.submit(key, job.user_id)
    flash(_("The job has started. You can leave this page: it goes on without you."), "info")
    return redirect(url_for("bulk.show", key=key), 303)


@bp.post("/<key>/cancel")
@requires(Role.OPERATOR)
def cancel(key: str) -> Response:
    try:
        desk().cancel(actor(), key)
    except BulkError as error:
        flash(problem(error.code).detail(), "warning")
    else:
        flash(_("Stopped: rows not sent yet will not be sent."), "success")
    return redirect(url_for("bulk.show", key=key), 303)


@bp.get("/<key>/result.csv")
@requires(Role.OPERATOR)
def result(key: str) -> Response:
    """Each row's outcome: position, transaction, amount, currency, outcome, reason."""
    try:
        job = desk().get(actor(), key)
        rows = desk().rows(actor(), key)
    except BulkError as error:
        return _not_found(error)
    words = row_words()
    formats = CsvFormat(current_locale(), ZoneInfo(select_timezone()))
    header = [_("Row"), _("Transaction"), _("Amount"), _("Currency"), _("Outcome"), _("Why")]
    lines = (
        [
            str(row.position),
            row.transaction_id,
            formats.amount(row.amount, row.currency),
            row.currency,
            words[row.state.value],
            failure_sentence(row.code) if row.code else "",
        ]
        for row in rows
    )
    chunks = csv_lines(header, lines, formats.delimiter)
    return no_store(csv_download(chunks, f"bulk-{job.kind.value}-{key}.csv"))


def _not_found(error: BulkError) -> Response:
    found = problem(error.code)
    return error_response(
        found.status, code=error.code, title=str(found.title), detail=found.detail()
    )
