"""Repositories: the only code that queries the portal's tables.

Each repository works inside a unit of work's session and never commits by itself. The audit log
repository can only append and read: it has no update or delete on purpose.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from sarportal.config import Clock
from sarportal.store.accounts import Account, StoredSession, account_of_user, stored_session
from sarportal.store.crypto import SecretBox
from sarportal.store.digest import token_digest
from sarportal.store.models import (
    ApiToken,
    AuditEntry,
    Invitation,
    Organisation,
    ProviderCredential,
    RecoveryCode,
    User,
    WebSession,
)

API_TOKEN_PREFIX = "sarp_"  # noqa: S105 (a marker, not a secret)


# Built once: building a statement costs more than running it. Values are bound at execution.
_AUDIT_FOR_TARGET = (
    select(AuditEntry, User.email)
    .outerjoin(User, User.id == AuditEntry.actor_user_id)
    .where(
        AuditEntry.organisation_id == bindparam("organisation_id"),
        AuditEntry.target_type == bindparam("target_type"),
        AuditEntry.target_id == bindparam("target_id"),
    )
    .order_by(AuditEntry.id)
    .limit(bindparam("limit"))
)
_CREDENTIALS_BY_USER = select(
    ProviderCredential.client_id, ProviderCredential.secret_encrypted
).where(ProviderCredential.user_id == bindparam("user_id"))


class Someone(Protocol):
    """A user as the audit log names them: their id and their organisation's."""

    @property
    def id(self) -> int: ...

    @property
    def organisation_id(self) -> int: ...


class Organisations:
    """Merchant organisations."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def get(self, organisation_id: int) -> Organisation | None:
        """The organisation with this id, if any."""
        return self._session.get(Organisation, organisation_id)

    def get_or_create(self, name: str) -> Organisation:
        """The organisation called `name`, created when it does not exist yet."""
        found = self._session.scalar(select(Organisation).where(Organisation.name == name))
        if found is not None:
            return found
        organisation = Organisation(name=name, require_totp_roles="", created_at=self._clock())
        self._session.add(organisation)
        self._session.flush()
        return organisation


class Users:
    """The portal's users; e-mail addresses are unique regardless of case."""

    def __init__(self, session: Session, box: SecretBox, clock: Clock) -> None:
        self._session = session
        self._box = box
        self._clock = clock

    def get(self, user_id: int) -> User | None:
        """The user with this id, if any."""
        return self._session.get(User, user_id)

    def account(self, user_id: int) -> Account | None:
        """The user with this id as an `Account`, if any."""
        return account_of_user(self._session, user_id)

    def by_email(self, email: str) -> User | None:
        """The user with this e-mail address, compared without regard to case."""
        normalised = email.strip().lower()
        return self._session.scalar(select(User).where(func.lower(User.email) == normalised))

    def add(
        self,
        *,
        organisation_id: int,
        email: str,
        password_hash: str,
        role: str,
        display_name: str = "",
    ) -> User:
        """A new user, flushed so that it has an id."""
        user = User(
            organisation_id=organisation_id,
            email=email.strip(),
            display_name=display_name,
            password_hash=password_hash,
            role=role,
            disabled=False,
            timezone="Europe/Berlin",
            created_at=self._clock(),
        )
        self._session.add(user)
        self._session.flush()
        return user

    def in_organisation(self, organisation_id: int) -> Sequence[User]:
        """The organisation's users, ordered by e-mail address."""
        query = select(User).where(User.organisation_id == organisation_id).order_by(User.email)
        return self._session.scalars(query).all()

    def totp_secret(self, user: User) -> str | None:
        """The user's decrypted TOTP secret, or None when no second factor is enrolled."""
        if user.totp_secret_encrypted is None:
            return None
        return self._box.decrypt(user.totp_secret_encrypted)

    def set_totp(self, user: User, secret: str | None) -> None:
        """Enrol (or with None, remove) the user's TOTP secret."""
        user.totp_secret_encrypted = None if secret is None else self._box.encrypt(secret)
        user.totp_last_step = None

    def claim_totp_step(self, user_id: int, step: int) -> bool:
        """Record that the code of time step `step` has been used, unless it (or a later one)
        was already: an atomic compare-and-set, so of requests racing with one code, one wins."""
        claim = (
            update(User)
            .where(
                User.id == user_id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(self._session.execute(claim).rowcount)  # type: ignore[attr-defined]

    def rotate_secrets(self) -> int:
        """Re-encrypt every TOTP secret under the newest key; the number re-encrypted."""
        count = 0
        for user in self._session.scalars(
            select(User).where(User.totp_secret_encrypted.is_not(None))
        ):
            assert user.totp_secret_encrypted is not None  # noqa: S101 (narrowing for mypy)
            user.totp_secret_encrypted = self._box.rotate(user.totp_secret_encrypted)
            count += 1
        return count


class RecoveryCodes:
    """Each user's one-time recovery codes, stored as salted hashes, each used at most once."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def replace(self, user_id: int, code_hashes: Sequence[str]) -> None:
        """Give the user these codes instead of any they had."""
        self._session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
        self._session.add_all(RecoveryCode(user_id=user_id, code_hash=h) for h in code_hashes)

    def unused(self, user_id: int) -> Sequence[RecoveryCode]:
        """The user's codes that have not been used."""
        query = select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
        return self._session.scalars(query).all()

    def claim(self, code_id: int) -> bool:
        """Mark the code used, unless it already was: an atomic compare-and-set."""
        claim = (
            update(RecoveryCode)
            .where(RecoveryCode.id == code_id, RecoveryCode.used_at.is_(None))
            .values(used_at=self._clock())
            .execution_options(synchronize_session=False)
        )
        return bool(self._session.execute(claim).rowcount)  # type: ignore[attr-defined]


class Credentials:
    """Provider client credentials per user; the secret can be written and used, never listed."""

    def __init__(self, session: Session, box: SecretBox, clock: Clock) -> None:
        self._session = session
        self._box = box
        self._clock = clock

    def set(self, user_id: int, client_id: str, secret: str) -> None:
        """Set or replace the user's provider credentials."""
        row = self._session.get(ProviderCredential, user_id)
        if row is None:
            row = ProviderCredential(user_id=user_id)
            self._session.add(row)
        row.client_id = client_id
        row.secret_encrypted = self._box.encrypt(secret)
        row.updated_at = self._clock()
        self._session.flush()

    def get_for(self, user_id: int) -> tuple[str, str] | None:
        """The user's (client id, decrypted secret), or None when unset."""
        row = self._session.execute(_CREDENTIALS_BY_USER, {"user_id": user_id}).first()
        if row is None:
            return None
        return row.client_id, self._box.decrypt(row.secret_encrypted)

    def client_ids(self, user_ids: Sequence[int]) -> dict[str, str]:
        """Client id per user id (as a string key), for display; secrets are not read."""
        query = select(ProviderCredential.user_id, ProviderCredential.client_id).where(
            ProviderCredential.user_id.in_(user_ids)
        )
        return {str(user_id): client_id for user_id, client_id in self._session.execute(query)}

    def rotate_secrets(self) -> int:
        """Re-encrypt every provider secret under the newest key; the number re-encrypted."""
        count = 0
        for row in self._session.scalars(select(ProviderCredential)):
            row.secret_encrypted = self._box.rotate(row.secret_encrypted)
            count += 1
        return count


class Tokens:
    """Personal API tokens, stored as SHA-256 digests with a short prefix for display."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def create(
        self, user_id: int, expires_at: datetime | None, name: str | None = None
    ) -> tuple[str, ApiToken]:
        """A new token: the raw value (shown once) and its stored row."""
        raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            user_id=user_id,
            token_hash=token_digest(raw),
            prefix=raw[:12],
            name=name,
            created_at=self._clock(),
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return raw, row

    def authenticate(self, raw: str) -> ApiToken | None:
        """The live token row for `raw` (not revoked, not expired), marking it used."""
        if not raw.startswith(API_TOKEN_PREFIX):
            return None
        row = self._session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(raw)))
        now = self._clock()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        row.last_used_at = now
        return row

    def for_user(self, user_id: int) -> Sequence[ApiToken]:
        """The user's tokens, newest first."""
        query = select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
        return self._session.scalars(query).all()

    def owned(self, token_id: int, user_id: int) -> ApiToken | None:
        """The token with this id when it belongs to the user (revoked or not), else None."""
        row = self._session.get(ApiToken, token_id)
        return row if row is not None and row.user_id == user_id else None

    def revoke_all(self, user_id: int) -> int:
        """Revoke every live token of the user; how many were live."""
        query = (
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .where((ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > self._clock()))
            .values(revoked_at=self._clock())
            .execution_options(synchronize_session=False)
        )
        return int(self._session.execute(query).rowcount)  # type: ignore[attr-defined]

    def revoke(self, token_id: int, user_id: int) -> bool:
        """Revoke the user's token; False when the user has no such live token."""
        row = self.owned(token_id, user_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = self._clock()
        return True


class Sessions:
    """Server-side browser sessions, looked up by the digest of the cookie's id."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, id_hash: str) -> WebSession | None:
        """The session stored under this digest, if any."""
        return self._session.get(WebSession, id_hash)

    def get_with_account(self, id_hash: str) -> StoredSession | None:
        """The session stored under this digest with its signed-in user's account, in one
        query; None when there is no such session."""
        return stored_session(self._session, id_hash)

    def add(self, row: WebSession) -> None:
        """Store a new session."""
        self._session.add(row)

    def delete(self, id_hash: str) -> None:
        """Forget a session."""
        self._session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))

    def delete_for_user(self, user_id: int, keep: str | None = None) -> int:
        """End every session of the user except `keep`; the number ended."""
        query = delete(WebSession).where(WebSession.user_id == user_id)
        if keep is not None:
            query = query.where(WebSession.id_hash != keep)
        return self._session.execute(query).rowcount  # type: ignore[attr-defined, no-any-return]

    def for_user(self, user_id: int) -> Sequence[WebSession]:
        """The user's sessions, most recently used first."""
        query = (
            select(WebSession)
            .where(WebSession.user_id == user_id)
            .order_by(WebSession.last_seen_at.desc())
        )
        return self._session.scalars(query).all()

    def purge_idle(self, idle_before: datetime, created_before: datetime) -> int:
        """Delete sessions past their idle or absolute timeout; the number deleted."""
        query = delete(WebSession).where(
            (WebSession.last_seen_at < idle_before) | (WebSession.created_at < created_before)
        )
        return self._session.execute(query).rowcount  # type: ignore[attr-defined, no-any-return]


class Invitations:
    """One-time invitation links; the token itself is only ever in the link."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def create(
        self,
        *,
        organisation_id: int,
        email: str,
        role: str,
        invited_by: int,
        expires_at: datetime,
        provider_client_id: str | None = None,
        provider_secret_encrypted: str | None = None,
    ) -> tuple[str, Invitation]:
        """A new invitation: the raw token (for the link, shown once) and its row."""
        raw = secrets.token_urlsafe(32)
        row = Invitation(
            provider_client_id=provider_client_id,
            provider_secret_encrypted=provider_secret_encrypted,
            organisation_id=organisation_id,
            email=email.strip(),
            role=role,
            token_hash=token_digest(raw),
            invited_by=invited_by,
            created_at=self._clock(),
            expires_at=expires_at,
        )
        self._session.add(row)
        self._session.flush()
        return raw, row

    def open_by_token(self, raw: str) -> Invitation | None:
        """The unexpired, unaccepted invitation for this token, if any."""
        row = self._session.scalar(
            select(Invitation).where(Invitation.token_hash == token_digest(raw))
        )
        if row is None or row.accepted_at is not None or row.expires_at <= self._clock():
            return None
        return row

    def claim(self, invitation_id: int) -> bool:
        """Mark the invitation accepted unless it is accepted or expired already: an atomic
        compare-and-set, so of requests racing with one link, one wins."""
        now = self._clock()
        claim = (
            update(Invitation)
            .where(
                Invitation.id == invitation_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > now,
            )
            .values(accepted_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(self._session.execute(claim).rowcount)  # type: ignore[attr-defined]

    def rotate_secrets(self, box: SecretBox) -> int:
        """Re-encrypt the provider secrets that invitations carry under the newest key."""
        count = 0
        for row in self._session.scalars(
            select(Invitation).where(Invitation.provider_secret_encrypted.is_not(None))
        ):
            assert row.provider_secret_encrypted is not None  # noqa: S101 (narrowing for mypy)
            row.provider_secret_encrypted = box.rotate(row.provider_secret_encrypted)
            count += 1
        return count

    def forget_expired_credentials(self) -> int:
        """Clear the provider credentials of invitations that expired unaccepted; how many."""
        query = (
            update(Invitation)
            .where(
                Invitation.provider_secret_encrypted.is_not(None),
                Invitation.expires_at <= self._clock(),
            )
            .values(provider_client_id=None, provider_secret_encrypted=None)
            .execution_options(synchronize_session=False)
        )
        return int(self._session.execute(query).rowcount)  # type: ignore[attr-defined]

    def pending(self, organisation_id: int) -> Sequence[Invitation]:
        """The organisation's invitations that are neither accepted nor expired."""
        query = (
            select(Invitation)
            .where(
                Invitation.organisation_id == organisation_id,
                Invitation.accepted_at.is_(None),
                Invitation.expires_at > self._clock(),
            )
            .order_by(Invitation.created_at.desc())
        )
        return self._session.scalars(query).all()


class AuditLog:
    """The append-only audit trail: ids and amounts, never names or addresses."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def record(
        self,
        action: str,
        *,
        outcome: str = "success",
        actor_user_id: int | None = None,
        organisation_id: int | None = None,
        target_type: str | None = None,
        target_id: int | str | None = None,
        details: dict[str, Any] | None = None,
        completes_id: int | None = None,
    ) -> AuditEntry:
        """Append one entry; `completes_id` names the pending entry whose outcome this is."""
        entry = AuditEntry(
            at=self._clock(),
            actor_user_id=actor_user_id,
            organisation_id=organisation_id,
            action=action,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            outcome=outcome,
            details=details or {},
            completes_id=completes_id,
        )
        self._session.add(entry)
        return entry

    def record_own(
        self,
        action: str,
        user: Someone,
        *,
        details: dict[str, Any] | None = None,
        outcome: str = "success",
    ) -> AuditEntry:
        """Append what `user` did to their own account (they are actor and target)."""
        return self.record(
            action,
            outcome=outcome,
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            target_type="user",
            target_id=user.id,
            details=details,
        )

    def for_target(
        self, organisation_id: int, target_type: str, target_id: str, limit: int = 200
    ) -> Sequence[tuple[AuditEntry, str | None]]:
        """One organisation's entries about one target, oldest first, with the actor's e-mail."""
        values = {
            "organisation_id": organisation_id,
            "target_type": target_type,
            "target_id": target_id,
            "limit": limit,
        }
        return [(entry, email) for entry, email in self._session.execute(_AUDIT_FOR_TARGET, values)]

    def recent(self, organisation_id: int | None = None, limit: int = 100) -> Sequence[AuditEntry]:
        """The latest entries, newest first, optionally of one organisation."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if organisation_id is not None:
            query = query.where(AuditEntry.organisation_id == organisation_id)
        return self._session.scalars(query).all()
