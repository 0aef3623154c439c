"""An admin manages the users of their own organisation (blueprint `admin`)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from sarportal.auth import users
from sarportal.auth.users import Actor, UnknownUser, UserError
from sarportal.domain.roles import Role
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.services import portal
from sarportal.web.core.stepup import step_up_required
from sarportal.web.people.account import revoked_tokens_sentence
from sarportal.web.ui.forms import (
    ActionForm,
    CredentialsForm,
    InviteForm,
    RoleForm,
    SecondFactorPolicyForm,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _actor() -> Actor:
    me: CurrentUser = g.user
    return Actor(user_id=me.id, organisation_id=me.organisation_id, role=me.role)


def _render_users(status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    actor = _actor()
    with portal().store.unit_of_work() as uow:
        members = uow.users.in_organisation(actor.organisation_id)
        client_ids = uow.credentials.client_ids([m.id for m in members])
        organisation = uow.organisations.get(actor.organisation_id)
        required = set((organisation.require_totp_roles if organisation else "").split(","))
        rows = [
            {
                "id": m.id,
                "email": m.email,
                "display_name": m.display_name,
                "role": m.role,
                "disabled": m.disabled,
                "has_second_factor": m.totp_secret_encrypted is not None,
                "client_id": client_ids.get(str(m.id)),
                "last_auth_at": m.last_auth_at,
                "is_me": m.id == actor.user_id,
            }
            for m in members
        ]
        invitations = [
            {"email": i.email, "role": i.role, "expires_at": i.expires_at}
            for i in uow.invitations.pending(actor.organisation_id)
        ]
    policy = SecondFactorPolicyForm(formdata=None, data={r: r in required for r in Role})
    page = render_template(
        "admin/users.html",
        users=rows,
        invitations=invitations,
        invite_form=forms.get("invite_form") or InviteForm(formdata=None),
        role_form=RoleForm(formdata=None),
        credentials_form=CredentialsForm(formdata=None),
        action_form=ActionForm(formdata=None),
        policy_form=policy,
    )
    return page, status


@bp.get("/users", endpoint="users")
@requires(Role.ADMIN)
def users_page() -> tuple[str, int]:
    """The organisation's users and pending invitations."""
    return _render_users()


@bp.post("/users/invite")
@requires(Role.ADMIN)
@step_up_required
def invite() -> Response | tuple[str, int] | str:
    """Create a one-time invitation link and show it once."""
    form = InviteForm()
    if not form.validate():
        return _render_users(400, invite_form=form)
    try:
        token = users.invite(
            portal().store,
            _actor(),
            form.email.data or "",
            Role.parse(form.role.data),
            form.provider_credentials(),
        )
    except UserError as exc:
        form.email.errors = [_(str(exc))]
        return _render_users(400, invite_form=form)
    link = public_link(url_for("auth.accept", token=token))
    hours = int(portal().settings.invitation_lifetime.total_seconds() // 3600)
    return render_template("admin/invited.html", link=link, email=form.email.data, hours=hours)


def public_link(path: str) -> str:
    """The absolute link to `path` as users reach the portal: under `SARPORTAL_PUBLIC_URL`,
    never under the Host header of the request (which anyone can set). Without it (outside
    production) the link names the address this request came to."""
    public = portal().settings.public_url
    if public is None:
        return request.host_url.rstrip("/") + path
    return public + path.removeprefix(request.script_root)  # the public URL names the mount


def _change(
    form: FlaskForm, apply: Callable[[], int | None], done: str
) -> Response | tuple[str, int]:
    """Apply a change once the form is valid, and tell the admin `done` and how many API tokens
    the change revoked (what `apply` returns, for the changes that revoke any)."""
    if not form.validate():
        flash(_("The form was incomplete. Nothing was changed."), "danger")
        return _render_users(400)
    try:
        revoked = apply()
    except (UserError, ValueError) as exc:
        flash(_(str(exc)), "danger")
        return _render_users(404 if isinstance(exc, UnknownUser) else 400)
    flash(done + revoked_tokens_sentence(revoked or 0), "success")
    return redirect(url_for("admin.users"), code=303)


@bp.post("/users/<int:user_id>/role")
@requires(Role.ADMIN)
@step_up_required
def change_role(user_id: int) -> Response | tuple[str, int]:
    """Give a user another role."""
    form = RoleForm()
    return _change(
        form,
        lambda: users.change_role(portal().store, _actor(), user_id, Role.parse(form.role.data)),
        _("The role has been changed."),
    )


@bp.post("/users/<int:user_id>/credentials")
@requires(Role.ADMIN)
@step_up_required
def set_credentials(user_id: int) -> Response | tuple[str, int]:
    """Set or replace a user's provider credentials (the secret is write-only)."""
    form = CredentialsForm()
    return _change(
        form,
        lambda: users.set_provider_credentials(
            portal().store,
            _actor(),
            user_id,
            form.client_id.data or "",
            form.client_secret.data or "",
        ),
        _("The provider credentials have been saved."),
    )


@bp.post("/users/<int:user_id>/disable")
@requires(Role.ADMIN)
@step_up_required
def disable(user_id: int) -> Response | tuple[str, int]:
    """Disable a user: their sessions end and their API tokens are revoked."""
    return _change(
        ActionForm(),
        lambda: users.set_disabled(portal().store, _actor(), user_id, True),
        _("The user has been disabled; their sessions have ended."),
    )


@bp.post("/users/<int:user_id>/enable")
@requires(Role.ADMIN)
@step_up_required
def enable(user_id: int) -> Response | tuple[str, int]:
    """Enable a disabled user again (the tokens revoked on disabling stay revoked)."""
    return _change(
        ActionForm(),
        lambda: users.set_disabled(portal().store, _actor(), user_id, False),
        _("The user has been enabled. API tokens revoked when they were disabled stay revoked."),
    )


@bp.post("/users/<int:user_id>/reset-second-factor")
@requires(Role.ADMIN)
@step_up_required
def reset_second_factor(user_id: int) -> Response | tuple[str, int]:
    """Remove a user's second factor so they can set it up again."""
    return _change(
        ActionForm(),
        lambda: users.reset_second_factor(portal().store, _actor(), user_id),
        _("The second factor has been reset."),
    )


@bp.post("/second-factor-policy")
@requires(Role.ADMIN)
@step_up_required
def second_factor_policy() -> Response | tuple[str, int]:
    """Choose which roles must use a second factor."""
    form = SecondFactorPolicyForm()
    return _change(
        form,
        lambda: users.set_required_second_factor(
            portal().store, _actor(), {role for role in Role if form[role.value].data}
        ),
        _("The second-factor rule has been saved."),
    )
