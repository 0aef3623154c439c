"""The invoice's operations in the portal's API, beside the transaction actions:
`POST /api/v1/transactions/{id}/due-date-extensions`, `…/dunning-pauses`, `…/invoice-resends`
and `…/direct-payments`.

They share the page's service (`sarportal.invoice_operations`): audit, an idempotency key (the
caller's `Idempotency-Key`, else one made for the request), and reconciliation after a lost
answer. An extension names the fee the caller showed and agreed to (`fee_amount`, from the
transaction's `invoice.extension_options`); a fee that changed meanwhile is refused with
`fee_changed`, so nobody pays a fee they were not shown. Session callers need the CSRF header
and a recent sign-in, as for the transaction actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Annotated, Final, Literal

import msgspec
from flask import g, request, url_for

from sarportal.actions import Outcome, new_key, provider_key
from sarportal.domain.roles import Role
from sarportal.invoice_operations import (
    MAX_PAUSE_DAYS,
    InvoiceIntent,
    InvoiceOperations,
    InvoiceResult,
    Operation,
    Seen,
)
from sarportal.provider.models import Invoice, TransactionSummary
from sarportal.web.api.openapi import InvalidParameter, spec
from sarportal.web.api.transaction import (
    ACTION_PROBLEMS,
    ActionHeaders,
    ActionProblem,
    Minor,
    bp,
    require_body,
    write_responses,
)
from sarportal.web.core import problems
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import needs_step_up
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.invoice import invoice_failure
from sarportal.web.transactions.messages import failure_sentence


class DueDateExtensionRequest(msgspec.Struct, forbid_unknown_fields=True):
    """How long to extend, and the fee agreed to (VAT included), as the transaction's
    `invoice.extension_options` shows it."""

    working_days: Literal[10, 15, 20]
    fee_amount: Minor


class DunningPauseRequest(msgspec.Struct, forbid_unknown_fields=True):
    """How many days from today no dunning notice is sent."""

    days: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAUSE_DAYS)]


class InvoiceResendRequest(msgspec.Struct, forbid_unknown_fields=True):
    """An empty object: the provider sends the invoice to the customer again."""


class DirectPaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    """What the customer paid the merchant directly (at most `invoice.open_amount`), and when."""

    amount: Minor
    paid_on: date


class InvoiceChanged(msgspec.Struct):
    """The transaction and its invoice after the operation."""

    transaction: TransactionSummary
    invoice: Invoice | None


RESPONSES: Final = write_responses(InvoiceChanged)
Created = tuple[InvoiceChanged, int, dict[str, str]]


@bp.post("/<tx_id>/due-date-extensions")
@requires(Role.OPERATOR)
@spec.validate(
    json=DueDateExtensionRequest, headers=ActionHeaders, resp=RESPONSES, tags=["invoices"]
)
def extend(tx_id: str, json: DueDateExtensionRequest, headers: ActionHeaders) -> Created:
    """Extend the invoice's due date, once, by 10, 15 or 20 working days, for the fee shown."""
    require_body(json)
    return _perform(
        tx_id, Operation.EXTEND, headers,
        lambda i: replace(i, working_days=json.working_days, fee_amount=json.fee_amount),
    )  # fmt: skip


@bp.post("/<tx_id>/dunning-pauses")
@requires(Role.OPERATOR)
@spec.validate(json=DunningPauseRequest, headers=ActionHeaders, resp=RESPONSES, tags=["invoices"])
def pause(tx_id: str, json: DunningPauseRequest, headers: ActionHeaders) -> Created:
    """Send no dunning notice for 1 to 30 days from today."""
    require_body(json)
    return _perform(tx_id, Operation.PAUSE, headers, lambda i: replace(i, days=json.days))


@bp.post("/<tx_id>/invoice-resends")
@requires(Role.OPERATOR)
@spec.validate(json=InvoiceResendRequest, headers=ActionHeaders, resp=RESPONSES, tags=["invoices"])
def resend(tx_id: str, json: InvoiceResendRequest, headers: ActionHeaders) -> Created:
    """Have the payment provider send the invoice to the customer again (once a day at most)."""
    require_body(json)
    return _perform(tx_id, Operation.RESEND, headers, lambda i: i)


@bp.post("/<tx_id>/direct-payments")
@requires(Role.OPERATOR)
@spec.validate(json=DirectPaymentRequest, headers=ActionHeaders, resp=RESPONSES, tags=["invoices"])
def direct_payment(tx_id: str, json: DirectPaymentRequest, headers: ActionHeaders) -> Created:
    """Report that the customer paid (part of) the invoice to you directly; it is deducted
    from your current payout, and a payment in full settles the invoice and stops dunning."""
    require_body(json)
    return _perform(
        tx_id, Operation.DIRECT_PAYMENT, headers,
        lambda i: replace(i, amount=json.amount, paid_on=json.paid_on),
    )  # fmt: skip


COUNTS: Final = frozenset({"days", "working_days"})


def _require_counts() -> None:
    """Refuse days given as anything but a JSON integer (spectree would read "7" as 7)."""
    raw = request.get_json(silent=True) or {}
    for name in COUNTS & raw.keys():
        if type(raw[name]) is not int:
            raise InvalidParameter(name, f"The parameter `{name}` must be a JSON integer.")


def _perform(
    tx_id: str,
    operation: Operation,
    headers: ActionHeaders | None,
    complete: Callable[[InvoiceIntent], InvoiceIntent],
) -> Created:
    _require_counts()
    user: CurrentUser = g.user
    if not user.via_token and needs_step_up():
        raise ActionProblem(403, "step_up_required", failure_sentence("step_up_required"))
    session = provider_session()
    found = session.transaction(tx_id)
    if found.invoice is None:
        raise ActionProblem(409, "invalid_state", failure_sentence("invalid_state"))
    raw_key = (headers.idempotency_key if headers else None) or new_key()
    intent = complete(
        InvoiceIntent(
            transaction_id=found.id,
            operation=operation,
            currency=found.currency,
            idempotency_key=provider_key(user.id, raw_key),
            seen=Seen.of(found.invoice),
        )
    )
    result = InvoiceOperations(portal().store, session).perform(actor(), intent)
    return _answer(result)


def _answer(result: InvoiceResult) -> Created:
    """201 with the transaction and invoice afterwards, or the failure as an `ActionProblem`."""
    if result.transaction is not None and result.outcome is Outcome.SUCCEEDED:
        location = url_for("transaction.api.detail", tx_id=result.transaction.id)
        return InvoiceChanged(result.transaction, result.invoice), 201, {"Location": location}
    code = result.problem_code
    param = result.error.param if result.error else None
    if code == "invalid_request" and param == "fee_amount":
        raise ActionProblem(409, "fee_changed", invoice_failure(result))
    if code in ACTION_PROBLEMS:
        raise ActionProblem(problems.problem(code).status, code, invoice_failure(result))
    if result.error is None:
        raise ActionProblem(502, "outcome_unknown", failure_sentence("outcome_unknown"))
    raise result.error  # the portal-wide answer for provider errors (unavailable, rate limit…)
