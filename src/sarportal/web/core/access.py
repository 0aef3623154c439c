"""Who may call which view: every view declares a rule, and requests are checked against it.

`@public` opens a view to everyone, `@requires(Role.X)` to signed-in users of role X or above.
A view without a rule is refused (deny by default), and a test walks `app.url_map` so that such a
view cannot ship. `g.user` is the signed-in user (by session or by personal API token) or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.auth.users import second_factor_required
from sarportal.domain.roles import Role
from sarportal.store.accounts import Account
from sarportal.web.core.services import portal

F = TypeVar("F", bound=Callable[..., Any])
RULE_ATTRIBUTE: Final = "_sarportal_access_rule"
EXEMPT_ENDPOINTS: Final = frozenset({"static"})


@dataclass(frozen=True)
class Rule:
    """The access rule of one view: None for public, else the least role required."""

    role: Role | None
    allow_pending_enrolment: bool = False


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in user as pages and the API see them (what base.html expects)."""

    id: int
    organisation_id: int
    organisation_name: str
    email: str
    display_name: str
    role: Role
    locale: str | None
    timezone: str
    has_second_factor: bool
    must_enrol_second_factor: bool
    via_token: bool
    has_provider_access: bool = True  # provider credentials are set (pages say so when not)


def public(view: F) -> F:
    """Open the view to everyone, signed in or not."""
    setattr(view, RULE_ATTRIBUTE, Rule(role=None))
    return view


def requires(role: Role, *, allow_pending_enrolment: bool = False) -> Callable[[F], F]:
    """Open the view to signed-in users whose role is `role` or above."""

    def decorate(view: F) -> F:
        setattr(view, RULE_ATTRIBUTE, Rule(role, allow_pending_enrolment))
        return view

    return decorate


def rule_for(app: Flask, endpoint: str) -> Rule | None:
    """The rule declared by the view behind `endpoint`, or None when it declares none."""
    view = app.view_functions.get(endpoint)
    rule = getattr(view, RULE_ATTRIBUTE, None)
    return rule if isinstance(rule, Rule) else None


def load_account(user_id: int) -> Account | None:
    """The account of the user with this id, read from the store, or None."""
    with portal().store.unit_of_work() as uow:
        return uow.users.account(user_id)


def load_user(user_id: int, *, via_token: bool) -> CurrentUser | None:
    """The enabled user with this id as a CurrentUser, or None."""
    return current_user(load_account(user_id), via_token=via_token)


def current_user(account: Account | None, *, via_token: bool) -> CurrentUser | None:
    """The account as a CurrentUser, or None when there is none or it is disabled."""
    if account is None or account.disabled:
        return None
    enrolled = account.has_second_factor
    return CurrentUser(
        id=account.user_id,
        organisation_id=account.organisation_id,
        organisation_name=account.organisation_name or "",
        email=account.email,
        display_name=account.display_name,
        role=Role.parse(account.role),
        locale=account.locale,
        timezone=account.timezone,
        has_second_factor=enrolled,
        must_enrol_second_factor=not enrolled
        and second_factor_required(account.role, account.require_totp_roles),
        via_token=via_token,
        has_provider_access=account.provider_client_id is not None
        and account.provider_secret_encrypted is not None,
    )


def wants_json() -> bool:
    """Whether this request is for the JSON API (problem+json errors, no redirects).

    The API's documentation page is for people, so it signs them in like any other page."""
    return request.path.startswith("/api/") and request.path != "/api/docs"


def identify() -> None:
    """Set `g.user` from a bearer token or the session (before every request), and `g.account`,
    the account it was made from (with the provider credentials, still encrypted)."""
    g.user = g.account = None
    account: Account | None
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        if not request.path.startswith("/api/"):
            # Personal tokens are credentials for the JSON API only: a page or a form reached
            # with one is refused, so that a token never acts as a signed-in browser would (nor
            # makes or revokes tokens, which would let a leaked one outlive its revocation).
            g.auth_failed = True
            return
        with portal().store.unit_of_work() as uow:
            token = uow.tokens.authenticate(header[7:].strip())
            account = None if token is None else uow.users.account(token.user_id)
            uow.commit()
        _identified(account, via_token=True)
        g.auth_failed = g.user is None
        return
    user_id = getattr(session, "user_id", None)
    if user_id is not None:
        account = getattr(session, "account", None)  # read with the session
        if account is None or account.user_id != user_id:
            account = load_account(user_id)
        _identified(account, via_token=False)
        if g.user is None:
            session.end()  # type: ignore[attr-defined]


def _identified(account: Account | None, *, via_token: bool) -> None:
    g.user = current_user(account, via_token=via_token)
    g.account = account if g.user is not None else None


def enforce() -> Response | None:
    """Refuse the request unless the view's rule allows the current user (before every request)."""
    endpoint = request.endpoint
    if endpoint is None or request.routing_exception is not None or endpoint in EXEMPT_ENDPOINTS:
        return None
    rule = rule_for(current_app, endpoint)
    if rule is None:
        current_app.logger.error("view %s declares no access rule; refused", endpoint)
        abort(403)
    if g.get("auth_failed"):
        abort(401)  # an unknown, revoked or expired token is refused, on public views too
    if rule.role is None:
        return None
    user: CurrentUser | None = g.user
    if user is None:
        if wants_json():
            abort(401)
        if getattr(session, "expired", False):
            flash(_("Your session has expired. Please sign in again."), "warning")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if user.must_enrol_second_factor and not rule.allow_pending_enrolment:
        if wants_json():
            from sarportal.web.core.errors import error_response

            return error_response(
                403,
                code="second_factor_required",
                title=_("Second factor required"),
                detail=_(
                    "Your organisation requires a second factor for your role. Set it up on "
                    "your account page in the portal; until then the API refuses your requests."
                ),
            )
        flash(
            _("Your organisation requires a second factor. Please set it up to continue."),
            "warning",
        )
        return redirect(url_for("account.second_factor"))
    if not user.role.allows(rule.role):
        abort(403)
    return None
