"""The repository of saved views and the organisations' default views (`domain.saved_views`).

Rows become `SavedView` values here; who may see or change one is the caller's to check with
`domain.saved_views.may_see` / `may_change`. Like every repository it never commits.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sarportal.config import Clock
from sarportal.domain.roles import Role
from sarportal.domain.saved_views import SavedView, ViewError, ViewPage
from sarportal.store.models import DefaultViewRow, SavedViewRow, User


class SavedViews:
    """Saved views of one organisation's users."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    # -- reading -------------------------------------------------------------------------------

    def visible(
        self, organisation_id: int, user_id: int, page: ViewPage | None = None
    ) -> list[SavedView]:
        """The user's own views and the organisation's shared ones, by name (`page`: of one)."""
        query = (
            select(SavedViewRow, User.display_name, User.email)
            .join(User, User.id == SavedViewRow.owner_id)
            .where(
                SavedViewRow.organisation_id == organisation_id,
                or_(SavedViewRow.owner_id == user_id, SavedViewRow.shared.is_(True)),
            )
            .order_by(SavedViewRow.name_key, SavedViewRow.id)
        )
        if page is not None:
            query = query.where(SavedViewRow.page == page.value)
        rows = self._session.execute(query).all()
        defaults = self._defaults_of([row.id for row, _, _ in rows])
        return [_view(row, name or email, defaults.get(row.id, ())) for row, name, email in rows]

    def by_key(self, key: str) -> SavedView | None:
        """The view with this key, whoever's it is (the caller checks `may_see`)."""
        found = self._session.execute(
            select(SavedViewRow, User.display_name, User.email)
            .join(User, User.id == SavedViewRow.owner_id)
            .where(SavedViewRow.key == key)
        ).first()
        if found is None:
            return None
        row, name, email = found
        return _view(row, name or email, self._defaults_of([row.id]).get(row.id, ()))

    def count_owned(self, owner_id: int) -> int:
        return (
            self._session.scalar(
                select(func.count())
                .select_from(SavedViewRow)
                .where(SavedViewRow.owner_id == owner_id)
            )
            or 0
        )

    def default_for(self, organisation_id: int, page: ViewPage, role: Role) -> SavedView | None:
        """The view the page opens with for `role`, if an admin set one."""
        key = self._session.scalar(
            select(SavedViewRow.key)
            .join(DefaultViewRow, DefaultViewRow.view_id == SavedViewRow.id)
            .where(
                DefaultViewRow.organisation_id == organisation_id,
                DefaultViewRow.page == page.value,
                DefaultViewRow.role == role.value,
            )
        )
        return None if key is None else self.by_key(key)

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        *,
        organisation_id: int,
        owner_id: int,
        page: ViewPage,
        name: str,
        query: str,
        shared: bool,
    ) -> str:
        """A new view; its key. `ViewError("view_name_taken")` when the owner has a view of
        that name on the page already (also when two requests race for it)."""
        now = self._clock()
        row = SavedViewRow(
            key=secrets.token_urlsafe(12),
            organisation_id=organisation_id,
            owner_id=owner_id,
            page=page.value,
            name=name,
            name_key=name.casefold(),
            query=query,
            shared=shared,
            created_at=now,
            updated_at=now,
        )
        self._flush_named(row)
        return row.key

    def update(
        self,
        key: str,
        *,
        name: str | None = None,
        query: str | None = None,
        shared: bool | None = None,
    ) -> bool:
        """Change what is given; False when the view is gone. Un-sharing drops its defaults."""
        row = self._session.scalar(select(SavedViewRow).where(SavedViewRow.key == key))
        if row is None:
            return False
        if name is not None:
            row.name, row.name_key = name, name.casefold()
        if query is not None:
            row.query = query
        if shared is not None:
            row.shared = shared
            if not shared:
                self._session.execute(
                    delete(DefaultViewRow).where(DefaultViewRow.view_id == row.id)
                )
        row.updated_at = self._clock()
        self._flush_named(row)
        return True

    def delete(self, key: str) -> bool:
        """Delete the view (and the defaults pointing at it); False when it was gone already."""
        row_id = self._session.scalar(select(SavedViewRow.id).where(SavedViewRow.key == key))
        if row_id is None:
            return False
        self._session.execute(delete(DefaultViewRow).where(DefaultViewRow.view_id == row_id))
        deleted = self._session.execute(delete(SavedViewRow).where(SavedViewRow.id == row_id))
        return bool(deleted.rowcount)  # type: ignore[attr-defined]

    def set_default(
        self, organisation_id: int, page: ViewPage, role: Role, key: str | None
    ) -> bool:
        """Make the shared view `key` the page's default for `role` (None: no default); False
        when `key` is no shared view of the organisation on that page."""
        self._session.execute(
            delete(DefaultViewRow).where(
                DefaultViewRow.organisation_id == organisation_id,
                DefaultViewRow.page == page.value,
                DefaultViewRow.role == role.value,
            )
        )
        if key is None:
            return True
        view_id = self._session.scalar(
            select(SavedViewRow.id).where(
                SavedViewRow.key == key,
                SavedViewRow.organisation_id == organisation_id,
                SavedViewRow.page == page.value,
                SavedViewRow.shared.is_(True),
            )
        )
        if view_id is None:
            return False
        self._session.add(
            DefaultViewRow(
                organisation_id=organisation_id, page=page.value, role=role.value, view_id=view_id
            )
        )
        self._session.flush()
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _flush_named(self, row: SavedViewRow) -> None:
        """Flush `row`; a name the owner has on the page already is `view_name_taken`. The
        unit of work is spoilt then: the caller lets it roll back (it opens one per change)."""
        self._session.add(row)
        try:
            self._session.flush()
        except IntegrityError:
            self._session.rollback()
            raise ViewError("view_name_taken", "name") from None

    def _defaults_of(self, view_ids: Sequence[int]) -> dict[int, tuple[Role, ...]]:
        if not view_ids:
            return {}
        found: defaultdict[int, list[Role]] = defaultdict(list)
        for view_id, role in self._session.execute(
            select(DefaultViewRow.view_id, DefaultViewRow.role).where(
                DefaultViewRow.view_id.in_(view_ids)
            )
        ):
            found[view_id].append(Role(role))
        return {
            view_id: tuple(sorted(roles, key=lambda r: r.rank)) for view_id, roles in found.items()
        }


def _view(row: SavedViewRow, owner_name: str, defaults: tuple[Role, ...]) -> SavedView:
    return SavedView(
        key=row.key,
        page=ViewPage(row.page),
        name=row.name,
        query=row.query,
        shared=row.shared,
        owner_id=row.owner_id,
        owner_name=owner_name,
        organisation_id=row.organisation_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        default_for=defaults,
    )
