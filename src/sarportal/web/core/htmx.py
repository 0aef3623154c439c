"""What htmx asked for, and the answer headers a page with transaction data needs.

A page that htmx can ask for in part (the table's view region, the counter's results) answers
with the fragment only when htmx targets that region, and never from a cache: it holds the
merchant's transactions (`no_store`, which also varies on `HX-Request`, so a fragment and a
page are never mixed up).
"""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response


def is_htmx() -> bool:
    """Whether htmx sent this request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def wants_region(target: str) -> bool:
    """Whether htmx asked for the region `target` only (a history restore wants the page)."""
    return (
        is_htmx()
        and request.headers.get("HX-Target") == target
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def no_store(response: Response) -> Response:
    """`response`, never kept by a browser or a proxy, and varying on `HX-Request`."""
    response.headers["Cache-Control"] = "no-store"
    response.vary.add("HX-Request")
    return response
