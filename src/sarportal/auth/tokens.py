"""Personal API tokens: made and revoked for their owner, audited without the token itself.

The CLI (`sarportal tokens ...`) and the account page share these rules. The raw token exists
only in the value `create_token` returns; the store keeps its SHA-256 digest and a short prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from sarportal.store import Store
from sarportal.store.models import ApiToken, User
from sarportal.store.uow import UnitOfWork

NAME_MAX_LENGTH: Final = 100
MIN_EXPIRES_DAYS: Final = 1
# What the account page offers, in days (None: the token never expires).
EXPIRY_CHOICES: Final[tuple[int | None, ...]] = (30, 90, 365, None)


class TokenError(ValueError):
    """A token cannot be made or revoked; the message is fit to show to the person who asked."""


class UnknownToken(TokenError):
    """The user has no token with this id (another user's tokens included)."""


@dataclass(frozen=True)
class NewToken:
    """A token just made: the raw value, to be shown once and then forgotten, and its row's data."""

    id: int
    raw: str = field(repr=False)
    prefix: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None


def token_state(row: ApiToken, now: datetime) -> str:
    """`revoked`, `expired` or `active`."""
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def create_token(
    store: Store,
    user_id: int,
    *,
    name: str | None,
    expires_days: int | None,
    actor_user_id: int | None,
) -> NewToken:
    """Make a personal API token for the user (None days: it never expires); audited."""
    label = (name or "").strip() or None
    if label is not None and len(label) > NAME_MAX_LENGTH:
        raise TokenError(f"A token's name has at most {NAME_MAX_LENGTH} characters.")
    if expires_days is not None and expires_days < MIN_EXPIRES_DAYS:
        raise TokenError("A token must be valid for at least one day.")
    expires_at = None if expires_days is None else store.clock() + timedelta(days=expires_days)
    with store.unit_of_work() as uow:
        user = uow.users.get(user_id)
        if user is None:
            raise TokenError("This user does not exist.")
        raw, row = uow.tokens.create(user_id, expires_at, label)
        _audit(uow, "token.created", user, row.id, actor_user_id, expires_days=expires_days)
        uow.commit()
        return NewToken(row.id, raw, row.prefix, row.name, row.created_at, row.expires_at)


def revoke_token(store: Store, user_id: int, token_id: int, *, actor_user_id: int | None) -> bool:
    """Revoke one of the user's tokens: True when revoked now, False when it was already;
    `UnknownToken` when the user has no such token. It is refused from the next request on."""
    with store.unit_of_work() as uow:
        row = uow.tokens.owned(token_id, user_id)
        user = uow.users.get(user_id)
        if row is None or user is None:
            raise UnknownToken("This token does not exist.")
        if not uow.tokens.revoke(token_id, user_id):
            return False
        _audit(uow, "token.revoked", user, token_id, actor_user_id)
        uow.commit()
        return True


def _audit(
    uow: UnitOfWork, action: str, owner: User, token_id: int, actor: int | None, **details: Any
) -> None:
    """One audit entry about an owner's token: its id and the owner's, never the token."""
    uow.audit.record(
        action,
        actor_user_id=actor,
        organisation_id=owner.organisation_id,
        target_type="api_token",
        target_id=token_id,
        details={"user_id": owner.id, **details},
    )
