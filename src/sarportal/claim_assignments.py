"""Who looks after a claim: one of the organisation's active users, or nobody.

`ClaimAssignments.assign(actor, claim_id, user_id)` is what the claim's page and the API both
call, once they have read the claim at the provider (so it exists for the actor's merchant).
The assignee must be an active user of the actor's organisation (`AssigneeRefused` otherwise,
and nothing is written). The assignment and its audit line (`claim.assigned`, the assignee's
id only) are one transaction; the last of racing assignments wins (`store.claim_assignees`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Final

from sarportal.actions import Actor
from sarportal.provider.models import Claim
from sarportal.store import Store
from sarportal.store.claim_assignees import ClaimAssignee

ASSIGNED: Final = "claim.assigned"
TARGET: Final = "claim"
BATCH: Final = 1000  # claims looked up at once: the provider's largest page
LARGEST_ID: Final = 2**31 - 1  # user ids are 32-bit integers; a larger one is nobody's


class AssigneeRefused(ValueError):
    """The chosen user is no active user of the actor's organisation."""


@dataclass(frozen=True)
class Member:
    """A user a claim can be assigned to."""

    id: int
    email: str


class ClaimAssignments:
    """Reads and changes the claims' assignees in the portal's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def assign(self, actor: Actor, claim_id: str, user_id: int | None) -> ClaimAssignee | None:
        """Assign the claim to `user_id` (None: nobody) and audit it; the assignee."""
        with self._store.unit_of_work() as uow:
            assignee = None
            if user_id is not None:
                user = uow.users.get(user_id) if 0 < user_id <= LARGEST_ID else None
                if user is None or user.organisation_id != actor.organisation_id or user.disabled:
                    raise AssigneeRefused(user_id)
                assignee = ClaimAssignee(user.id, user.email)
            uow.claim_assignees.assign(actor.organisation_id, claim_id, user_id, actor.user_id)
            uow.audit.record(
                ASSIGNED,
                actor_user_id=actor.user_id,
                organisation_id=actor.organisation_id,
                target_type=TARGET,
                target_id=claim_id,
                details={"assignee_user_id": user_id},
            )
            uow.commit()
        return assignee

    def of_claims(self, organisation_id: int, claim_ids: list[str]) -> dict[str, ClaimAssignee]:
        """The assignees of these claims, by claim id (unassigned claims are not in it)."""
        with self._store.unit_of_work() as uow:
            return uow.claim_assignees.of_claims(organisation_id, claim_ids)

    def annotated(
        self, organisation_id: int, claims: Iterable[Claim]
    ) -> Iterator[tuple[Claim, ClaimAssignee | None]]:
        """Each claim with its assignee, looked up a batch of claims at a time."""
        found = iter(claims)
        while batch := list(islice(found, BATCH)):
            assignees = self.of_claims(organisation_id, [claim.id for claim in batch])
            for claim in batch:
                yield claim, assignees.get(claim.id)

    def members(self, organisation_id: int) -> list[Member]:
        """The organisation's active users, by e-mail address: whom a claim can go to."""
        with self._store.unit_of_work() as uow:
            users = uow.users.in_organisation(organisation_id)
            return [Member(user.id, user.email) for user in users if not user.disabled]
