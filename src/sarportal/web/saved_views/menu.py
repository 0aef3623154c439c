"""The views menu of the table, the dashboard and the counter page.

`views_menu(page)` (a template global) gives the signed-in user's views of the page and the
organisation's shared ones, which of them the page shows now (its query is the view's), and the
current query for "Save as view". Each entry's count of matching transactions is fetched when
the menu is opened (`/views/<key>/count`, the provider's total of a one-row list), for the first
`COUNTED` entries only: cheap, and never slowing the page itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flask import g, request

from sarportal.domain.filters import FilterError
from sarportal.domain.saved_views import SavedView, Viewer, ViewPage
from sarportal.saved_views import SavedViewBook
from sarportal.web.core.access import CurrentUser
from sarportal.web.core.services import portal
from sarportal.web.saved_views.queries import canonical_query, page_url
from sarportal.web.ui.locale import current_locale

COUNTED: Final = 10


@dataclass(frozen=True)
class MenuEntry:
    view: SavedView
    url: str
    active: bool
    counted: bool
    own: bool


@dataclass(frozen=True)
class ViewsMenu:
    page: str
    own: list[MenuEntry]
    shared: list[MenuEntry]
    active: MenuEntry | None
    query: str | None  # None: the page's input is bad, nothing to save


def viewer() -> Viewer:
    """The signed-in user as the saved views' rules see them."""
    user: CurrentUser = g.user
    return Viewer(user.id, user.organisation_id, user.role)


def book() -> SavedViewBook:
    return SavedViewBook(portal().store)


def views_menu(page: str) -> ViewsMenu:
    """The menu of `page` ("transactions", "dashboard", "counter") for this request."""
    chosen = ViewPage(page)
    try:
        current: str | None = canonical_query(chosen, request.args, current_locale())
    except FilterError:
        current = None
    who = viewer()
    own: list[MenuEntry] = []
    shared: list[MenuEntry] = []
    for number, view in enumerate(book().visible(who, chosen)):
        entry = MenuEntry(
            view, page_url(view), view.query == current, number < COUNTED, view.owner_id == who.id
        )
        (own if entry.own else shared).append(entry)
    active = next((entry for entry in own + shared if entry.active), None)
    return ViewsMenu(chosen.value, own, shared, active, current)
