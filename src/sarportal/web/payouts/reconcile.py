"""`/payouts/reconcile`: a bank statement dropped in, matched against the live payouts.

The upload is read into memory (`web.core.uploads`: Werkzeug would otherwise spill a file over
500 KB into a temporary file on disk), parsed, matched and forgotten with the request: it is not
stored, not logged, and the report is rendered straight into the answer (`no-store`). The report
shows the provider's payouts and the entries that name them; other entries of the statement
(which may name people) are only counted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, Final

from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.actions import summary_of
from sarportal.domain.roles import Role
from sarportal.provider import ProviderSession
from sarportal.provider.errors import ProviderNotFound
from sarportal.provider.models import Payout, TransactionSummary
from sarportal.reconciliation.matching import reconcile
from sarportal.reconciliation.open_items import TX_ID, OpenItem, judge, read_open_items
from sarportal.reconciliation.statements import StatementError, is_statement, read_statement
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.uploads import allow_larger_uploads
from sarportal.web.payouts.present import open_items_context, reconciliation_context

bp = Blueprint("reconcile", __name__)

MAX_STATEMENT_BYTES: Final = 8 * 1024 * 1024
allow_larger_uploads("reconcile.upload", MAX_STATEMENT_BYTES + 64 * 1024)  # the form around it
MARGIN: Final = timedelta(days=14)
"""Payouts arriving this long before or after the statement's days are matched too: a bank may
book a transfer days after its arrival, and a statement may name a payout of the week before."""
LOOKUPS_AT_ONCE: Final = 4  # an open items file's transactions read at once (the jobs' default)


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
    """Read the statement (or the ERP's open items), match it, show the report; keep nothing."""
    upload = request.files.get("statement")
    data = upload.read(MAX_STATEMENT_BYTES + 1) if upload is not None else b""
    if not data:
        return _render(400, report=None, error=_("Please choose a bank statement file."))
    if len(data) > MAX_STATEMENT_BYTES:
        return _render(413, report=None, error=_("The file is larger than 8 MB."))
    try:
        if not is_statement(data):
            return _open_items(read_open_items(data))
        statement = read_statement(data)
    except StatementError as error:
        current_app.logger.info("reconciliation: file refused (%s)", error.code)
        return _render(400, report=None, error=_statement_error(error.code))
    finally:
        del data
    payouts = _payouts_around(provider_session(), statement.first_day, statement.last_day)
    report = reconcile(statement, payouts)
    current_app.logger.info(
        "reconciliation: %s with %d entries, %d payouts, %d exceptions",
        statement.kind, len(statement.entries), len(payouts), len(report.exceptions),
    )  # fmt: skip
    return _render(**reconciliation_context(report))


def _open_items(items: list[OpenItem]) -> Response:
    """Each open item's transaction, read live, and the payouts that hold their captures."""
    session = provider_session()
    found = _transactions(session, list(dict.fromkeys(item.ident for item in items)))
    captured = [tx.captured_at.date() for tx in found.values() if tx and tx.captured_at]
    payouts = (
        _payouts_around(session, min(captured), max(captured) + timedelta(days=9))
        if captured
        else []
    )
    findings = [judge(item, found[item.ident], payouts) for item in items]
    current_app.logger.info("reconciliation: %d open items, %d payouts", len(items), len(payouts))
    return _render(**open_items_context(findings))


def _transactions(
    session: ProviderSession, idents: list[str]
) -> dict[str, TransactionSummary | None]:
    """Each ident's transaction, `LOOKUPS_AT_ONCE` read at a time: a file of a thousand items
    would otherwise wait for a thousand round trips one after the other. The first failure
    stops the rest and is the answer."""
    pool = ThreadPoolExecutor(LOOKUPS_AT_ONCE, thread_name_prefix="reconcile")
    try:
        found = pool.map(lambda ident: _transaction(session, ident), idents)
        return dict(zip(idents, found, strict=True))
    finally:
        pool.shutdown(cancel_futures=True)


def _transaction(session: ProviderSession, ident: str) -> TransactionSummary | None:
    """The transaction an open item names (its summary only), or None."""
    if TX_ID.match(ident):
        try:
            return summary_of(session.transaction(ident))
        except ProviderNotFound:
            return None
    page = session.list_transactions({"order_reference": ident, "limit": 2})
    return page.data[0] if len(page.data) == 1 else None


def _payouts_around(session: ProviderSession, first: date, last: date) -> list[Payout]:
    """Every payout arriving from `first` to `last` and `MARGIN` around them."""
    params = {
        "arrival_from": (first - MARGIN).isoformat(),
        "arrival_to": (last + MARGIN + timedelta(days=1)).isoformat(),
    }
    return list(session.iter_payouts(params))


def _statement_error(code: str) -> str:
    """Why the file was refused, in the user's language."""
    reasons: dict[str, str] = {
        "format": _(
            "The file is neither a bank statement (camt.053 XML, MT940) nor a CSV of open items."
        ),
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
        "items_header": _(
            "The CSV's first line must name its columns, one of them the order reference "
            "(order_reference, reference, Bestellnummer, Referenz) or the transaction id."
        ),
        "items_ident": _(
            "A line of the CSV names neither an order reference nor a transaction id."
        ),
        "items_too_many": _("The CSV has more than 1,000 open items. Please upload fewer."),
    }
    return reasons.get(code) or reasons["format"]
