"""Small helpers the detail page, its dialog and its API share."""

from __future__ import annotations

from flask import g, request

from sarportal.actions import Actor
from sarportal.web.access import CurrentUser
from sarportal.web.services import portal


def is_htmx() -> bool:
    """Whether htmx sent this request (it wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def actor() -> Actor:
    """The signed-in user as the audit log names them."""
    user: CurrentUser = g.user
    return Actor(user_id=user.id, organisation_id=user.organisation_id)


def needs_step_up() -> bool:
    """Whether the signed-in user last proved who they are too long ago for an action."""
    services = portal()
    last = services.authenticator.last_authenticated(g.user.id)
    return last is None or services.settings.clock() - last > services.settings.step_up_after
