"""Demo users for `sarportal demo`: one per role in "Musterhaus GmbH", with provider clients.

The administrator has a second factor, as every administrator must: its authenticator key is
printed with the password, so that it can be added to an authenticator app."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sarportal.auth import totp
from sarportal.auth.passwords import Passwords
from sarportal.auth.users import second_factor_required
from sarportal.domain.roles import Role
from sarportal.store import Store

ORGANISATION = "Musterhaus GmbH"
DEMO_USERS = (
    ("viewer@demo.example", Role.VIEWER),
    ("operator@demo.example", Role.OPERATOR),
    ("admin@demo.example", Role.ADMIN),
)
DEFAULT_CLIENTS = {
    Role.VIEWER.value: ("demo-viewer", "demo-viewer-secret"),
    Role.OPERATOR.value: ("demo-operator", "demo-operator-secret"),
    Role.ADMIN.value: ("demo-operator", "demo-operator-secret"),
}


@dataclass(frozen=True)
class DemoLogin:
    """A demo user's login, for the terminal."""

    email: str
    role: Role
    password: str
    totp_secret: str | None = None


def ensure_demo_users(
    store: Store,
    provider_clients: Mapping[str, tuple[str, str]] | None = None,
    password: str | None = None,
    totp_secret: str | None = None,
) -> list[DemoLogin]:
    """Create or reset the demo users; `provider_clients` maps a role name to (client, secret).

    Every call sets a fresh password and, for the roles that must have one, a fresh second
    factor (printed by the demo), unless they are given.
    """
    clients = {**DEFAULT_CLIENTS, **(provider_clients or {})}
    password = password or "demo-" + secrets.token_urlsafe(12)
    passwords = Passwords(store.settings.argon2)
    hashed = passwords.hash(password)
    totp_secret = totp_secret or totp.new_secret()
    logins = []
    with store.unit_of_work() as uow:
        organisation = uow.organisations.get_or_create(ORGANISATION)
        for email, role in DEMO_USERS:
            user = uow.users.by_email(email)
            if user is None:
                user = uow.users.add(
                    organisation_id=organisation.id,
                    email=email,
                    password_hash=hashed,
                    role=role.value,
                    display_name=f"Demo {role.value}",
                )
            user.password_hash = hashed
            user.role = role.value
            user.disabled = False
            uow.credentials.set(user.id, *clients[role.value])
            enrolled = totp_secret if second_factor_required(role.value, None) else None
            uow.users.set_totp(user, enrolled)
            logins.append(DemoLogin(email, role, password, enrolled))
        uow.commit()
    return logins
