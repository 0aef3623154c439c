"""Saved views with their rules: `SavedViewBook(store)` is what the pages and the API call.

Each call is one unit of work: the rights are checked (`domain.saved_views`) against what is in
the database at that moment, the change is made, an audit line appended, and all of it commits
together, or nothing does. Races end as one of them would alone: two requests creating the same
name give one view and one `view_name_taken`; two deletes give one deletion and one
`view_not_found`. Audit lines hold the view's key, page and sharing, never its name (free text
that could quote anybody) or its query.

A query arrives here canonical (the web layer rebuilds it from the page's parsed filters); this
module only keeps it, never reads it.
"""

from __future__ import annotations

from typing import Final

from sarportal.domain.roles import Role
from sarportal.domain.saved_views import (
    MAX_VIEWS_PER_USER,
    SavedView,
    Viewer,
    ViewError,
    ViewPage,
    check_query,
    clean_name,
    may_change,
    may_see,
)
from sarportal.store import Store, UnitOfWork

__all__ = ["SavedViewBook"]

TARGET: Final = "view"


class SavedViewBook:
    """Create, list, change and delete saved views; set an organisation's default views."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def visible(self, who: Viewer, page: ViewPage | None = None) -> list[SavedView]:
        """`who`'s own views and their organisation's shared ones, by name."""
        with self._store.unit_of_work() as uow:
            return uow.saved_views.visible(who.organisation_id, who.id, page)

    def get(self, who: Viewer, key: str) -> SavedView:
        """The view `key`; `view_not_found` when there is none that `who` may see."""
        with self._store.unit_of_work() as uow:
            return self._seen(uow, who, key)

    def default_for(self, who: Viewer, page: ViewPage) -> SavedView | None:
        """The view `page` opens with for `who`'s role, if an admin set one."""
        with self._store.unit_of_work() as uow:
            return uow.saved_views.default_for(who.organisation_id, page, who.role)

    def create(
        self, who: Viewer, page: ViewPage, name: object, query: str, *, shared: bool = False
    ) -> SavedView:
        """A new view of `page` owned by `who`."""
        cleaned = clean_name(name)
        check_query(query)
        with self._store.unit_of_work() as uow:
            if uow.saved_views.count_owned(who.id) >= MAX_VIEWS_PER_USER:
                raise ViewError("view_limit")
            key = uow.saved_views.create(
                organisation_id=who.organisation_id,
                owner_id=who.id,
                page=page,
                name=cleaned,
                query=query,
                shared=shared,
            )
            _audit(uow, who, "view.created", key, page=page.value, shared=shared)
            uow.commit()
            return self._seen(uow, who, key)

    def update(
        self,
        who: Viewer,
        key: str,
        *,
        name: object | None = None,
        query: str | None = None,
        shared: bool | None = None,
    ) -> SavedView:
        """Rename (owner, or an admin for a shared view), or change the query or the sharing
        (the owner only). Un-sharing a view drops the defaults that point at it."""
        cleaned = None if name is None else clean_name(name)
        if query is not None:
            check_query(query)
        with self._store.unit_of_work() as uow:
            view = self._seen(uow, who, key)
            owner_only = query is not None or shared is not None
            if not may_change(view, who) or (owner_only and view.owner_id != who.id):
                raise ViewError("view_forbidden")
            if not uow.saved_views.update(key, name=cleaned, query=query, shared=shared):
                raise ViewError("view_not_found")
            changed = [part for part, value in (("name", cleaned), ("query", query)) if value]
            details: dict[str, object] = {"changed": changed}
            if shared is not None:
                details["shared"] = shared
            _audit(uow, who, "view.updated", key, page=view.page.value, **details)
            uow.commit()
            return self._seen(uow, who, key)

    def delete(self, who: Viewer, key: str) -> None:
        """Delete the view (owner, or an admin for a shared view) and its defaults."""
        with self._store.unit_of_work() as uow:
            view = self._seen(uow, who, key)
            if not may_change(view, who):
                raise ViewError("view_forbidden")
            if not uow.saved_views.delete(key):
                raise ViewError("view_not_found")
            _audit(uow, who, "view.deleted", key, page=view.page.value, shared=view.shared)
            uow.commit()

    def set_default(self, who: Viewer, page: ViewPage, role: Role, key: str | None) -> None:
        """Make the shared view `key` the default of `page` for `role` (None: no default);
        admins only."""
        if who.role is not Role.ADMIN:
            raise ViewError("view_forbidden")
        with self._store.unit_of_work() as uow:
            if key is not None:
                view = self._seen(uow, who, key)
                if not view.shared or view.page is not page:
                    raise ViewError("view_default_unshared")
            if not uow.saved_views.set_default(who.organisation_id, page, role, key):
                raise ViewError("view_not_found")
            target = key or f"{page.value}:{role.value}"
            _audit(uow, who, "view.default_set", target, page=page.value, role=role.value)
            uow.commit()

    @staticmethod
    def _seen(uow: UnitOfWork, who: Viewer, key: str) -> SavedView:
        view = uow.saved_views.by_key(key) if 0 < len(key) <= 24 else None
        if view is None or not may_see(view, who):
            raise ViewError("view_not_found")
        return view


def _audit(uow: UnitOfWork, who: Viewer, action: str, key: str, **details: object) -> None:
    uow.audit.record(
        action,
        actor_user_id=who.id,
        organisation_id=who.organisation_id,
        target_type=TARGET,
        target_id=key,
        details=details,
    )
