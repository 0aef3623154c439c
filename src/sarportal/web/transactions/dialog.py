"""The action dialog: form → step-up when needed → confirmation → the provider.

Opening the dialog makes the idempotency key and notes the amounts the user sees; both travel
in a signed hidden field (`intent`), so every later step, a double click, a resubmitted form or
a retry after a lost answer is the same intent and has exactly one effect. With htmx each step
is a fragment swapped into a Bootstrap modal; without JavaScript each step is a plain page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from babel.numbers import get_decimal_symbol, get_group_symbol
from flask import current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from sarportal.actions import (
    ActionResult,
    Intent,
    Outcome,
    TransactionActions,
    amounts_of,
    new_key,
    provider_key,
    summary_of,
)
from sarportal.domain.actions import (
    ActionKind,
    Amounts,
    ReasonError,
    refund_reason,
)
from sarportal.domain.money import AmountError, minor_digits, parse_amount
from sarportal.domain.roles import Role
from sarportal.provider.errors import (
    AmountExceedsAvailable,
    InvalidState,
    ProviderError,
)
from sarportal.web.approvals.intents import (
    approval_needed,
    approval_needed_for,
    request_approval,
)
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.htmx import is_htmx
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import confirm, needs_step_up
from sarportal.web.transactions.actor import actor
from sarportal.web.transactions.messages import (
    REASON_LABELS,
    above_maximum,
    amount_error,
    confirmation_sentence,
    failure_sentence,
    reason_error,
    success_sentence,
)
from sarportal.web.transactions.present import ACTION_NAME, template_globals
from sarportal.web.ui.formats import format_number
from sarportal.web.ui.locale import current_locale

SALT: Final = "sarportal.transaction-action"
INTENT_MAX_AGE: Final = 23 * 3600  # under the provider's 24 h replay window
STEPS: Final = frozenset({"form", "stepup", "confirm"})


@dataclass(frozen=True)
class Opened:
    """What the dialog knew when it opened: whose it is, the key, the amounts the user saw."""

    user_id: int
    tx_id: str
    kind: ActionKind
    key: str
    baseline: Amounts


@dataclass
class Entry:
    """What the user typed, kept as typed so that a refused form shows it again."""

    amount: str = ""
    reason_code: str = ""
    note: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def seal(opened: Opened) -> str:
    """The signed hidden field that carries an opened dialog through its steps."""
    b = opened.baseline
    expiry = b.authorization_expires_at.isoformat() if b.authorization_expires_at else None
    return _serializer().dumps(
        {
            "u": opened.user_id,
            "t": opened.tx_id,
            "a": opened.kind.value,
            "k": opened.key,
            "b": [b.status, b.currency, b.amount, b.captured, b.refunded, b.cancelled, expiry],
        }
    )


def unseal(token: str, user_id: int, tx_id: str, kind: ActionKind) -> Opened | None:
    """The opened dialog in `token` when it is genuine, recent and for this user and action."""
    try:
        data = _serializer().loads(token, max_age=INTENT_MAX_AGE)
        status, currency, amount, captured, refunded, cancelled, expiry = data["b"]
        opened = Opened(
            user_id=int(data["u"]),
            tx_id=str(data["t"]),
            kind=ActionKind.parse(data["a"]),
            key=str(data["k"]),
            baseline=Amounts(
                status=str(status),
                currency=str(currency),
                amount=int(amount),
                captured=int(captured),
                refunded=int(refunded),
                cancelled=int(cancelled),
                authorization_expires_at=datetime.fromisoformat(expiry) if expiry else None,
            ),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if (opened.user_id, opened.tx_id, opened.kind) != (user_id, tx_id, kind):
        return None
    return opened


def _now() -> datetime:
    return portal().settings.clock()


def _input_amount(minor: int, currency: str) -> str:
    """An amount as a person would type it in their locale (no currency sign)."""
    digits = minor_digits(currency)
    return format_number(Decimal(minor).scaleb(-digits), current_locale(), digits)


def _open(tx_id: str, kind: ActionKind) -> Opened:
    """Read the transaction now and open a dialog on it with a fresh key."""
    summary = summary_of(provider_session().transaction(tx_id))
    user: CurrentUser = g.user
    return Opened(user.id, summary.id, kind, new_key(), amounts_of(summary))


def _read_entry() -> Entry:
    form = request.form
    return Entry(
        amount=form.get("amount", "")[:64],
        reason_code=form.get("reason", "")[:32],
        note=form.get("note", "")[:1000],
    )


@dataclass(frozen=True)
class Checked:
    """A valid entry: the amount in minor units and the provider's reason text."""

    amount: int
    reason: str | None


def _check(opened: Opened, entry: Entry) -> Checked | None:
    """Validate `entry` against what the dialog allows; errors are put on the entry."""
    kind, baseline = opened.kind, opened.baseline
    maximum = baseline.available(kind, _now())
    if kind is ActionKind.CANCEL:
        amount = maximum
    else:
        try:
            amount = parse_amount(entry.amount, baseline.currency, current_locale())
        except AmountError as error:
            entry.errors["amount"] = amount_error(error.reason, baseline.currency)
            amount = 0
        else:
            if amount > maximum:
                entry.errors["amount"] = above_maximum(kind, maximum, baseline.currency)
    if maximum <= 0:
        entry.errors["amount"] = _("This action is no longer possible for this transaction.")
    reason = None
    if kind is ActionKind.REFUND:
        try:
            reason = refund_reason(entry.reason_code, entry.note)
        except ReasonError as error:
            entry.errors["note" if error.reason != "unknown" else "reason"] = reason_error(
                error.reason
            )
    return None if entry.errors else Checked(amount, reason)


def _render(
    step: str, opened: Opened, entry: Entry, *, checked: Checked | None = None, **extra: Any
) -> Response:
    """One step of the dialog: a fragment for htmx, else a whole page."""
    baseline = opened.baseline
    maximum = baseline.available(opened.kind, _now())
    context = {
        "step": step,
        "tx_id": opened.tx_id,
        "kind": opened.kind.value,
        "action_name": ACTION_NAME[opened.kind],
        "intent": seal(opened),
        "entry": entry,
        "currency": baseline.currency,
        "maximum": maximum,
        "reasons": REASON_LABELS,
        "amount_example": f"1{get_group_symbol(current_locale())}234"
        f"{get_decimal_symbol(current_locale())}56",
        "confirmation": confirmation_sentence(opened.kind, checked.amount, baseline, opened.tx_id)
        if checked
        else None,
        "has_second_factor": g.user.has_second_factor,
        "needs_approval": checked is not None
        and approval_needed_for(opened.kind, checked.amount, baseline.currency),
        "in_modal": is_htmx(),
        **template_globals(),
        **extra,
    }
    if is_htmx():
        html = render_template(f"transactions/_actions_{step}.html", **context)
    else:
        html = render_template("transactions/detail_action.html", **context)
    invalid = bool(entry.errors) or bool(extra.get("error"))
    status = 422 if invalid and not is_htmx() else 200
    return make_response(html, status)


@requires(Role.OPERATOR)
def action_form(tx_id: str, kind: str) -> Response:
    """Open the dialog: the maximum, a fresh idempotency key, the amount prefilled in full."""
    opened = _open(tx_id, ActionKind.parse(kind))
    maximum = opened.baseline.available(opened.kind, _now())
    entry = Entry(amount=_input_amount(maximum, opened.baseline.currency) if maximum else "")
    return _render("form", opened, entry)


@requires(Role.OPERATOR)
def act(tx_id: str, kind: str) -> Response:
    """Advance the dialog one step; the last step asks the provider."""
    action_kind = ActionKind.parse(kind)
    opened = unseal(request.form.get("intent", ""), g.user.id, tx_id, action_kind)
    if opened is None:
        return _render(
            "form",
            _open(tx_id, action_kind),
            _read_entry(),
            error=_("This form has expired. Please check the amounts and send it again."),
        )
    entry = _read_entry()
    step = request.form.get("step", "form")
    checked = _check(opened, entry)
    if step == "edit" or checked is None:
        return _render("form", opened, entry)
    if step == "stepup":
        return _step_up(opened, entry, checked)
    if needs_step_up():
        return _render("stepup", opened, entry, checked=checked)
    if step != "confirm":
        return _render("confirm", opened, entry, checked=checked)
    return _perform(opened, entry, checked)


def _step_up(opened: Opened, entry: Entry, checked: Checked) -> Response:
    refusal = confirm(request.form.get("secret", ""))
    if refusal is None:
        return _render("confirm", opened, entry, checked=checked)
    return _render("stepup", opened, entry, checked=checked, error=refusal.message)


def _perform(opened: Opened, entry: Entry, checked: Checked) -> Response:
    user: CurrentUser = g.user
    intent = Intent(
        transaction_id=opened.tx_id,
        kind=opened.kind,
        amount=checked.amount,
        currency=opened.baseline.currency,
        idempotency_key=provider_key(user.id, opened.key),
        baseline=opened.baseline,
        reason=checked.reason,
        reason_code=entry.reason_code if opened.kind is ActionKind.REFUND else None,
    )
    if approval_needed(intent):
        request_approval(intent)
        return _redirect(url_for("transaction.detail", tx_id=opened.tx_id))
    result = TransactionActions(portal().store, provider_session()).perform(actor(), intent)
    if result.outcome is Outcome.SUCCEEDED:
        sentence = success_sentence(
            opened.kind, checked.amount, intent.currency, opened.tx_id, result.reconciled
        )
        flash(sentence, "success")
        return _redirect(url_for("transaction.detail", tx_id=opened.tx_id))
    return _render(
        "form", _reopen(opened, result), entry, error=failure_sentence(result.problem_code)
    )


def _redirect(target: str) -> Response:
    """To `target`: the whole page (htmx is told to leave the dialog for it)."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def _reopen(opened: Opened, result: ActionResult) -> Opened:
    """After a refusal the provider remembers the key with its answer: a new intent is needed.

    After a lost answer, or a request still running, the same key is kept, so that trying
    again replays instead of acting twice.
    """
    if not isinstance(result.error, InvalidState | AmountExceedsAvailable):
        return opened
    try:
        return _open(opened.tx_id, opened.kind)
    except ProviderError:
        return Opened(opened.user_id, opened.tx_id, opened.kind, new_key(), opened.baseline)
