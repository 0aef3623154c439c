"""`/api/v1/views`: saved views over the API (list, create, read, update, delete).

A view is a page's query under a name (`domain.saved_views`): `query` is the page's query
string as its own links have it (`status=captured&period=30d&order=amount_desc`). The portal
rebuilds it from the parsed filters before it keeps it, so unknown keys and paging are dropped,
and answers 400 naming the filter for values the page would refuse. The same rules as in the
browser: the owner changes a view; an admin may rename or delete a shared one; a private view,
or another organisation's, does not exist for anybody else (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from flask import Blueprint, Response, url_for
from werkzeug.wrappers import Response as AnyResponse

from sarportal.domain.filters import FilterError
from sarportal.domain.roles import Role
from sarportal.domain.saved_views import SavedView, ViewError, ViewPage
from sarportal.web.api.openapi import (
    InvalidParameter,
    Problem,
    SpecResponse,
    decode_json,
    problem,
    spec,
)
from sarportal.web.core import problems
from sarportal.web.core.access import requires
from sarportal.web.saved_views.menu import book, viewer
from sarportal.web.saved_views.queries import canonical_text, page_url

bp = Blueprint("api_views", __name__, url_prefix="/api/v1/views")

Page = Literal["transactions", "dashboard", "counter"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Query = Annotated[str, msgspec.Meta(max_length=4000)]
RoleName = Literal["viewer", "operator", "admin"]


class ViewCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new view: its `name` (1–80 characters once trimmed, no e-mail address), the `page` it
    opens and that page's `query`; `shared` makes it the organisation's."""

    name: Name
    page: Page
    query: Query = ""
    shared: bool = False


class ViewUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What to change; a field left out stays. `query` and `shared` are the owner's to change."""

    name: Name | None = None
    query: Query | None = None
    shared: bool | None = None


class ViewListQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    page: Page | None = None


class Owner(msgspec.Struct):
    id: int
    name: str


class View(msgspec.Struct, kw_only=True):
    """A saved view. `url` opens its page with its query; `link` is the shareable link, which
    follows later changes; `default_for` names the roles the page opens with it."""

    id: str
    name: str
    page: Page
    query: str
    shared: bool
    mine: bool
    owner: Owner
    default_for: list[RoleName]
    url: str
    link: str
    created_at: datetime
    updated_at: datetime


class ViewList(msgspec.Struct):
    """The caller's views and the organisation's shared ones, by name."""

    data: list[View]


def _view(view: SavedView) -> View:
    return View(
        id=view.key,
        name=view.name,
        page=view.page.value,
        query=view.query,
        shared=view.shared,
        mine=view.owner_id == viewer().id,
        owner=Owner(view.owner_id, view.owner_name),
        default_for=[role.value for role in view.default_for],
        url=page_url(view),
        link=url_for("saved_views.open_view", key=view.key, _external=True),
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


def _refused(error: ViewError) -> AnyResponse:
    found = problems.problem(error.code, "view_query_invalid")
    return problem(found.status, code=error.code, detail=found.detail(), param=error.field)


def _canonical(page: ViewPage, query: str) -> str:
    try:
        return canonical_text(page, query)
    except FilterError as error:
        first = error.errors[0]
        detail = f"The filter `{first.field}` in `query` is invalid ({first.code})."
        raise InvalidParameter("query", detail) from None


def _json(body: View, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(body), status, headers, mimetype="application/json")


@bp.get("")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=ViewList), tags=["views"])
def list_views(query: ViewListQuery) -> ViewList:
    """List saved views: the caller's own and the organisation's shared ones (`page`: of one)."""
    page = ViewPage(query.page) if query.page else None
    return ViewList([_view(view) for view in book().visible(viewer(), page)])


@bp.post("")
@requires(Role.VIEWER)
@spec.validate(
    json=ViewCreate,
    resp=SpecResponse(HTTP_201=View, HTTP_400=Problem, HTTP_409=Problem),
    tags=["views"],
    skip_validation=True,  # `decode_json` validates, naming the field
)
def create_view() -> AnyResponse:
    """Save a view. 409 `view_name_taken` when the caller has a view of that name on the page."""
    body = decode_json(ViewCreate)
    page = ViewPage(body.page)
    query = _canonical(page, body.query)
    try:
        view = book().create(viewer(), page, body.name, query, shared=body.shared)
    except ViewError as error:
        return _refused(error)
    location = url_for("api_views.get_view", key=view.key)
    return _json(_view(view), 201, {"Location": location})


@bp.get("/<key>")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse(HTTP_200=View, HTTP_404=Problem), tags=["views"])
def get_view(key: str) -> AnyResponse:
    """Get a saved view."""
    try:
        return _json(_view(book().get(viewer(), key)))
    except ViewError as error:
        return _refused(error)


@bp.patch("/<key>")
@requires(Role.VIEWER)
@spec.validate(
    json=ViewUpdate,
    resp=SpecResponse(
        HTTP_200=View, HTTP_400=Problem, HTTP_403=Problem, HTTP_404=Problem, HTTP_409=Problem
    ),
    tags=["views"],
    skip_validation=True,
)
def update_view(key: str) -> AnyResponse:
    """Rename a view, change its query or its sharing (stopping to share it drops it as a
    default)."""
    body = decode_json(ViewUpdate)
    try:
        current = book().get(viewer(), key)
        query = None if body.query is None else _canonical(current.page, body.query)
        view = book().update(viewer(), key, name=body.name, query=query, shared=body.shared)
    except ViewError as error:
        return _refused(error)
    return _json(_view(view))


@bp.delete("/<key>")
@requires(Role.VIEWER)
@spec.validate(resp=SpecResponse("HTTP_204", HTTP_403=Problem, HTTP_404=Problem), tags=["views"])
def delete_view(key: str) -> AnyResponse:
    """Delete a view (and the defaults that point at it)."""
    try:
        book().delete(viewer(), key)
    except ViewError as error:
        return _refused(error)
    return Response(status=204)
