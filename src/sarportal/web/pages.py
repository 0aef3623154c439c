"""Signed-in pages that show the merchant's business (blueprint `pages`)."""

from __future__ import annotations

from flask import Blueprint
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.web.access import requires
from sarportal.web.dashboard import render_dashboard

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires(Role.VIEWER)
def index() -> Response:
    """The dashboard: key figures and charts of the merchant's transactions."""
    return render_dashboard()
