"""Managing users: creation, invitations, passwords, second factors, roles and credentials.

Each function runs one unit of work, checks that an admin acts within their own organisation,
and writes the audit entry in the same transaction as the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from sqlalchemy.exc import IntegrityError

from sarportal.auth import totp
from sarportal.auth.passwords import Passwords, check_policy
from sarportal.domain.roles import Role
from sarportal.store import Store
from sarportal.store.models import User
from sarportal.store.uow import UnitOfWork

# Administrators manage users and credentials: they need a second factor whatever the rule says.
ALWAYS_REQUIRED: Final = frozenset({Role.ADMIN})


class UserError(ValueError):
    """A requested change cannot be made; the message is fit to show to the person who asked."""


class UnknownUser(UserError):
    """No such user in the actor's organisation (another organisation's users included)."""


@dataclass(frozen=True)
class Actor:
    """Who asks for a change: a user of an organisation with a role."""

    user_id: int
    organisation_id: int
    role: Role


def create_user(
    store: Store,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    role: Role,
    organisation: str,
    provider_credentials: tuple[str, str] | None = None,
    actor_user_id: int | None = None,
) -> int:
    """Create a user (the CLI's `users create`); the new user's id."""
    email = _valid_email(email)
    check_policy(password, email)
    with store.unit_of_work() as uow:
        if uow.users.by_email(email) is not None:
            raise UserError("A user with this e-mail address exists already.")
        org = uow.organisations.get_or_create(organisation)
        user = uow.users.add(
            organisation_id=org.id, email=email, password_hash=passwords.hash(password), role=role
        )
        if provider_credentials is not None:
            uow.credentials.set(user.id, *provider_credentials)
        uow.audit.record(
            "user.created",
            actor_user_id=actor_user_id,
            organisation_id=org.id,
            target_type="user",
            target_id=user.id,
            details={"role": role.value, "credentials": provider_credentials is not None},
        )
        uow.commit()
        return user.id


INVITATION_UNUSABLE: Final = "This invitation link is invalid, used or expired."


def invite(
    store: Store,
    actor: Actor,
    email: str,
    role: Role,
    provider_credentials: tuple[str, str] | None = None,
) -> str:
    """Invite someone into the actor's organisation, optionally with the provider credentials
    they will act as (the secret kept encrypted until the acceptance moves it to them); the raw
    token for the one-time link."""
    email = _valid_email(email)
    with store.unit_of_work() as uow:
        # Only a colleague is named: whether the address is in use in another organisation is
        # not this admin's to learn (accepting such an invitation fails like a used link).
        existing = uow.users.by_email(email)
        if existing is not None and existing.organisation_id == actor.organisation_id:
            raise UserError("A user with this e-mail address exists already.")
        token, invitation = uow.invitations.create(
            organisation_id=actor.organisation_id,
            email=email,
            role=role.value,
            invited_by=actor.user_id,
            expires_at=store.clock() + store.settings.invitation_lifetime,
            provider_client_id=provider_credentials[0] if provider_credentials else None,
            provider_secret_encrypted=store.box.encrypt(provider_credentials[1])
            if provider_credentials
            else None,
        )
        uow.audit.record(
            "user.invited",
            actor_user_id=actor.user_id,
            organisation_id=actor.organisation_id,
            target_type="invitation",
            target_id=invitation.id,
            details={"role": role.value, "credentials": provider_credentials is not None},
        )
        uow.commit()
        return token


def accept_invitation(store: Store, passwords: Passwords, token: str, password: str) -> int:
    """Create the invited user with their chosen password; their id. Of requests racing with
    one link, one creates the account; the others get the `UserError` of a used link."""
    with store.unit_of_work() as uow:
        invitation = uow.invitations.open_by_token(token)
        if invitation is None:
            raise UserError(INVITATION_UNUSABLE)
        check_policy(password, invitation.email)
        password_hash = passwords.hash(password)  # slow: before the claim, not while holding it
        if not uow.invitations.claim(invitation.id) or uow.users.by_email(invitation.email):
            raise UserError(INVITATION_UNUSABLE)
        try:
            user = uow.users.add(
                organisation_id=invitation.organisation_id,
                email=invitation.email,
                password_hash=password_hash,
                role=invitation.role,
            )
        except IntegrityError:  # another invitation for this address won the race
            raise UserError(INVITATION_UNUSABLE) from None
        if invitation.provider_client_id and invitation.provider_secret_encrypted:
            secret = store.box.decrypt(invitation.provider_secret_encrypted)
            uow.credentials.set(user.id, invitation.provider_client_id, secret)
        invitation.provider_client_id = invitation.provider_secret_encrypted = None
        uow.audit.record_own(
            "user.invitation_accepted",
            user,
            details={
                "invitation_id": invitation.id,
                "role": invitation.role,
                "credentials": uow.credentials.get_for(user.id) is not None,
            },
        )
        uow.commit()
        return user.id


class Ended(NamedTuple):
    """What a change of credentials ended: other sessions and personal API tokens."""

    sessions: int
    tokens: int


def change_password(
    store: Store, passwords: Passwords, user_id: int, new: str, keep_session: str | None
) -> Ended:
    """Change the user's password (once they have confirmed the current one with
    `Authenticator.confirm_password`), end their other sessions and revoke their API tokens."""
    with store.unit_of_work() as uow:
        user = _user(uow, user_id)
        check_policy(new, user.email)
        user.password_hash = passwords.hash(new)
        ended = Ended(
            uow.sessions.delete_for_user(user.id, keep=keep_session), uow.tokens.revoke_all(user.id)
        )
        uow.audit.record_own(
            "account.password_changed",
            user,
            details={"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens},
        )
        uow.commit()
        return ended


def enrol_totp(store: Store, user_id: int, secret: str, code: str) -> list[str]:
    """Enrol the second factor once the user proves a code; the recovery codes (shown once)."""
    check = totp.check_code(secret, code, store.clock(), None)
    if not check.accepted:
        raise UserError("The code is not correct. Check your authenticator app's time and retry.")
    codes = totp.new_recovery_codes()
    with store.unit_of_work() as uow:
        user = _user(uow, user_id)
        uow.users.set_totp(user, secret)
        user.totp_last_step = check.step
        uow.recovery_codes.replace(user.id, [totp.recovery_code_hash(code) for code in codes])
        uow.audit.record_own("account.totp_enrolled", user)
        uow.commit()
    return codes


def change_role(store: Store, actor: Actor, user_id: int, role: Role) -> None:
    """Give a user of the actor's organisation another role."""
    if user_id == actor.user_id:
        raise UserError("You cannot change your own role.")
    with store.unit_of_work() as uow:
        user = _member(uow, actor, user_id)
        previous = user.role
        user.role = role.value
        _audit(uow, actor, "user.role_changed", user, {"from": previous, "to": role.value})
        uow.commit()


def set_disabled(store: Store, actor: Actor, user_id: int, disabled: bool) -> int:
    """Disable a user of the actor's organisation, ending their sessions and revoking their API
    tokens (enabling them again brings neither back), or re-enable them; tokens revoked."""
    if user_id == actor.user_id:
        raise UserError("You cannot disable your own account.")
    with store.unit_of_work() as uow:
        user = _member(uow, actor, user_id)
        user.disabled = disabled
        revoked = 0
        if disabled:
            uow.sessions.delete_for_user(user.id)
            revoked = uow.tokens.revoke_all(user.id)
        action = "user.disabled" if disabled else "user.enabled"
        _audit(uow, actor, action, user, {"tokens_revoked": revoked} if disabled else {})
        uow.commit()
        return revoked


def reset_second_factor(store: Store, actor: Actor, user_id: int) -> int:
    """Remove a user's second factor so they can enrol again; their API tokens, made while it
    protected the account, are revoked. How many were."""
    with store.unit_of_work() as uow:
        user = _member(uow, actor, user_id)
        uow.users.set_totp(user, None)
        uow.recovery_codes.replace(user.id, [])
        revoked = uow.tokens.revoke_all(user.id)
        _audit(uow, actor, "user.totp_reset", user, {"tokens_revoked": revoked})
        uow.commit()
        return revoked


def set_provider_credentials(
    store: Store, actor: Actor, user_id: int, client_id: str, secret: str
) -> None:
    """Set or replace the provider credentials a user acts with (the secret is write-only)."""
    client_id = client_id.strip()
    if not client_id or not secret or len(client_id) > 200 or len(secret) > 1000:
        raise UserError("Enter a client id and a client secret.")
    with store.unit_of_work() as uow:
        user = _member(uow, actor, user_id)
        uow.credentials.set(user.id, client_id, secret)
        _audit(uow, actor, "user.credentials_set", user, {"client_id": client_id})
        uow.commit()


def set_required_second_factor(store: Store, actor: Actor, roles: set[Role]) -> int:
    """Require a second factor of the organisation's users with these roles (administrators
    always need one). The API tokens of users who now must, but have none, are revoked: they
    were made without it. How many were."""
    roles = roles | ALWAYS_REQUIRED
    with store.unit_of_work() as uow:
        organisation = uow.organisations.get(actor.organisation_id)
        if organisation is None or actor.role is not Role.ADMIN:
            raise UserError("Your organisation no longer exists.")
        value = ",".join(sorted(role.value for role in roles))
        organisation.require_totp_roles = value
        revoked = sum(
            uow.tokens.revoke_all(member.id)
            for member in uow.users.in_organisation(actor.organisation_id)
            if Role.parse(member.role) in roles and member.totp_secret_encrypted is None
        )
        uow.audit.record(
            "organisation.totp_policy_changed",
            actor_user_id=actor.user_id,
            organisation_id=actor.organisation_id,
            target_type="organisation",
            target_id=actor.organisation_id,
            details={"roles": value, "tokens_revoked": revoked},
        )
        uow.commit()
        return revoked


def second_factor_required(role: str, organisation_rule: str | None) -> bool:
    """Whether a user of `role` must use a second factor under the organisation's rule."""
    required = {r.value for r in ALWAYS_REQUIRED} | set((organisation_rule or "").split(","))
    return role in required


def _valid_email(email: str) -> str:
    email = email.strip()
    local, _, domain = email.rpartition("@")
    if not local or "." not in domain or len(email) > 320 or any(ch.isspace() for ch in email):
        raise UserError("Enter a valid e-mail address.")
    return email


def _user(uow: UnitOfWork, user_id: int) -> User:
    user = uow.users.get(user_id)
    if user is None:
        raise UnknownUser("This user does not exist.")
    return user


def _member(uow: UnitOfWork, actor: Actor, user_id: int) -> User:
    """The user, when the actor is an admin of the same organisation."""
    user = uow.users.get(user_id)
    if user is None or user.organisation_id != actor.organisation_id or actor.role != Role.ADMIN:
        raise UnknownUser("This user does not exist.")
    return user


def _audit(uow: UnitOfWork, actor: Actor, action: str, user: User, details: dict[str, Any]) -> None:
    uow.audit.record(
        action,
        actor_user_id=actor.user_id,
        organisation_id=actor.organisation_id,
        target_type="user",
        target_id=user.id,
        details=details,
    )
