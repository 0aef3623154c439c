"""Operational endpoints: `/healthz` (process up), `/readyz` (dependencies), `/metrics`.

Readiness checks are registered by name (`add_readiness_check`), so the provider check can join
the database check later. Metrics count requests and latency by endpoint, never by URL (a URL
could carry an id).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, g, jsonify, request, session
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from werkzeug.wrappers import Response

from sarportal.web.core.access import public
from sarportal.web.core.errors import DatabaseUnavailable
from sarportal.web.core.services import EXTENSION

ReadinessCheck = Callable[[], None]
CHECKS = "sarportal.readiness"
METRICS = "sarportal.metrics"
# Where a request's route template (`/invite/<token>`, never the token) is left in the WSGI
# environ, for the access log of `sarportal serve`.
ROUTE_ENVIRON = "sarportal.route"

bp = Blueprint("ops", __name__)


class Metrics:
    """The app's Prometheus collectors, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sarportal_http_requests",
            "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sarportal_http_request_duration_seconds",
            "Time to answer an HTTP request, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )


def add_readiness_check(app: Flask, name: str, check: ReadinessCheck) -> None:
    """Make `/readyz` fail while `check` raises."""
    app.extensions[CHECKS][name] = check


@bp.get("/healthz")
@public
def healthz() -> Response:
    """The process is up and answering."""
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    """Every registered dependency answers; 503 naming the failing checks otherwise."""
    results: dict[str, str] = {}
    for name, check in current_app.extensions[CHECKS].items():
        try:
            check()
        except Exception:  # noqa: BLE001 (any failure means not ready)
            current_app.logger.warning("readiness check %s failed", name)
            results[name] = "failing"
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    body = jsonify(status="ok" if ready else "unavailable", checks=results)
    return body, 200 if ready else 503


@bp.get("/metrics")
@public
def metrics() -> Response:
    """Prometheus exposition of the request metrics."""
    registry: Metrics = current_app.extensions[METRICS]
    return Response(generate_latest(registry.registry), mimetype=CONTENT_TYPE_LATEST)


def _database_guard() -> None:
    """Refuse the request clearly when its session could not be read (the database is down);
    the operational endpoints still answer, so `/readyz` can say what is wrong."""
    exempt = request.blueprint == bp.name or request.endpoint == "static"
    if getattr(session, "database_down", False) and not exempt:
        raise DatabaseUnavailable("the session could not be read")


def _remember_route(_endpoint: str | None, _values: dict[str, object] | None) -> None:
    if request.url_rule is not None:
        request.environ[ROUTE_ENVIRON] = request.url_rule.rule


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    collectors: Metrics = current_app.extensions[METRICS]
    endpoint = request.endpoint or "unmatched"
    collectors.requests.labels(endpoint, request.method, str(response.status_code)).inc()
    started = g.get("request_started")
    if started is not None:
        collectors.latency.labels(endpoint).observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    """Register the endpoints, the database readiness check and the request metrics."""
    app.extensions[CHECKS] = {}
    app.extensions[METRICS] = Metrics()
    add_readiness_check(app, "database", app.extensions[EXTENSION].store.ping)
    add_readiness_check(app, "jobs", app.extensions[EXTENSION].jobs.ping)
    app.url_value_preprocessor(_remember_route)  # runs before every before_request hook
    app.before_request(_start_timer)
    app.before_request(_database_guard)
    app.after_request(_observe)
    app.register_blueprint(bp)
