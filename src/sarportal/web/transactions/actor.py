"""The signed-in user as the audit log names them: for the detail page, its dialog and its API."""

from __future__ import annotations

from flask import g

from sarportal.actions import Actor
from sarportal.web.core.access import CurrentUser


def actor() -> Actor:
    """The signed-in user as the audit log names them."""
    user: CurrentUser = g.user
    return Actor(user_id=user.id, organisation_id=user.organisation_id)
