"""`sarportal serve`: the app factory under gunicorn.

Before the port is bound, `serve` builds what each worker will build (settings, database,
provider client with its TLS files, jobs back end) and reaches what they need, so that a
configuration that cannot serve ends with one line on standard error and a non-zero exit instead
of workers failing to boot behind a bound port. Without `SARPORTAL_REDIS_URL` the statistics jobs
live in the memory of the process that runs them, so it serves with one worker and refuses more.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import ssl
from pathlib import Path
from typing import Any

import click
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from sarportal.config import ConfigurationError, Settings
from sarportal.jobs import JobsUnavailable
from sarportal.provider.transport import InsecureProviderURL
from sarportal.store.engine import DATABASE_DOWN
from sarportal.store.migrate import alembic_config
from sarportal.web.core.ops import ROUTE_ENVIRON
from sarportal.web.core.services import EXTENSION, Portal

ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'
LOG_FILES = ("access.log", "portal.log")  # in SARPORTAL_LOG_DIR: requests; everything else
LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class PortalServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn running `create_app()` with options given on the command line."""

    def __init__(self, options: dict[str, Any], log_file: Path | None = None) -> None:
        self._options = options
        self._log_file = log_file
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from sarportal.web import create_app

        _log_the_portal_to(self._log_file)
        app = create_app()
        portal = app.extensions[EXTENSION]
        # A worker that stops cancels the statistics jobs running in it and closes connections.
        atexit.register(portal.close)
        # The bulk jobs a stopped portal left unfinished go on here (the schema was checked).
        portal.bulk.resume()
        # What the worker built to serve (modules, templates, locale data) lives as long as the
        # worker: keep it out of the garbage collector's full passes, which otherwise walk all
        # of it and pause a request for tens of milliseconds.
        gc.collect()
        gc.freeze()
        return app


class RouteLogger(glogging.Logger):  # type: ignore[misc]
    """Gunicorn's logger, writing a request's route template (`/invite/<token>`) where a path
    would carry a secret, and none of the request's headers, query or referrer."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        every = super().atoms(resp, req, environ, request_time)
        route = environ.get(ROUTE_ENVIRON) or _unmatched(environ.get("PATH_INFO") or "/")
        safe = {key: every[key] for key in ("h", "t", "s", "m", "H", "b", "B", "T", "D", "M", "L")}
        return {**safe, "U": route, "r": f"{every['m']} {route} {every['H']}", "p": every["p"]}


def _unmatched(path: str) -> str:
    """A path no route matched, cut after its first segment (the rest may be anything)."""
    first, _, rest = path.lstrip("/").partition("/")
    return f"/{first}/…" if rest else f"/{first}"


def _log_the_portal_to(log_file: Path | None) -> None:
    """Send the portal's own log records (INFO and up) to `log_file`, or to standard error."""
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger("sarportal")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # and Flask, seeing this handler, adds none of its own


def worker_count(settings: Settings, asked: int | None) -> int:
    """The number of gunicorn workers: as asked, by default 2 with Redis and 1 without it;
    more than one without Redis is refused (each would hold jobs the others cannot see)."""
    if settings.redis_url:
        return asked or 2
    if asked is not None and asked > 1:
        raise ConfigurationError(
            f"--workers {asked} needs SARPORTAL_REDIS_URL: without it the statistics jobs live "
            "in the memory of one process, and a page served by another would not find its job; "
            "set SARPORTAL_REDIS_URL (and run `sarportal worker`) or serve with --workers 1"
        )
    return 1


def preflight(settings: Settings) -> None:
    """Build what every worker builds and reach what it needs; `ConfigurationError` naming
    the first thing that stops the portal from serving."""
    for name, path in (
        ("SARPORTAL_PROVIDER_CA_BUNDLE", settings.provider_ca_bundle),
        ("SARPORTAL_PROVIDER_CLIENT_CERT", settings.provider_client_cert),
    ):
        if path is not None and not os.access(path, os.R_OK):
            raise ConfigurationError(f"{name} names {path}, which is not a readable file")
    try:
        portal = Portal.build(settings)
    except InsecureProviderURL as exc:
        raise ConfigurationError(f"SARPORTAL_PROVIDER_URL: {exc}") from None
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"the provider's TLS files (SARPORTAL_PROVIDER_CA_BUNDLE, "
            f"SARPORTAL_PROVIDER_CLIENT_CERT) cannot be loaded: {exc.reason or exc}"
        ) from None
    try:
        _check_database(portal)
        try:
            portal.jobs.ping()
        except JobsUnavailable:
            raise ConfigurationError(
                "SARPORTAL_REDIS_URL: the Redis server of the statistics jobs does not answer"
            ) from None
        if settings.log_dir is not None:
            _open_log_files(settings.log_dir)
    finally:
        portal.close()


def _open_log_files(log_dir: Path) -> None:
    """Make the log folder (0700) and its files (0600, appended to) unless they exist."""
    try:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in LOG_FILES:
            os.close(os.open(log_dir / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigurationError(
            f"SARPORTAL_LOG_DIR {log_dir}: cannot write there ({exc.strerror})"
        ) from None


def _check_database(portal: Portal) -> None:
    try:
        with portal.store.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except DATABASE_DOWN as exc:
        raise ConfigurationError(
            f"the database (SARPORTAL_DATABASE_URL) cannot be reached: {type(exc.orig).__name__}"
        ) from None
    heads = set(ScriptDirectory.from_config(alembic_config(portal.store.engine)).get_heads())
    if current != heads:
        raise ConfigurationError(
            "the database schema is not the one this version needs: run `sarportal db upgrade`"
        )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [default: 2 with SARPORTAL_REDIS_URL; 1, the most, without it].",
)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True)
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the portal (behind an HTTPS reverse proxy in production)."""
    try:
        settings = Settings.from_env()
        count = worker_count(settings, workers)
        preflight(settings)
    except ConfigurationError as exc:
        raise click.ClickException(f"refusing to serve: {exc}") from None
    log_dir = settings.log_dir
    PortalServer(
        {
            "bind": f"{host}:{port}",
            "workers": count,
            "threads": threads,
            "worker_class": "gthread",
            "logger_class": RouteLogger,
            "accesslog": str(log_dir / LOG_FILES[0]) if log_dir else "-",
            "errorlog": str(log_dir / LOG_FILES[1]) if log_dir else "-",
            "access_log_format": ACCESS_LOG_FORMAT,
            "timeout": 60,
            "forwarded_allow_ips": "127.0.0.1",
        },
        log_file=log_dir / LOG_FILES[1] if log_dir else None,
    ).run()
