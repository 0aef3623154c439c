"""Sign-in, second factor, sign-out and accepting an invitation (blueprint `auth`)."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.auth.passwords import PasswordPolicyError
from sarportal.auth.signin import Outcome, SignInResult
from sarportal.auth.users import UserError, accept_invitation
from sarportal.web.core.access import public
from sarportal.web.core.services import portal
from sarportal.web.core.sessions import server_session
from sarportal.web.ui.forms import NewPasswordForm, SecondFactorForm, SignInForm
from sarportal.web.ui.locale import safe_next

bp = Blueprint("auth", __name__)

PENDING = "pending_second_factor"
PENDING_SECONDS = 300


def _client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | tuple[str, int] | str:
    """Ask for e-mail and password."""
    target = safe_next(request.values.get("next"))
    if g.user is not None:
        return redirect(target or url_for("pages.index"))
    form = SignInForm()
    if request.method == "GET":
        if request.args.get("signed_out"):
            flash(_("You have been signed out."), "success")
        return render_template("auth/login.html", form=form, next=target)
    if not form.validate():
        return render_template("auth/login.html", form=form, next=target), 400
    result = portal().authenticator.check_password(
        form.email.data or "", form.password.data or "", _client_ip()
    )
    if result.outcome is Outcome.NEEDS_SECOND_FACTOR and result.user_id is not None:
        store = portal().store
        session[PENDING] = {
            "user_id": result.user_id,
            "since": store.clock().timestamp(),
            "next": target,
        }
        return redirect(url_for("auth.second_factor"), code=303)
    return _finish(result, target, "auth/login.html", form)


@bp.route("/login/second-factor", methods=["GET", "POST"])
@public
def second_factor() -> Response | tuple[str, int] | str:
    """Ask for the code of the authenticator app (or a recovery code)."""
    pending = session.get(PENDING)
    now = portal().store.clock().timestamp()
    if not isinstance(pending, dict) or now - float(pending.get("since", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        flash(_("Please sign in again."), "warning")
        return redirect(url_for("auth.login"), code=303)
    form = SecondFactorForm()
    if request.method == "GET":
        return render_template("auth/second_factor.html", form=form)
    if not form.validate():
        return render_template("auth/second_factor.html", form=form), 400
    result = portal().authenticator.check_second_factor(
        int(pending["user_id"]), form.code.data or "", _client_ip()
    )
    return _finish(result, safe_next(pending.get("next")), "auth/second_factor.html", form)


def _finish(result: SignInResult, target: str | None, template: str, form: Any) -> Response:
    if result.outcome is Outcome.SIGNED_IN and result.user_id is not None:
        server_session().sign_in(result.user_id, portal().settings.clock())
        return redirect(target or url_for("pages.index"), code=303)
    headers: dict[str, str] = {}
    if result.outcome is Outcome.LOCKED:
        minutes = math.ceil(
            (result.retry_after.total_seconds() if result.retry_after else 1800) / 60
        )
        error = _(
            "Too many failed attempts. Sign-in to this account is paused for %(minutes)s minutes.",
            minutes=minutes,
        )
        status = 429
        headers["Retry-After"] = str(minutes * 60)
    elif result.outcome is Outcome.IP_BLOCKED:
        error = _("Too many failed attempts from your network. Please try again later.")
        status = 429
    elif template == "auth/second_factor.html":
        error = _("The code is not correct or has been used already.")
        status = 401
    else:
        error = _("The e-mail address or the password is wrong.")
        status = 401
    page = render_template(template, form=form, next=target, error=error)
    response = Response(page, status=status, mimetype="text/html")
    response.headers.update(headers)
    return response


@bp.post("/logout")
@public
def logout() -> Response:
    """End the session on the server and in the browser."""
    if g.user is not None:
        store = portal().store
        with store.unit_of_work() as uow:
            uow.audit.record(
                "auth.sign_out",
                actor_user_id=g.user.id,
                organisation_id=g.user.organisation_id,
                target_type="user",
                target_id=g.user.id,
            )
            uow.commit()
    server_session().end()
    return redirect(url_for("auth.login", signed_out=1), code=303)


@bp.route("/invite/<token>", methods=["GET", "POST"])
@public
def accept(token: str) -> Response | tuple[str, int] | str:
    """Let an invited person choose a password, which creates their account."""
    with portal().store.unit_of_work() as uow:
        invitation = uow.invitations.open_by_token(token) if len(token) <= 128 else None
        email = invitation.email if invitation else None
    if email is None:
        abort(404)
    form = NewPasswordForm()
    if request.method == "GET":
        return render_template("auth/invite.html", form=form, email=email)
    if not form.validate():
        return render_template("auth/invite.html", form=form, email=email), 400
    try:
        accept_invitation(portal().store, portal().passwords, token, form.password.data or "")
    except (PasswordPolicyError, UserError) as exc:
        error = _(str(exc))
        return render_template("auth/invite.html", form=form, email=email, error=error), 400
    flash(_("Your account is ready. Please sign in."), "success")
    return redirect(url_for("auth.login"), code=303)
