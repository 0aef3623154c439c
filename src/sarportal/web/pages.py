"""Signed-in pages that show the merchant's business (blueprint `pages`)."""

from __future__ import annotations

from flask import Blueprint, render_template

from sarportal.domain.roles import Role
from sarportal.web.access import requires

bp = Blueprint("pages", __name__)


@bp.get("/")
@requires(Role.VIEWER)
def index() -> str:
    """The welcome page; the dashboard's charts fill it in a later release."""
    return render_template("pages/index.html")
