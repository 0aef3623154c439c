"""A claim's assignee: on the claim's page (with the form to change it) and in the inbox.

The inbox's filter (`assignee=me` or `assignee=none`) is the portal's, not the provider's: the
provider lists claims page by page and knows nothing of assignees, so filtering one provider
page would show a few rows and a pager that leads to pages as random. Instead the inbox walks
the view's claims at the provider, in the view's order, up to `SCAN_LIMIT` of them, keeps those
that match, and shows the first page of them without a pager; it says when more matched, or
when it stopped looking. The CSV export applies the filter to every claim of the view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Final

from flask import g
from flask_babel import gettext as _

from sarportal.claim_assignments import ClaimAssignments
from sarportal.domain.roles import Role
from sarportal.provider.models import Claim
from sarportal.store.claim_assignees import ClaimAssignee
from sarportal.web.core.access import CurrentUser
from sarportal.web.core.services import portal
from sarportal.web.ui.formats import format_number
from sarportal.web.ui.locale import current_locale

FILTERS: Final = ("me", "none")
SCAN_LIMIT: Final = 5_000  # claims of a view looked at for a filtered inbox (5 provider pages)


def assignments() -> ClaimAssignments:
    return ClaimAssignments(portal().store)


def may_assign() -> bool:
    user: CurrentUser = g.user
    return user.role.allows(Role.OPERATOR)


def refused_message() -> str:
    return str(_("Please choose an active user of your organisation, or nobody."))


def assignment_context(claim: Claim, error: str | None = None) -> dict[str, Any]:
    """The claim's assignee for its page, and the form to change it for operators and admins."""
    user: CurrentUser = g.user
    service = assignments()
    current = service.of_claims(user.organisation_id, [claim.id]).get(claim.id)
    form = None
    if may_assign():
        form = {
            "members": service.members(user.organisation_id),
            "current": current.user_id if current else None,
            "error": error,
        }
    return {"assignee": current, "assign": form}


def emails(claims: Sequence[Claim]) -> dict[str, str]:
    """The addresses of these claims' assignees, by claim id."""
    user: CurrentUser = g.user
    found = assignments().of_claims(user.organisation_id, [claim.id for claim in claims])
    return {claim_id: assignee.email for claim_id, assignee in found.items()}


def matches(wanted: str | None, assignee: ClaimAssignee | None, user_id: int) -> bool:
    """Whether a claim with `assignee` passes the filter `wanted` (None: every claim does)."""
    if wanted == "me":
        return assignee is not None and assignee.user_id == user_id
    if wanted == "none":
        return assignee is None
    return True


@dataclass
class Filtered:
    """The first claims of a view that pass the assignee filter, and how many passed."""

    claims: list[Claim] = field(default_factory=list)
    emails: dict[str, str] = field(default_factory=dict)  # claim id → the assignee's address
    total: int = 0
    complete: bool = True  # every claim of the view was looked at

    def notice(self) -> str | None:
        """What the page says about the claims it does not show, if any."""
        locale = current_locale()
        sentences = []
        if not self.complete:
            sentences.append(
                _(
                    "Only the first %(num)s claims of this view were checked for their "
                    "assignee. Narrow the view by reason or currency, or export the CSV, which "
                    "checks them all.",
                    num=format_number(SCAN_LIMIT, locale),
                )
            )
        if self.total > len(self.claims):
            sentences.append(
                _(
                    "The first %(shown)s of %(total)s matching claims are shown. The CSV export "
                    "holds them all.",
                    shown=format_number(len(self.claims), locale),
                    total=format_number(self.total, locale),
                )
            )
        return " ".join(sentences) or None


def filtered(claims: Iterable[Claim], wanted: str, page_size: int) -> Filtered:
    """The claims, in their order, that pass the filter `wanted`: the first `page_size` of
    them, counted up to `SCAN_LIMIT` claims looked at."""
    user: CurrentUser = g.user
    found = Filtered()
    looked_at = islice(claims, SCAN_LIMIT + 1)  # one more: whether the view has more
    annotated = assignments().annotated(user.organisation_id, looked_at)
    for seen, (claim, assignee) in enumerate(annotated, start=1):
        if seen > SCAN_LIMIT:
            found.complete = False
            break
        if not matches(wanted, assignee, user.id):
            continue
        found.total += 1
        if len(found.claims) < page_size:
            found.claims.append(claim)
            if assignee is not None:
                found.emails[claim.id] = assignee.email
    return found
