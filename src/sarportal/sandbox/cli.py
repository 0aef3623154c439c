"""`sarportal sandbox`: the flags of design §8."""

from __future__ import annotations

from pathlib import Path

import click

from sarportal.sandbox.config import SandboxConfig
from sarportal.sandbox.payouts import INTERVALS as PAYOUT_INTERVALS
from sarportal.sandbox.vocab import AUTHORIZATION_DAYS


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--state-dir",
    default="var/sandbox",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where ca.pem (the CA clients must trust) and the server's key are written.",
)
@click.option(
    "--transactions", default=50_000, show_default=True, type=click.IntRange(1, 50_000_000)
)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--rate-limit",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Requests a second per client; 0: unlimited.",
)
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(0))
@click.option("--fault-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option(
    "--pii-canary", is_flag=True, help="Mark every personal field with a PIICANARY marker."
)
@click.option(
    "--token-ttl",
    default=3600,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds an access token lives.",
)
@click.option(
    "--hang-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="How long a 'hang' fault holds a request.",
)
@click.option(
    "--backlog-days",
    default=0,
    show_default=True,
    type=click.IntRange(0, AUTHORIZATION_DAYS - 1),
    help="Orders of the last N days are not shipped yet: authorized, not captured or cancelled.",
)
@click.option(
    "--without-export",
    is_flag=True,
    help="Offer no CSV export (as a provider that has only the paged list).",
)
@click.option(
    "--payout-interval",
    default="week",
    show_default=True,
    type=click.Choice(PAYOUT_INTERVALS),
    help="Payout period: weeks from Monday, or calendar months (sandbox only, for benchmarks).",
)
def sandbox(
    host: str,
    port: int,
    state_dir: Path,
    transactions: int,
    seed: int,
    rate_limit: float,
    latency_ms: float,
    fault_rate: float,
    pii_canary: bool,
    token_ttl: int,
    hang_seconds: float,
    backlog_days: int,
    without_export: bool,
    payout_interval: str,
) -> None:
    """Run the provider API sandbox over HTTPS."""
    from sarportal.sandbox.server import serve

    config = SandboxConfig(
        state_dir=state_dir,
        host=host,
        port=port,
        transactions=transactions,
        seed=seed,
        rate_limit=rate_limit,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        pii_canary=pii_canary,
        token_ttl=token_ttl,
        hang_seconds=hang_seconds,
        backlog_days=backlog_days,
        export=not without_export,
        payout_interval=payout_interval,
    )
    serve(config, progress=lambda line: click.echo(line, err=True))
