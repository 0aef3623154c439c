"""Whether an intent needs a second person, and recording it for one (the dialog and the API).

The question is asked at the last step, with the amount confirmed: above the organisation's
threshold in the intent's currency the intent is recorded as a pending request (its idempotency
key made when the dialog opened or the API request came) instead of being sent.
"""

from __future__ import annotations

from flask import flash, g
from flask_babel import gettext as _

from sarportal.actions import Intent
from sarportal.approvals import ApprovalDesk
from sarportal.domain.actions import ActionKind
from sarportal.domain.approvals import ApprovalRequest, Decider
from sarportal.web.core.access import CurrentUser
from sarportal.web.core.services import portal
from sarportal.web.transactions.actor import actor
from sarportal.web.ui.formats import format_money
from sarportal.web.ui.locale import current_locale


def desk() -> ApprovalDesk:
    services = portal()
    return ApprovalDesk(services.store, services.settings.approval_lifetime)


def decider() -> Decider:
    """The signed-in user as the approval rules see them."""
    user: CurrentUser = g.user
    return Decider(user.id, user.organisation_id, user.role)


def approval_needed_for(kind: ActionKind, amount: int, currency: str) -> bool:
    user: CurrentUser = g.user
    return desk().needs_approval(user.organisation_id, kind, amount, currency)


def approval_needed(intent: Intent) -> bool:
    return approval_needed_for(intent.kind, intent.amount, intent.currency)


def request_approval(intent: Intent, *, tell: bool = True) -> tuple[ApprovalRequest, bool]:
    """Record the intent as waiting for approval (the same intent again: the same request);
    with `tell`, say so on the next page."""
    found, new = desk().request(actor(), intent)
    if tell:
        amount = format_money(found.amount, found.currency, current_locale())
        flash(
            _(
                "%(amount)s is above your organisation's approval threshold. The request is "
                "waiting for another operator or administrator; its outcome will show here and "
                "on the approvals page.",
                amount=amount,
            ),
            "info",
        )
    return found, new
