"""What every signed-in request reads: its session and its user's account, in one query.

The statements are built once (building one costs more than running it) over the tables' plain
columns, so that they run without the ORM's object loading: this is read on every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sarportal.store.models import Organisation, ProviderCredential, User, WebSession

_users = User.__table__.c
_organisations = Organisation.__table__.c
_credentials = ProviderCredential.__table__.c
_sessions = WebSession.__table__.c


@dataclass(frozen=True, slots=True)
class Account:
    """A user as every signed-in request needs them: with their organisation's name and rule,
    whether a second factor is enrolled (not its secret), and their provider credentials with
    the secret still encrypted (`Store.provider_credentials_of` decrypts it)."""

    user_id: int
    organisation_id: int
    organisation_name: str | None  # None when the organisation is gone
    require_totp_roles: str | None
    email: str
    display_name: str
    role: str
    disabled: bool
    locale: str | None
    timezone: str
    has_second_factor: bool
    provider_client_id: str | None
    provider_secret_encrypted: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A browser session as stored, with the account of the user signed in to it (or None)."""

    user_id: int | None
    created_at: datetime
    last_seen_at: datetime
    data: dict[str, Any]
    account: Account | None


_ACCOUNT = (
    _users.id,
    _users.organisation_id,
    _organisations.name,
    _organisations.require_totp_roles,
    _users.email,
    _users.display_name,
    _users.role,
    _users.disabled,
    _users.locale,
    _users.timezone,
    _users.totp_secret_encrypted.is_not(None),
    _credentials.client_id,
    _credentials.secret_encrypted,
)
_ACCOUNT_FROM = (
    User.__table__.outerjoin(Organisation.__table__, _organisations.id == _users.organisation_id)
).outerjoin(ProviderCredential.__table__, _credentials.user_id == _users.id)
_ACCOUNT_OF_USER = (
    select(*_ACCOUNT).select_from(_ACCOUNT_FROM).where(_users.id == bindparam("user_id"))
)
_SESSION = (_sessions.user_id, _sessions.created_at, _sessions.last_seen_at, _sessions.data)
_STORED_SESSION = (
    select(*_SESSION, *_ACCOUNT)
    .select_from(WebSession.__table__.outerjoin(_ACCOUNT_FROM, _users.id == _sessions.user_id))
    .where(_sessions.id_hash == bindparam("id_hash"))
)


def account_of_user(session: Session, user_id: int) -> Account | None:
    """The user with this id as an `Account`, if any."""
    row = session.execute(_ACCOUNT_OF_USER, {"user_id": user_id}).first()
    return None if row is None else Account(*row)


def stored_session(session: Session, id_hash: str) -> StoredSession | None:
    """The session stored under this digest, with its user's account; None when there is none."""
    row = session.execute(_STORED_SESSION, {"id_hash": id_hash}).first()
    if row is None:
        return None
    user_id, created_at, last_seen_at, data = row[: len(_SESSION)]
    user = row[len(_SESSION) :]
    account = None if user[0] is None else Account(*user)  # nobody signed in, or gone
    return StoredSession(user_id, created_at, last_seen_at, data, account)
