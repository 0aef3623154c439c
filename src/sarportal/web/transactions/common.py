"""Small helpers the detail page, its dialog and its API share."""

from __future__ import annotations

from flask import g, request

from sarportal.actions import Actor
from sarportal.web.core.access import CurrentUser
from sarportal.web.core.stepup import needs_step_up

__all__ = ["actor", "is_htmx", "needs_step_up"]


def is_htmx() -> bool:
    """Whether htmx sent this request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def actor() -> Actor:
    """The signed-in user as the audit log names them."""
    user: CurrentUser = g.user
    return Actor(user_id=user.id, organisation_id=user.organisation_id)
