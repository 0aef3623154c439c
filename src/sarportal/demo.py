"""`sarportal demo`: everything embedded on 127.0.0.1, for a first look."""

from __future__ import annotations

from pathlib import Path

import click

from sarportal.sandbox.config import SandboxConfig

SANDBOX_PORT = 8443


@click.command()
@click.option("--transactions", default=50_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--state-dir",
    default="var/demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--sandbox-port", default=SANDBOX_PORT, show_default=True, type=int)
def demo(transactions: int, state_dir: Path, sandbox_port: int) -> None:
    """Run the provider sandbox with demo data and say how to reach it."""
    from sarportal.sandbox.server import serve

    config = SandboxConfig(
        state_dir=state_dir / "sandbox", port=sandbox_port, transactions=transactions
    )
    ca = config.state_dir / "ca.pem"
    url = f"https://127.0.0.1:{sandbox_port}"

    def progress(line: str) -> None:
        click.echo(line, err=True)
        if line.startswith("sandbox: serving"):
            click.echo(
                "\nThe provider API sandbox is running. Try it:\n"
                f"  curl --cacert {ca} {url}/oauth/token \\\n"
                "       -d grant_type=client_credentials -d client_id=demo-viewer"
                " -d client_secret=demo-viewer-secret\n"
                f"  curl --cacert {ca} -H 'Authorization: Bearer <access_token>' \\\n"
                f"       '{url}/v1/transactions?limit=5'\n"
                "Clients: demo-viewer, demo-operator (merchant A), other-operator (merchant B);\n"
                "each secret is the client id followed by -secret. Ctrl-C stops the sandbox.\n"
            )

    serve(config, progress=progress)
