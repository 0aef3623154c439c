"""The detail page, its one-field reveals, and the customer's other transactions.

Each request reads the transaction live from the provider and forgets it after rendering: the
customer's data is in memory for one request, never in the store, a log, a URL or a cache.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, render_template
from werkzeug.wrappers import Response

from sarportal.actions import TARGET, amounts_of, record_customer_view, summary_of
from sarportal.domain.actions import ActionKind
from sarportal.domain.roles import Role
from sarportal.provider.errors import ProviderError
from sarportal.provider.models import TransactionDetail
from sarportal.web.approvals.intents import decider, desk
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.htmx import is_htmx, no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.transactions import dialog, invoice
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.present import (
    CUSTOMER_FIELD_NAMES,
    AuditRow,
    audit_rows,
    available_actions,
    customer_field,
    customer_fields,
    template_globals,
)

bp = Blueprint("transaction", __name__)

RELATED_LIMIT = 25


def render_detail(
    found: TransactionDetail,
    *,
    revealed: dict[str, list[str] | None] | None = None,
    invoice_entry: invoice.InvoiceEntry | None = None,
    **extra: Any,
) -> str:
    """The whole page for a transaction just read; only `revealed` fields show their value;
    the invoice's forms as `invoice_entry` left them."""
    user: CurrentUser = g.user
    summary = summary_of(found)
    audit = _activity(summary.id)
    now = portal().settings.clock()
    amounts = amounts_of(summary)
    may_act = user.role.allows(Role.OPERATOR)
    return render_template(
        "transactions/detail.html",
        tx=summary,
        order_lines=found.items,
        events=sorted(found.events, key=lambda e: e.occurred_at, reverse=True),
        fields=customer_fields(summary.customer_type),
        revealed=revealed or {},
        still_possible={kind.value: amounts.available(kind, now) for kind in ActionKind},
        actions=available_actions(amounts, now) if may_act else [],
        may_act=may_act,
        audit=audit,
        approvals=desk().listed(decider(), transaction_id=summary.id),
        **invoice.invoice_context(found, invoice_entry),
        **template_globals(),
        **extra,
    )


def _activity(tx_id: str) -> list[AuditRow]:
    """The rows of the page's activity card: what the user's organisation did with `tx_id`."""
    user: CurrentUser = g.user
    with portal().store.unit_of_work() as uow:
        return audit_rows(uow.audit.for_target(user.organisation_id, TARGET, tx_id))


@requires(Role.VIEWER)
def detail(tx_id: str) -> str:
    """A transaction: summary, amounts, settlement, order lines, history, masked customer."""
    return render_detail(provider_session().transaction(tx_id))


@requires(Role.VIEWER)
def reveal(tx_id: str, field: str) -> str:
    """One customer field, read live and audited (without the value); htmx gets only it."""
    if field not in CUSTOMER_FIELD_NAMES:
        abort(404)
    found = provider_session().transaction(tx_id)
    value = customer_field(found.customer, field)
    record_customer_view(portal().store, actor(), found.id, field)
    if not is_htmx():
        return render_detail(found, revealed={field: value})
    return render_template(
        "transactions/_reveal_field.html",
        tx_id=found.id,
        name=field,
        value=value,
        audit=_activity(found.id),  # the card, out of band: it shows the view just recorded
        **template_globals(),
    )


@requires(Role.OPERATOR)
def invoice_operation(tx_id: str, operation: str) -> Response:
    """Extend the due date, pause the dunning, send the invoice again or report a direct
    payment; a refused form is shown again on the page, with what went wrong."""
    outcome = invoice.submit(tx_id, operation)
    if isinstance(outcome, Response):
        return outcome
    html = render_detail(provider_session().transaction(tx_id), invoice_entry=outcome)
    return no_store(Response(html, status=outcome.status, mimetype="text/html"))


@requires(Role.VIEWER)
def related(tx_id: str) -> str | Response:
    """The customer's other transactions (summaries), by this transaction's id, never theirs."""
    error = None
    others = []
    try:
        session = provider_session()
        customer_id = session.transaction(tx_id).customer_id
        page = session.customer_transactions(customer_id, {"limit": RELATED_LIMIT})
        others = [t for t in page.data if t.id != tx_id]
        has_more = page.has_more
    except ProviderError as exc:
        if not is_htmx():
            raise
        error, has_more = exc, False
    template = (
        "transactions/detail_related.html" if is_htmx() else "transactions/detail_related_page.html"
    )
    return render_template(
        template, tx_id=tx_id, others=others, has_more=has_more, error=error, **template_globals()
    )


# -- the URL map of blueprint `transaction` ----------------------------------------------------
# The page; the customer's fields are revealed one by one with POSTs (so nothing personal is
# ever in a URL); the other transactions of the customer load with a separate request; the
# action dialog is a GET that opens it and POSTs that advance it; the invoice's operations are
# one POST each, from the settlement card.

ACTION = "/transactions/<tx_id>/actions/<any(refund, capture, cancellation):kind>"

bp.add_url_rule("/transactions/<tx_id>", view_func=detail, methods=["GET"])
bp.add_url_rule("/transactions/<tx_id>/customer/<field>", view_func=reveal, methods=["POST"])
bp.add_url_rule("/transactions/<tx_id>/related", view_func=related, methods=["GET"])
bp.add_url_rule(ACTION, view_func=dialog.action_form, methods=["GET"])
bp.add_url_rule(ACTION, view_func=dialog.act, methods=["POST"])
bp.add_url_rule(
    "/transactions/<tx_id>/invoice/<any(extension, pause, resend, 'direct-payment'):operation>",
    view_func=invoice_operation,
    methods=["POST"],
)
