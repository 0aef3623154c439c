"""The portal's JSON API (`/api/v1`): personal API tokens or the session (with CSRF).

One module per resource:

    __init__.py      `GET /api/v1/me` (blueprint `api`)
    transactions.py  `GET /api/v1/transactions`: the provider's list, page by page
    transaction.py   `GET /api/v1/transactions/{id}` and its refund, capture and cancellation
    stats.py         `POST /api/v1/stats/jobs`, `GET /api/v1/stats/jobs/{id}`
    views.py         `/api/v1/views`: saved views (list, create, read, update, delete)
    openapi.py       the OpenAPI document, generated from the code, and its docs page
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from werkzeug.wrappers import Response

from sarportal.domain.roles import Role
from sarportal.web.core.access import CurrentUser, requires

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
