"""The dashboard's dunning forecast (`GET /dashboard/dunning`, endpoint `dunning.forecast`):
the unpaid invoices that reach their next dunning level in the coming seven days, by level,
each linked to its page, where it can be extended, paused, sent again or marked paid.

Read live from the provider on each request (no worker: it reads only unpaid invoices, due
date ascending, and stops at the first one that cannot reach a level within the week); loaded
by the dashboard with htmx after the page, and a page of its own without JavaScript. Summaries
only: no customer's data.
"""

from __future__ import annotations

from datetime import date
from typing import Final

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from sarportal.domain.dunning import COLLECTION, counts_by_level, upcoming
from sarportal.domain.roles import Role
from sarportal.provider.client import Params
from sarportal.provider.errors import ProviderError
from sarportal.provider.models import TransactionSummary
from sarportal.web.core.access import requires
from sarportal.web.core.htmx import is_htmx, no_store
from sarportal.web.core.provider_access import provider_session
from sarportal.web.core.services import portal
from sarportal.web.ui import labels

bp = Blueprint("dunning", __name__)

WINDOW_DAYS: Final = 7
MOST_READ: Final = 20_000  # unpaid invoices read at most; the card says when there were more
SHOWN: Final = 25  # the invoices listed, soonest first


def _candidates(today: date) -> tuple[list[TransactionSummary], bool]:
    """Unpaid invoices not with collection, due date ascending, up to the last one whose
    reminder could still fall in the window (its due date not after today)."""
    params: Params = {
        "settlement_status": ["open", "overdue"],
        "dunning_level": list(range(COLLECTION)),
        "order": "due_date_asc",
    }
    found: list[TransactionSummary] = []
    for tx in provider_session().iter_transactions(params):
        if tx.due_date is None or tx.due_date > today:
            return found, False
        found.append(tx)
        if len(found) >= MOST_READ:
            return found, True
    return found, False


@bp.get("/dashboard/dunning")
@requires(Role.VIEWER)
def forecast() -> Response:
    """The week's dunning forecast: a fragment for the dashboard, else a page."""
    today = portal().settings.clock().date()
    error = None
    items, cut = [], False
    try:
        candidates, cut = _candidates(today)
        items = upcoming(candidates, today, WINDOW_DAYS)
    except ProviderError as exc:
        if not is_htmx():
            raise
        error = exc
    template = "dashboard/_dunning.html" if is_htmx() else "dashboard/dunning.html"
    html = render_template(
        template,
        counts=counts_by_level(items),
        soon=items[:SHOWN],
        more=max(0, len(items) - SHOWN),
        cut=cut,
        most_read=MOST_READ,
        window_days=WINDOW_DAYS,
        level_labels=labels.DUNNING_LEVEL,
        error=error,
    )
    return no_store(Response(html, mimetype="text/html"))
