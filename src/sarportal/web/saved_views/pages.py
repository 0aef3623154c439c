"""Saved views in the browser (blueprint `saved_views`).

- `POST /views` saves the query of the page it comes from; success returns to the page showing
  the view, bad input shows the form again (`/views/new`) with the name kept and what to fix.
- `GET /views` lists the user's views and the organisation's shared ones: open, copy the link,
  rename, share or stop sharing, delete; admins set each page's default view per role there.
- `GET /views/<key>` is the shareable link: it opens the view's page for whoever may see the
  view (the owner, or anybody of the organisation when it is shared), else 404.
- `GET /views/<key>/count` is the count of matching transactions for the views menu.
- A page opened without any query (the navigation's link) opens with the organisation's
  default view for the user's role, where an admin set one; `?view=all` shows everything.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.domain.filters import FilterError
from sarportal.domain.roles import Role
from sarportal.domain.saved_views import SavedView, ViewError, ViewPage
from sarportal.provider.errors import ProviderError
from sarportal.web.core.access import requires
from sarportal.web.core.errors import error_response
from sarportal.web.core.htmx import is_htmx, no_store
from sarportal.web.core.problems import problem
from sarportal.web.core.provider_access import NoProviderCredentials, provider_session
from sarportal.web.core.services import portal
from sarportal.web.saved_views.menu import book, viewer, views_menu
from sarportal.web.saved_views.queries import (
    PAGE_OF_ENDPOINT,
    canonical_text,
    filters_of,
    page_url,
)
from sarportal.web.saved_views.summary import summary
from sarportal.web.ui.formats import format_number
from sarportal.web.ui.locale import current_locale, select_timezone

bp = Blueprint("saved_views", __name__, url_prefix="/views")

ROLES: Final = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)


@bp.app_context_processor
def _menu() -> dict[str, object]:
    return {"views_menu": views_menu, "page_names": page_names}


def page_names() -> dict[str, str]:
    """Each page's name, as the views' lists show it."""
    return {
        ViewPage.TRANSACTIONS.value: _("Transactions"),
        ViewPage.DASHBOARD.value: _("Dashboard"),
        ViewPage.COUNTER.value: _("Counter"),
    }


def role_names() -> dict[str, str]:
    return {
        Role.VIEWER.value: _("Viewers"),
        Role.OPERATOR.value: _("Operators"),
        Role.ADMIN.value: _("Administrators"),
    }


def message(error: ViewError) -> str:
    """The sentence for a refused view in the request's language."""
    return problem(error.code, "view_query_invalid").detail()


@bp.before_app_request
def open_default_view() -> Response | None:
    """A page opened bare (from the navigation) opens with the default view of the user's role."""
    page = PAGE_OF_ENDPOINT.get(request.endpoint or "")
    user = g.get("user")
    if page is None or request.method != "GET" or request.query_string or is_htmx():
        return None
    if user is None or user.via_token or user.must_enrol_second_factor:
        return None
    view = book().default_for(viewer(), page)
    return None if view is None else redirect(page_url(view), 303)


# -- saving ----------------------------------------------------------------------------------


@bp.post("")
@requires(Role.VIEWER)
def create() -> Response:
    """Save the query of the page the form was on as a view."""
    form = _save_form()
    try:
        page = ViewPage(form["page"])
    except ValueError:
        return _save_page(form, _("Please choose the page the view is for."), 400)
    try:
        query = canonical_text(page, form["query"], current_locale())
        view = book().create(viewer(), page, form["name"], query, shared=form["shared"])
    except FilterError:
        return _save_page(form, problem("view_query_invalid").detail(), 400)
    except ViewError as error:
        return _save_page(form, message(error), problem(error.code).status)
    flash(_("The view “%(name)s” is saved.", name=view.name), "success")
    return redirect(page_url(view), 303)


@bp.get("/new")
@requires(Role.VIEWER)
def new() -> Response:
    """The form to save a view, for a page and its query (the menu's form without JavaScript)."""
    form = _save_form(request.args)
    return _save_page(form, None, 200)


def _save_form(source: Any = None) -> dict[str, Any]:
    values = source if source is not None else request.form
    return {
        "page": str(values.get("page", ""))[:16],
        "query": str(values.get("query", ""))[:4000],
        "name": str(values.get("name", ""))[:200],
        "shared": values.get("shared") in ("1", "on", "true"),
    }


def _save_page(form: dict[str, Any], error: str | None, status: int) -> Response:
    html = render_template("saved_views/new.html", form=form, error=error)
    return no_store(Response(html, status=status, mimetype="text/html"))


# -- the list ------------------------------------------------------------------------------


@bp.get("")
@requires(Role.VIEWER)
def index() -> Response:
    """The user's views and the organisation's shared ones."""
    return _index_page({}, {}, 200)


def _index_page(errors: dict[str, str], typed: dict[str, str], status: int) -> Response:
    who = viewer()
    views = book().visible(who)
    own = [view for view in views if view.owner_id == who.id]
    shared = [view for view in views if view.owner_id != who.id]
    html = render_template(
        "saved_views/index.html",
        own=own,
        shared=shared,
        defaults=_defaults(views) if who.role is Role.ADMIN else None,
        roles=[role.value for role in ROLES],
        role_names=role_names(),
        errors=errors,
        typed=typed,
        page_url=page_url,
        summary=summary,
        share_url=lambda view: url_for("saved_views.open_view", key=view.key, _external=True),
        can_change=lambda view: view.owner_id == who.id or (view.shared and who.role is Role.ADMIN),
    )
    return no_store(Response(html, status=status, mimetype="text/html"))


def _defaults(views: list[SavedView]) -> list[dict[str, Any]]:
    """For each page: its shared views and the one each role opens it with."""
    rows = []
    for page in ViewPage:
        choices = [view for view in views if view.page is page and view.shared]
        chosen = {
            role.value: next((view.key for view in choices if role in view.default_for), "")
            for role in ROLES
        }
        rows.append({"page": page.value, "choices": choices, "chosen": chosen})
    return rows


@bp.post("/<key>/rename")
@requires(Role.VIEWER)
def rename(key: str) -> Response:
    typed = request.form.get("name", "")[:200]
    try:
        view = book().update(viewer(), key, name=typed)
    except ViewError as error:
        return _refused(key, error, typed)
    flash(_("The view is now called “%(name)s”.", name=view.name), "success")
    return redirect(url_for("saved_views.index"), 303)


@bp.post("/<key>/share")
@requires(Role.VIEWER)
def share(key: str) -> Response:
    shared = request.form.get("shared") == "1"
    try:
        view = book().update(viewer(), key, shared=shared)
    except ViewError as error:
        return _refused(key, error)
    if view.shared:
        flash(_("“%(name)s” is shared with your organisation.", name=view.name), "success")
    else:
        flash(_("“%(name)s” is private again.", name=view.name), "success")
    return redirect(url_for("saved_views.index"), 303)


@bp.post("/<key>/delete")
@requires(Role.VIEWER)
def delete(key: str) -> Response:
    try:
        view = book().get(viewer(), key)
        book().delete(viewer(), key)
    except ViewError as error:
        return _refused(key, error)
    flash(_("The view “%(name)s” is deleted.", name=view.name), "success")
    return redirect(url_for("saved_views.index"), 303)


@bp.post("/defaults")
@requires(Role.ADMIN)
def set_defaults() -> Response:
    """Set one page's default view for each role (an empty choice: no default)."""
    try:
        page = ViewPage(request.form.get("page", ""))
    except ValueError:
        return _index_page({"defaults": _("Please choose a page.")}, {}, 400)
    try:
        for role in ROLES:
            key = request.form.get(f"default_{role.value}", "")
            book().set_default(viewer(), page, role, key or None)
    except ViewError as error:
        return _index_page({"defaults": message(error)}, {}, problem(error.code).status)
    flash(_("The default views of “%(page)s” are saved.", page=page_names()[page.value]), "success")
    return redirect(url_for("saved_views.index"), 303)


def _refused(key: str, error: ViewError, typed: str | None = None) -> Response:
    if error.code in ("view_not_found", "view_forbidden"):
        found = problem(error.code)
        return error_response(
            found.status, code=error.code, title=str(found.title), detail=found.detail()
        )
    return _index_page(
        {key: message(error)}, {key: typed} if typed is not None else {}, problem(error.code).status
    )


# -- opening and counting ----------------------------------------------------------------------


@bp.get("/<key>")
@requires(Role.VIEWER)
def open_view(key: str) -> Response:
    """The shareable link: the view's page, with its current query."""
    try:
        view = book().get(viewer(), key)
    except ViewError as error:
        found = problem(error.code)
        return error_response(
            found.status, code=error.code, title=str(found.title), detail=found.detail()
        )
    return redirect(page_url(view), 303)


@bp.get("/<key>/count")
@requires(Role.VIEWER)
def count(key: str) -> Response:
    """How many transactions the view matches now (the menu's badge); empty when unknown."""
    try:
        view = book().get(viewer(), key)
    except ViewError:
        return no_store(Response("", status=404, mimetype="text/html"))
    filters = filters_of(view)
    text = ""
    if filters.matches_nothing:
        text = format_number(0, current_locale())
    else:
        now = portal().settings.clock().astimezone(UTC)
        params = filters.provider_params(now, ZoneInfo(select_timezone()))
        params |= {"limit": 1, "include_total": "true"}
        try:
            total = provider_session().list_transactions(params).total_count
        except (ProviderError, NoProviderCredentials):
            total = None
        text = "" if total is None else format_number(total, current_locale())
    return no_store(Response(text, mimetype="text/html"))
