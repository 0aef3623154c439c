"""What the claims templates show: rows already formatted, the deadline in words, links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

from flask import url_for
from flask_babel import gettext as _

from sarportal.domain.vocabulary import CLAIM_REASONS
from sarportal.provider.models import Claim
from sarportal.web.ui import labels
from sarportal.web.ui.formats import format_moment, format_money
from sarportal.web.ui.locale import request_formats

SOON: Final = timedelta(hours=72)  # a claim due within this is marked as expiring


@dataclass(frozen=True, slots=True)
class ClaimRow:
    id: str
    transaction_id: str
    order_reference: str
    amount: str
    reason: str
    status: str
    status_tone: str
    raised: str
    respond_by: str
    left: str  # time left to respond, in words; "" when no response is due
    soon: bool  # due within the warning time
    assignee: str = ""  # the assignee's e-mail address; "" when nobody is assigned


def time_left(until: datetime, now: datetime) -> str:
    """`until` as time left: "2 days 3 h", "5 h", "40 min", or "expired"."""
    left = until - now
    if left <= timedelta(0):
        return str(_("expired"))
    days, rest = divmod(int(left.total_seconds()), 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        return str(_("%(days)s d %(hours)s h", days=days, hours=hours))
    if hours:
        return str(_("%(hours)s h", hours=hours))
    return str(_("%(minutes)s min", minutes=max(1, rest // 60)))


def claim_rows(
    claims: Sequence[Claim],
    now: datetime,
    soon: timedelta,
    assignees: Mapping[str, str] | None = None,
) -> list[ClaimRow]:
    """The claims as the tables show them; `assignees`: the assignee's address by claim id."""
    formats = request_formats()
    emails = assignees or {}
    rows = []
    for c in claims:
        due = c.status == "open"
        rows.append(
            ClaimRow(
                id=c.id,
                transaction_id=c.transaction_id,
                order_reference=c.order_reference,
                amount=format_money(c.amount, c.currency, formats.locale),
                reason=str(labels.CLAIM_REASON.get(c.reason, c.reason)),
                status=str(labels.CLAIM_STATUS.get(c.status, c.status)),
                status_tone=labels.CLAIM_STATUS_TONE.get(c.status, "secondary"),
                raised=format_moment(c.created_at, formats.locale, formats.zone, "short"),
                respond_by=format_moment(c.respond_by, formats.locale, formats.zone, "short"),
                left=time_left(c.respond_by, now) if due else "",
                soon=due and c.respond_by - now <= soon,
                assignee=emails.get(c.id, ""),
            )
        )
    return rows


def inbox_url(endpoint: str, filters: dict[str, Any], **extra: str) -> str:
    pairs = [("view", filters.get("view") or "open")]
    pairs += [("reason", r) for r in filters.get("reason", [])]
    pairs += [("currency", c) for c in filters.get("currency", [])]
    pairs += [("assignee", filters["assignee"])] if filters.get("assignee") else []
    pairs += list(extra.items())
    return f"{url_for(endpoint)}?{urlencode(pairs)}"


def reason_choices() -> list[tuple[str, str]]:
    return [(code, str(labels.CLAIM_REASON[code])) for code in CLAIM_REASONS]


def detail_context(claim: Claim, now: datetime, soon: timedelta) -> dict[str, Any]:
    formats = request_formats()
    (row,) = claim_rows([claim], now, soon)

    def moment(value: datetime | None) -> str:
        return format_moment(value, formats.locale, formats.zone, "medium") if value else ""

    return {
        "claim": claim,
        "row": row,
        "responded": moment(claim.responded_at),
        "decided": moment(claim.decided_at),
        "respond_by": moment(claim.respond_by),
    }
