"""Saved views: a named query of one page, private to its owner or shared with the organisation.

A view keeps the canonical query string of its page (filter values and how the page shows
them, exactly as the page's own link has them: `status=captured&period=30d&order=amount_desc`),
its name, and whether it is shared. It never keeps a customer field: the pages take no name or
e-mail as a filter, the query is rebuilt from the parsed filters before it is kept (so unknown
keys, cursors and job ids are dropped), and a name that holds an e-mail address is refused.

Who may do what is decided here, from ids and the role alone:
- a user sees their own views and the shared views of their organisation;
- the owner renames, re-shares, changes and deletes a view; an admin may also rename and delete
  any shared view of the organisation (a private view is its owner's only);
- an admin sets the organisation's default view of a page per role (a shared view); a page
  opened without a query shows it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import parse_qsl

from sarportal.domain.roles import Role

__all__ = [
    "MAX_QUERY",
    "MAX_VIEWS_PER_USER",
    "NAME_MAX",
    "SavedView",
    "ViewError",
    "ViewPage",
    "Viewer",
    "check_query",
    "clean_name",
    "may_change",
    "may_see",
]

NAME_MAX = 80
MAX_QUERY = 2000
"""The longest canonical query a view keeps (the filters' own limits keep real ones far below)."""
MAX_VIEWS_PER_USER = 100
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")


class ViewPage(StrEnum):
    """The pages a view can be saved on."""

    TRANSACTIONS = "transactions"
    DASHBOARD = "dashboard"
    COUNTER = "counter"


class ViewError(Exception):
    """A view cannot be saved, found or changed; `code` is a key of the portal's error table."""

    def __init__(self, code: str, field: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


@dataclass(frozen=True)
class Viewer:
    """Who asks: a user's id, their organisation and their role."""

    id: int
    organisation_id: int
    role: Role


@dataclass(frozen=True)
class SavedView:
    """One view as the portal shows it; `default_for` lists the roles it opens the page for."""

    key: str
    page: ViewPage
    name: str
    query: str
    shared: bool
    owner_id: int
    owner_name: str
    organisation_id: int
    created_at: datetime
    updated_at: datetime
    default_for: tuple[Role, ...] = ()


def clean_name(raw: object) -> str:
    """The name as kept: trimmed, inner spaces collapsed; `ViewError` when it cannot be one."""
    if not isinstance(raw, str):
        raise ViewError("view_name_invalid", "name")
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise ViewError("view_name_invalid", "name")
    if _EMAIL.search(name):
        raise ViewError("view_name_email", "name")
    return name


def check_query(query: str) -> str:
    """The canonical query as kept; `ViewError` when it is too long or holds an e-mail address
    (an order reference filter is kept, but never one that could name a shopper)."""
    if len(query) > MAX_QUERY:
        raise ViewError("view_query_invalid", "query")
    if any(_EMAIL.search(value) for _, value in parse_qsl(query, keep_blank_values=True)):
        raise ViewError("view_query_email", "query")
    return query


def may_see(view: SavedView, who: Viewer) -> bool:
    """Whether `who` may open the view (and so learn that it exists)."""
    if view.organisation_id != who.organisation_id:
        return False
    return view.owner_id == who.id or view.shared


def may_change(view: SavedView, who: Viewer) -> bool:
    """Whether `who` may rename or delete the view (its query and sharing are the owner's)."""
    if not may_see(view, who):
        return False
    return view.owner_id == who.id or (view.shared and who.role is Role.ADMIN)
