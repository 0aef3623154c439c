"""`sarportal serve`: the app factory under gunicorn."""

from __future__ import annotations

import atexit
import gc
from typing import Any

import click
from flask import Flask
from gunicorn.app.base import BaseApplication

from sarportal.config import Settings
from sarportal.web.services import EXTENSION


class PortalServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn running `create_app()` with options given on the command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from sarportal.web import create_app

        app = create_app()
        # A worker that stops cancels the statistics jobs running in it and closes connections.
        atexit.register(app.extensions[EXTENSION].close)
        # What the worker built to serve (modules, templates, locale data) lives as long as the
        # worker: keep it out of the garbage collector's full passes, which otherwise walk all
        # of it and pause a request for tens of milliseconds.
        gc.collect()
        gc.freeze()
        return app


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the portal (behind an HTTPS reverse proxy in production)."""
    Settings.from_env()  # fail fast, before forking, on a configuration that may not start
    PortalServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-",
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
            "timeout": 60,
            "forwarded_allow_ips": "127.0.0.1",
        }
    ).run()
