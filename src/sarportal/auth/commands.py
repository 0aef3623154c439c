"""CLI commands for people and tokens: `sarportal users create`, `sarportal tokens ...`."""

from __future__ import annotations

import sys

import click

from sarportal.auth.passwords import PasswordPolicyError, Passwords
from sarportal.auth.tokens import (
    MIN_EXPIRES_DAYS,
    NAME_MAX_LENGTH,
    TokenError,
    UnknownToken,
    create_token,
    revoke_token,
    token_state,
)
from sarportal.auth.users import UserError, create_user
from sarportal.config import Settings
from sarportal.domain.roles import Role
from sarportal.store import Store

ROLES = click.Choice([role.value for role in Role])


@click.group("users")
def users() -> None:
    """The portal's users."""


@users.command("create")
@click.option("--email", required=True, help="The user's e-mail address (their login).")
@click.option("--role", type=ROLES, required=True, help="viewer, operator or admin.")
@click.option("--organisation", default="Default organisation", show_default=True)
@click.option("--provider-client-id", default=None, help="The provider API client to act as.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from line 1 of standard input and the provider secret from line 2.",
)
def users_create(
    email: str, role: str, organisation: str, provider_client_id: str | None, password_stdin: bool
) -> None:
    """Create a user, asking for the password (and the provider secret with a client id)."""
    secret: str | None = None
    if password_stdin:
        lines = sys.stdin.read().splitlines()
        password = lines[0] if lines else ""
        if provider_client_id:
            secret = lines[1] if len(lines) > 1 else ""
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if provider_client_id:
            secret = click.prompt("Provider client secret", hide_input=True)
    if provider_client_id and not secret:
        raise click.UsageError("a provider client id needs its client secret")
    settings = Settings.from_env()
    store = Store(settings)
    credentials = (provider_client_id, secret) if provider_client_id and secret else None
    try:
        user_id = create_user(
            store,
            Passwords(settings.argon2),
            email=email,
            password=password,
            role=Role.parse(role),
            organisation=organisation,
            provider_credentials=credentials,
        )
    except (PasswordPolicyError, UserError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created user {user_id} ({email}, {role}) in {organisation}")


@click.group("tokens")
def tokens() -> None:
    """Personal API tokens."""


def _user_id(store: Store, email: str) -> int:
    with store.unit_of_work() as uow:
        user = uow.users.by_email(email)
        if user is None:
            raise click.ClickException(f"no user with the e-mail address {email}")
        return user.id


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help=f"A label, at most {NAME_MAX_LENGTH} characters.")
@click.option("--expires-days", type=click.IntRange(min=MIN_EXPIRES_DAYS), default=None)
def tokens_create(email: str, name: str | None, expires_days: int | None) -> None:
    """Create a personal API token; it is printed once, as the last line."""
    store = Store(Settings.from_env())
    user_id = _user_id(store, email)
    try:
        token = create_token(
            store, user_id, name=name, expires_days=expires_days, actor_user_id=None
        )
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"token {token.id} for {email}; it is shown only now:", err=True)
    click.echo(token.raw)


@tokens.command("list")
@click.option("--email", required=True)
def tokens_list(email: str) -> None:
    """List a user's tokens (id, prefix, state, dates, name); never the tokens themselves."""
    store = Store(Settings.from_env())
    user_id = _user_id(store, email)
    with store.unit_of_work() as uow:
        for row in uow.tokens.for_user(user_id):
            used = row.last_used_at.isoformat() if row.last_used_at else "never"
            expires = row.expires_at.isoformat() if row.expires_at else "never"
            click.echo(
                f"{row.id}\t{row.prefix}…\t{token_state(row, store.clock())}"
                f"\tcreated {row.created_at.isoformat()}\tused {used}\texpires {expires}"
                f"\t{row.name or ''}"
            )


@tokens.command("revoke")
@click.option("--email", required=True)
@click.argument("token_id", type=int)
def tokens_revoke(email: str, token_id: int) -> None:
    """Revoke one of a user's tokens by its id (see `tokens list`)."""
    store = Store(Settings.from_env())
    user_id = _user_id(store, email)
    try:
        revoked = revoke_token(store, user_id, token_id, actor_user_id=None)
    except UnknownToken:
        revoked = False
    if not revoked:
        raise click.ClickException(f"{email} has no active token {token_id}")
    click.echo(f"revoked token {token_id}")
