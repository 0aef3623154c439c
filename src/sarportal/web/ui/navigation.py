"""The main navigation, per role, only for the pages the app has."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from flask import (
    current_app,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l

from sarportal.domain.roles import Role
from sarportal.web.ui.locale import user_attribute


@dataclass(frozen=True, slots=True)
class NavEntry:
    """One entry of the main navigation, visible from `min_role` upwards."""

    endpoint: str
    label: Any  # a lazy string: translated when rendered
    icon: str
    min_role: Role


@dataclass(frozen=True, slots=True)
class NavItem:
    """A navigation entry resolved for the current request."""

    endpoint: str
    label: str
    icon: str
    url: str
    active: bool
    badge: int | None = None


BADGES: dict[str, Callable[[], int | None]] = {}
"""A number beside an entry (its endpoint → how many things wait there), which the rooms
register (`web.approvals` counts the requests waiting for the user's decision)."""

NAVIGATION: Final = (
    NavEntry("pages.index", _l("Dashboard"), "bi-speedometer2", Role.VIEWER),
    NavEntry("counter.index", _l("Counter"), "bi-calculator", Role.VIEWER),
    NavEntry("transactions.index", _l("Transactions"), "bi-receipt", Role.VIEWER),
    NavEntry("payouts.index", _l("Payouts"), "bi-bank", Role.VIEWER),
    NavEntry("claims.index", _l("Claims"), "bi-exclamation-octagon", Role.VIEWER),
    NavEntry("saved_views.index", _l("Saved views"), "bi-bookmarks", Role.VIEWER),
    NavEntry("approvals.index", _l("Approvals"), "bi-check2-square", Role.OPERATOR),
    NavEntry("admin.users", _l("Users"), "bi-people", Role.ADMIN),
)


# -- navigation and assets ---------------------------------------------------------------------


def has_endpoint(endpoint: str) -> bool:
    """Whether the app has a view for `endpoint` (templates guard optional links with it)."""
    return endpoint in current_app.view_functions


def nav_items() -> list[NavItem]:
    """The main navigation for the signed-in user's role, only for endpoints that exist."""
    try:
        role = Role.parse(user_attribute("role") or "")
    except ValueError:
        return []
    current = request.endpoint or ""
    items = []
    for entry in NAVIGATION:
        if not role.allows(entry.min_role) or not has_endpoint(entry.endpoint):
            continue
        blueprint = entry.endpoint.partition(".")[0]
        active = current == entry.endpoint or (
            entry.endpoint != "pages.index" and current.partition(".")[0] == blueprint
        )
        count = BADGES.get(entry.endpoint)
        items.append(
            NavItem(
                entry.endpoint,
                str(entry.label),
                entry.icon,
                url_for(entry.endpoint),
                active,
                count() if count else None,
            )
        )
    return items
