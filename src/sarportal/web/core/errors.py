"""Errors for people (HTML pages) and for programs (problem+json), each with a support id.

The support id is random and logged with the error, so support can find the log line; neither
the page nor the JSON ever shows a trace, a query or anything personal.
"""

from __future__ import annotations

import secrets
from traceback import format_tb

from flask import Flask, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from jinja2 import Template, TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from sarportal.jobs import JobsUnavailable, TooManyJobs
from sarportal.store.engine import DATABASE_DOWN
from sarportal.web.core.access import wants_json
from sarportal.web.core.problems import problem


class DatabaseUnavailable(Exception):
    """The portal's database could not be reached for this request."""


PROBLEM_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("Bad request"), _("The request could not be understood. Please check your input.")),
        401: (_("Not signed in"), _("Please sign in to continue.")),
        403: (_("Access denied"), _("Your role does not allow this page or action.")),
        404: (_("Page not found"), _("There is nothing at this address.")),
        405: (_("Not allowed"), _("This address does not accept this kind of request.")),
        429: (_("Too many requests"), _("Please wait a moment before you try again.")),
        500: (_("Something went wrong"), _("The page could not be shown. Please try again.")),
        503: (_("Temporarily unavailable"), _("The portal is busy. Please try again shortly.")),
    }


def error_response(
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    template: str | None = None,
) -> Response:
    """A problem+json body for the API, else an error page, both with a support id."""
    support_id = g.get("support_id") or secrets.token_hex(6)
    default_title, default_detail = _messages().get(
        status, _messages()[500 if status >= 500 else 400]
    )
    title = title or default_title
    detail = detail or default_detail
    if wants_json():
        body = {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code
            or PROBLEM_CODES.get(status, "internal" if status >= 500 else "invalid_request"),
            "support_id": support_id,
        }
        response = jsonify(body)
        response.status_code = status
        response.mimetype = "application/problem+json"
        return response
    context = {"code": status, "title": title, "message": detail, "support_id": support_id}
    try:
        pages: list[str | Template] = [f"errors/{status}.html", "errors/generic.html"]
        html = render_template([template, *pages] if template else pages, **context)
    except TemplateNotFound:
        html = f"{title}\n\n{detail}\n\nSupport ID: {support_id}\n"
        return Response(html, status=status, mimetype="text/plain")
    return Response(html, status=status, mimetype="text/html")


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if status >= 500:
        _log(error, status)
    response = error_response(status)
    if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
        response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    retry_after = error.response.headers.get("Retry-After") if error.response else None
    if retry_after:
        response.headers["Retry-After"] = retry_after
    return response


def _named(code: str, **values: object) -> Response:
    """The answer for one of the table's codes (`web.problems`)."""
    found = problem(code)
    return error_response(
        found.status, code=code, title=str(found.title), detail=found.detail(**values)
    )


def _csrf_error(error: CSRFError) -> Response:
    return _named("csrf_failed")


def _database_unavailable(error: Exception) -> Response:
    _log(error, 503)
    return _named("database_unavailable")


def _jobs_unavailable(error: JobsUnavailable) -> Response:
    return _named("jobs_unavailable")


def _too_many_jobs(error: TooManyJobs) -> Response:
    response = _named("too_many_jobs", limit=error.limit)
    response.headers["Retry-After"] = "10"
    return response


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    _log(error, 500)
    return error_response(500)


def _log(error: BaseException, status: int) -> None:
    from flask import current_app

    g.support_id = g.get("support_id") or secrets.token_hex(6)
    # The exception's message may quote data (even a customer's), so only its type and the
    # frames (code locations) are logged.
    frames = "" if isinstance(error, HTTPException) else "".join(format_tb(error.__traceback__))
    current_app.logger.error(
        "support_id=%s status=%s endpoint=%s method=%s error=%s\n%s",
        g.support_id,
        status,
        request.endpoint,
        request.method,
        type(error).__name__,
        frames,
    )


def init_app(app: Flask) -> None:
    """Register the error handlers on `app`."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(DatabaseUnavailable, _database_unavailable)
    for kind in DATABASE_DOWN:
        app.register_error_handler(kind, _database_unavailable)
    app.register_error_handler(JobsUnavailable, _jobs_unavailable)
    app.register_error_handler(TooManyJobs, _too_many_jobs)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _http_error)
    app.register_error_handler(Exception, _unexpected)
