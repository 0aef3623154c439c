"""`sarportal worker`: a Celery worker for the statistics jobs (needs SARPORTAL_REDIS_URL)."""

from __future__ import annotations

import click

from sarportal.config import Settings


@click.command()
@click.option("--concurrency", type=click.IntRange(1, 256), default=None,
              help="Worker processes (default: the number of CPUs).")  # fmt: skip
@click.option("--queues", default="stats", show_default=True, help="Comma-separated queues.")
@click.option("--hostname", default=None, help="The worker's node name (default: stats@host).")
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int | None, queues: str, hostname: str | None, loglevel: str) -> None:
    """Run a worker that computes statistics jobs from the Redis queue."""
    from sarportal.jobs.celery_app import make_celery
    from sarportal.jobs.config import JobsConfig

    settings = Settings.from_env()
    if not settings.redis_url:
        raise click.UsageError("set SARPORTAL_REDIS_URL to the Redis that the portal uses")
    visibility = JobsConfig.from_env().visibility_timeout.total_seconds()
    app = make_celery(settings.redis_url, visibility_timeout=visibility)
    argv = ["worker", f"--queues={queues}", f"--loglevel={loglevel}", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]  # fmt: skip
    argv.append(f"--hostname={hostname or 'stats@%h'}")
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    app.worker_main(argv)
