"""The `sarportal` command: thin wrappers that call into the parts."""

from __future__ import annotations

import click

from sarportal import __version__


@click.group()
@click.version_option(__version__, prog_name="sarportal")
def main() -> None:
    """sarportal: the merchant portal of the Sicher auf Rechnung invoice payment provider."""


def _register() -> None:
    from sarportal.demo import demo
    from sarportal.sandbox.cli import sandbox

    main.add_command(sandbox)
    main.add_command(demo)

    from sarportal.auth.commands import tokens, users
    from sarportal.jobs.commands import worker
    from sarportal.store.commands import db, keys
    from sarportal.web.core.serve import serve

    for command in (db, keys, users, tokens, serve, worker):
        main.add_command(command)


_register()
