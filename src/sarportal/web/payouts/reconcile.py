"""`/payouts/reconcile`: a bank statement dropped in, matched against the live payouts.

The upload is read into memory (`web.core.uploads`: Werkzeug would otherwise spill a file over
500 KB into a temporary file on disk), parsed, matched and forgotten with the request: it is not
stored, not logged, and the report is rendered straight into the answer (`no-store`). The report
shows the provider's payouts and the entries that name them; other entries of the statement
(which may name people) are only counted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.provider import ProviderSession
from sarportal.provider.models import Payout
from sarportal.reconciliation.matching import reconcile
from sarportal.reconciliation.statements import Statement, StatementError, read_statement
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.uploads import allow_larger_uploads
from sarportal.web.payouts.present import reconciliation_context

bp = Blueprint("reconcile", __name__)

MAX_STATEMENT_BYTES: Final = 8 * 1024 * 1024
allow_larger_uploads("reconcile.upload", MAX_STATEMENT_BYTES + 64 * 1024)  # the form around it
MARGIN: Final = timedelta(days=14)
"""Payouts arriving this long before or after the statement's days are matched too: a bank may
book a transfer days after its arrival, and a statement may name a payout of the week before."""


def _render(status: int = 200, **context: Any) -> Response:
    html = render_template("payouts/reconcile.html", **context)
    return no_store(Response(html, status=status, mimetype="text/html"))


@bp.get("/payouts/reconcile")
@requires(Role.VIEWER)
def form() -> Response:
    """The upload form."""
    return _render(report=None, error=None)


@bp.post("/payouts/reconcile")
@requires(Role.VIEWER)
def upload() -> Response:
    """Read the statement, match it, show the report; keep nothing."""
    upload = request.files.get("statement")
    data = upload.read(MAX_STATEMENT_BYTES + 1) if upload is not None else b""
    if not data:
        return _render(400, report=None, error=_("Please choose a bank statement file."))
    if len(data) > MAX_STATEMENT_BYTES:
        return _render(413, report=None, error=_("The file is larger than 8 MB."))
    try:
        statement = read_statement(data)
    except StatementError as error:
        current_app.logger.info("reconciliation: statement refused (%s)", error.code)
        return _render(400, report=None, error=_statement_error(error.code))
    finally:
        del data
    payouts = _payouts_around(provider_session(), statement)
    report = reconcile(statement, payouts)
    current_app.logger.info(
        "reconciliation: %s with %d entries, %d payouts, %d exceptions",
        statement.kind, len(statement.entries), len(payouts), len(report.exceptions),
    )  # fmt: skip
    return _render(**reconciliation_context(report))


def _payouts_around(session: ProviderSession, statement: Statement) -> list[Payout]:
    """Every payout arriving within the statement's days and `MARGIN` around them."""
    params: dict[str, Any] = {
        "arrival_from": (statement.first_day - MARGIN).isoformat(),
        "arrival_to": (statement.last_day + MARGIN + timedelta(days=1)).isoformat(),
        "limit": 100,
    }
    found: list[Payout] = []
    while True:
        page = session.list_payouts(params)
        found += page.data
        if not page.has_more or page.next_cursor is None:
            return found
        params["cursor"] = page.next_cursor


def _statement_error(code: str) -> str:
    """Why the file was refused, in the user's language."""
    reasons: dict[str, str] = {
        "format": _("The file is neither a camt.053 (XML) nor an MT940 bank statement."),
        "xml": _(
            "The XML file cannot be read. Please upload the camt.053 file as your bank sent it."
        ),
        "not_camt": _("The XML file is not a camt.053 bank statement (BkToCstmrStmt)."),
        "mt940": _("The file cannot be read as an MT940 statement."),
        "empty": _("The statement holds no entries."),
        "too_many": _(
            "The statement has more than 20,000 entries. Please upload a shorter period."
        ),
        "amount": _("An amount on the statement cannot be read."),
        "date": _("A date on the statement cannot be read."),
        "entry": _("An entry of the statement has no amount, date or credit/debit mark."),
    }
    return reasons.get(code) or reasons["format"]
