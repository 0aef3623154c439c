"""The portal's JSON API (`/api/v1`): personal API tokens or the session (with CSRF)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.web.access import CurrentUser, requires

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/me")
@requires(Role.VIEWER)
def me() -> Response:
    """Who the credentials belong to."""
    user: CurrentUser = g.user
    return jsonify(
        id=user.id,
        email=user.email,
        role=user.role.value,
        organisation={"id": user.organisation_id, "name": user.organisation_name},
        authenticated_by="token" if user.via_token else "session",
    )
