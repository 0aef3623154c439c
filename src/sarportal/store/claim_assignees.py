"""The repository of claim assignees: which of an organisation's users looks after a claim.

The claim itself stays at the provider; a row holds its id, the assignee's user id (None:
nobody), who assigned and when. Assigning is one upsert (`INSERT … ON CONFLICT DO UPDATE`, on
SQLite and PostgreSQL alike): of requests racing on one claim, over any number of processes,
the last one wins and the claim keeps one row, with no unique violation on the way. Like every
repository it never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sarportal.config import Clock
from sarportal.store.models import ClaimAssigneeRow, User

_table: Table = ClaimAssigneeRow.__table__  # type: ignore[assignment]
_c = _table.c
LOOKUP_CHUNK: Final = 500  # claim ids per query: far below every database's parameter limit


@dataclass(frozen=True)
class ClaimAssignee:
    """The user a claim is assigned to: their id, and their e-mail address for the pages."""

    user_id: int
    email: str


class ClaimAssignees:
    """The organisations' claim assignees."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def assign(
        self, organisation_id: int, claim_id: str, assignee_user_id: int | None, assigned_by: int
    ) -> None:
        """Assign the claim to `assignee_user_id` (None: nobody), whatever it was before."""
        dialect = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(_table).values(
            organisation_id=organisation_id,
            claim_id=claim_id,
            assignee_user_id=assignee_user_id,
            assigned_by=assigned_by,
            assigned_at=self._clock(),
        )
        changed = statement.excluded
        self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[_c.organisation_id, _c.claim_id],
                set_={
                    "assignee_user_id": changed.assignee_user_id,
                    "assigned_by": changed.assigned_by,
                    "assigned_at": changed.assigned_at,
                },
            )
        )

    def of_claims(self, organisation_id: int, claim_ids: Sequence[str]) -> dict[str, ClaimAssignee]:
        """The assignee of each of these claims that has one, by claim id."""
        found: dict[str, ClaimAssignee] = {}
        for start in range(0, len(claim_ids), LOOKUP_CHUNK):
            query = (
                select(ClaimAssigneeRow.claim_id, User.id, User.email)
                .join(User, User.id == ClaimAssigneeRow.assignee_user_id)
                .where(
                    ClaimAssigneeRow.organisation_id == organisation_id,
                    ClaimAssigneeRow.claim_id.in_(claim_ids[start : start + LOOKUP_CHUNK]),
                )
            )
            for claim_id, user_id, email in self._session.execute(query):
                found[claim_id] = ClaimAssignee(user_id, email)
        return found
