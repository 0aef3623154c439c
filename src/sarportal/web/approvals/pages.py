"""Four-eyes approval in the browser (blueprint `approvals`).

- `GET /approvals`: the requests waiting for a decision (age, amount, reason, who asked, when
  they expire) and the decided ones with their outcome; approve, reject (both with step-up) or,
  for one's own request, withdraw. An approval whose answer was lost is sent again from here.
- `GET/POST /approvals/settings`: the admins' thresholds per currency (a refund above it needs
  approval; optionally a capture or cancellation too), with step-up.
- The navigation shows how many requests wait for the user's decision.
"""

from __future__ import annotations

from typing import Any

from babel.dates import format_timedelta
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.actions import ActionResult, Outcome
from sarportal.domain.approvals import (
    MAX_THRESHOLD,
    ApprovalError,
    ApprovalRequest,
    Policy,
    State,
    may_decide,
)
from sarportal.domain.filters import CURRENCIES, format_amount_input
from sarportal.domain.money import AmountError, parse_amount
from sarportal.domain.roles import Role
from sarportal.web.approvals.intents import decider, desk
from sarportal.web.core.access import requires
from sarportal.web.core.errors import error_response
from sarportal.web.core.htmx import no_store
from sarportal.web.core.problems import problem
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import step_up_required
from sarportal.web.transactions.messages import (
    REASON_LABELS,
    amount_error,
    failure_sentence,
    success_sentence,
)
from sarportal.web.transactions.present import ACTION_NAME
from sarportal.web.ui.formats import format_money
from sarportal.web.ui.locale import current_locale
from sarportal.web.ui.navigation import BADGES

bp = Blueprint("approvals", __name__, url_prefix="/approvals")
DECIDED_SHOWN = 50


def open_count() -> int | None:
    """The navigation's badge: requests waiting for this user's decision."""
    return desk().count_open(decider()) or None


BADGES["approvals.index"] = open_count


@bp.get("")
@requires(Role.OPERATOR)
def index() -> Response:
    who = decider()
    requests = desk().listed(who)
    waiting = [found for found in requests if found.state is State.PENDING]
    decided = [found for found in requests if found.state is not State.PENDING][:DECIDED_SHOWN]
    now = portal().settings.clock()
    html = render_template(
        "approvals/index.html",
        waiting=waiting,
        decided=decided,
        now=now,
        me=who.id,
        may_decide=lambda found: may_decide(found, who),
        action_names=ACTION_NAME,
        reasons=dict(REASON_LABELS),
        outcome_sentence=_outcome_sentence,
        age=lambda found: format_timedelta(
            now - found.requested_at, threshold=1.0, locale=current_locale()
        ),
        state_names=state_names(),
        policies=desk().policies(who.organisation_id),
    )
    return no_store(Response(html, mimetype="text/html"))


def state_names() -> dict[str, str]:
    return {
        State.PENDING.value: _("Waiting"),
        State.APPROVED.value: _("Approved"),
        State.REJECTED.value: _("Rejected"),
        State.WITHDRAWN.value: _("Withdrawn"),
        State.EXPIRED.value: _("Expired"),
    }


def _outcome_sentence(found: ApprovalRequest) -> str | None:
    """What happened at the provider after the approval, for a failure or an unknown one."""
    if found.outcome in (None, Outcome.SUCCEEDED.value):
        return None
    return failure_sentence(found.outcome_code)


@bp.post("/<key>/approve")
@requires(Role.OPERATOR)
@step_up_required
def approve(key: str) -> Response:
    """Approve and send the action (or send an approved one again after a lost answer)."""
    try:
        found, result = desk().approve(decider(), key, provider_session())
    except ApprovalError as error:
        return _refused(error)
    _tell(found, result)
    return redirect(url_for("approvals.index"), 303)


def _tell(found: ApprovalRequest, result: ActionResult) -> None:
    if result.outcome is Outcome.SUCCEEDED:
        text = success_sentence(
            found.kind, found.amount, found.currency, found.transaction_id, result.reconciled
        )
        flash(_("Approved. %(outcome)s", outcome=text), "success")
    else:
        sentence = failure_sentence(result.problem_code)
        flash(_("Approved, but the action did not go through: %(why)s", why=sentence), "danger")


@bp.post("/<key>/reject")
@requires(Role.OPERATOR)
@step_up_required
def reject(key: str) -> Response:
    try:
        found = desk().reject(decider(), key)
    except ApprovalError as error:
        return _refused(error)
    amount = format_money(found.amount, found.currency, current_locale())
    flash(_("Rejected: %(amount)s will not be sent.", amount=amount), "success")
    return redirect(url_for("approvals.index"), 303)


@bp.post("/<key>/withdraw")
@requires(Role.OPERATOR)
def withdraw(key: str) -> Response:
    try:
        desk().withdraw(decider(), key)
    except ApprovalError as error:
        return _refused(error)
    flash(_("Your request is withdrawn; nothing was sent."), "success")
    return redirect(url_for("approvals.index"), 303)


def _refused(error: ApprovalError) -> Response:
    found = problem(error.code)
    if error.code in ("approval_not_found", "approval_forbidden", "approval_own"):
        return error_response(
            found.status, code=error.code, title=str(found.title), detail=found.detail()
        )
    flash(found.detail(), "warning")
    return redirect(url_for("approvals.index"), 303)


# -- the thresholds ----------------------------------------------------------------------------


@bp.get("/settings")
@requires(Role.ADMIN)
def settings() -> Response:
    policies = desk().policies(decider().organisation_id)
    typed = {
        currency: {
            "threshold": _threshold_text(policies[currency]) if currency in policies else "",
            "captures": currency in policies and policies[currency].captures,
            "cancellations": currency in policies and policies[currency].cancellations,
        }
        for currency in CURRENCIES
    }
    return _settings_page(typed, {}, 200)


@bp.post("/settings")
@requires(Role.ADMIN)
@step_up_required
def save_settings() -> Response:
    typed: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    chosen: dict[str, Policy | None] = {}
    for currency in CURRENCIES:
        text = request.form.get(f"threshold_{currency}", "").strip()[:64]
        entry = {
            "threshold": text,
            "captures": request.form.get(f"captures_{currency}") == "1",
            "cancellations": request.form.get(f"cancellations_{currency}") == "1",
        }
        typed[currency] = entry
        if not text:
            chosen[currency] = None
            continue
        try:
            threshold = parse_amount(text, currency, current_locale(), allow_zero=True)
        except AmountError as error:
            errors[currency] = amount_error(error.reason, currency)
            continue
        if threshold > MAX_THRESHOLD:
            errors[currency] = amount_error("too_large", currency)
            continue
        chosen[currency] = Policy(
            currency, threshold, bool(entry["captures"]), bool(entry["cancellations"])
        )
    if errors:
        return _settings_page(typed, errors, 400)
    desk().set_policies(decider(), chosen)
    flash(_("The approval thresholds are saved."), "success")
    return redirect(url_for("approvals.settings"), 303)


def _threshold_text(policy: Policy) -> str:
    return format_amount_input(policy.threshold, policy.currency, current_locale())


def _settings_page(
    typed: dict[str, dict[str, Any]], errors: dict[str, str], status: int
) -> Response:
    html = render_template(
        "approvals/settings.html",
        typed=typed,
        errors=errors,
        currencies=CURRENCIES,
        lifetime_days=portal().settings.approval_lifetime.days,
    )
    return no_store(Response(html, status=status, mimetype="text/html"))
