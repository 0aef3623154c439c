"""`sarportal demo`: the sandbox and the portal together on 127.0.0.1, for a first look.

Everything is embedded: the sandbox runs as a child process with seeded data, the portal uses
SQLite in a fresh instance folder and in-process jobs, and one demo user per role is created with
the sandbox's demo clients as provider credentials. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import orjson

from sarportal.auth.demo_users import DemoLogin, ensure_demo_users


def _start_sandbox(
    state_dir: Path, transactions: int, port: int
) -> tuple[subprocess.Popen[bytes], str]:
    ready = state_dir / "sandbox.json"
    ready.unlink(missing_ok=True)
    args = [
        sys.executable, "-m", "sarportal", "sandbox", "--host", "127.0.0.1", "--port", str(port),
        "--state-dir", str(state_dir), "--transactions", str(transactions),
    ]  # fmt: skip
    process = subprocess.Popen(args)  # noqa: S603 - our own command; its lines reach the terminal
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None:
            raise click.ClickException("the sandbox did not start (see the lines above)")
        if time.monotonic() > deadline:
            process.terminate()
            raise click.ClickException("the sandbox took longer than two minutes to start")
        time.sleep(0.05)
    url: str = orjson.loads(ready.read_bytes())["url"]
    return process, url


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--transactions", default=50_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--state-dir",
    default="var/demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Emptied at every start: the demo keeps nothing between runs.",
)
@click.option("--sandbox-port", default=0, show_default=True, type=int, help="0: any free port.")
def demo(port: int, transactions: int, state_dir: Path, sandbox_port: int) -> None:
    """Run the sandbox and the portal with demo users, and print where to sign in."""
    _check_free(port)
    state_dir = state_dir.resolve()
    shutil.rmtree(state_dir, ignore_errors=True)
    sandbox_dir, instance_dir = state_dir / "sandbox", state_dir / "instance"
    sandbox_dir.mkdir(parents=True)
    sandbox, sandbox_url = _start_sandbox(sandbox_dir, transactions, sandbox_port)
    try:
        os.environ.update(
            {
                "SARPORTAL_INSTANCE_DIR": str(instance_dir),
                "SARPORTAL_PROVIDER_URL": sandbox_url,
                "SARPORTAL_PROVIDER_CA_BUNDLE": str(sandbox_dir / "ca.pem"),
                "SARPORTAL_COOKIE_SECURE": "0",  # plain HTTP on loopback only
                "SARPORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",  # for invitation links
            }
        )
        for name in ("SARPORTAL_DATABASE_URL", "SARPORTAL_REDIS_URL", "SARPORTAL_ENV"):
            os.environ.pop(name, None)
        logins = _prepare_portal()
        url = f"http://127.0.0.1:{port}/"
        click.echo(f"\nsarportal demo is ready: {click.style(url, bold=True)}\n")
        for login in logins:
            click.echo(f"  {login.role.value:<9} {login.email:<24} password {login.password}")
            if login.totp_secret:
                click.echo(f"  {'':<9} {'':<24} authenticator key {login.totp_secret}")
        click.echo(
            f"\nThe provider API sandbox runs at {sandbox_url} "
            f"(trust {sandbox_dir / 'ca.pem'}).\nCtrl-C stops everything.\n"
        )
        _serve_portal(port)
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()


def _check_free(port: int) -> None:
    """Refuse at once, before anything starts, when the portal's port is taken."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds it
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise click.ClickException(
                f"port {port} on 127.0.0.1 is in use (by another program, or a demo still "
                f"running). Choose another one: `sarportal demo --port {port + 1}` "
                f"(or `make demo PORT={port + 1}`)."
            ) from None


def _prepare_portal() -> list[DemoLogin]:
    from sarportal.config import Settings
    from sarportal.store import Store
    from sarportal.store.migrate import upgrade

    store = Store(Settings.from_env())
    upgrade(store.engine)
    return list(ensure_demo_users(store))


def _serve_portal(port: int) -> None:
    from sarportal.web.core.serve import PortalServer

    # One process: in-process jobs and their results must be shared by every request.
    PortalServer(
        {
            "bind": f"127.0.0.1:{port}",
            "workers": 1,
            "threads": 8,
            "worker_class": "gthread",
            "accesslog": None,
            "loglevel": "warning",
        }
    ).run()
