"""The portal's roles (design §5): each role holds every right of the roles below it."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A user's role in their organisation; compares by rank, viewer < operator < admin."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """The role's position in the hierarchy, 0 for the least privileged."""
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """Whether a user with this role may do what `required` guards."""
        return self.rank >= required.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        """The role named `value`; ValueError for anything else."""
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValueError(
                f"unknown role {value!r}; expected viewer, operator or admin"
            ) from None


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}
