"""CLI commands of the store: `sarportal db upgrade` and `sarportal keys rotate`."""

from __future__ import annotations

import click

from sarportal.config import Settings
from sarportal.store import Store
from sarportal.store.migrate import upgrade


@click.group("db")
def db() -> None:
    """The portal's database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    store = Store(Settings.from_env())
    upgrade(store.engine)
    click.echo("database is up to date")


@click.group("keys")
def keys() -> None:
    """The encryption keys of stored secrets."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the newest key of SARPORTAL_ENCRYPTION_KEYS."""
    store = Store(Settings.from_env())
    with store.unit_of_work() as uow:
        count = (
            uow.credentials.rotate_secrets()
            + uow.users.rotate_secrets()
            + uow.invitations.rotate_secrets(store.box)
        )
        uow.audit.record("keys.rotated", details={"secrets": count})
        uow.commit()
    click.echo(f"re-encrypted {count} secrets under the newest key; older keys may now be removed")
