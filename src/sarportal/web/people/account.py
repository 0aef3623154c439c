"""The signed-in user's own account: sessions, password, second factor, personal API tokens
(blueprint `account`)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from sarportal.auth import totp
from sarportal.auth.passwords import PasswordPolicyError, check_policy
from sarportal.auth.signin import Outcome
from sarportal.auth.tokens import UnknownToken, create_token, revoke_token, token_state
from sarportal.auth.users import UserError, change_password, enrol_totp
from sarportal.domain.roles import Role
from sarportal.store.crypto import SecretDecryptionError
from sarportal.web.core.access import CurrentUser, requires
from sarportal.web.core.services import portal
from sarportal.web.core.sessions import server_session
from sarportal.web.core.stepup import step_up_required
from sarportal.web.ui.forms import (
    EXPIRY_VALUES,
    ActionForm,
    ApiTokenForm,
    ChangePasswordForm,
    EnrolSecondFactorForm,
    LanguageForm,
    TimeZoneForm,
)
from sarportal.web.ui.locale import (
    LANGUAGE_NAMES,
    known_locale,
    remember_locale,
    requested_locale,
    select_timezone,
)

bp = Blueprint("account", __name__, url_prefix="/account")

ENROL_SECRET = "second_factor_enrolment"  # noqa: S105 (a session key name)


def _me() -> CurrentUser:
    user: CurrentUser = g.user
    return user


def _render_index(
    form: ChangePasswordForm | None = None,
    status: int = 200,
    timezone_form: TimeZoneForm | None = None,
    language_form: LanguageForm | None = None,
) -> tuple[str, int]:
    me = _me()
    current = getattr(session, "id_hash", None)
    with portal().store.unit_of_work() as uow:
        sessions = [
            {
                "key": row.id_hash[:16],
                "current": row.id_hash == current,
                "created_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "user_agent": row.user_agent,
                "ip_prefix": row.ip_prefix,
            }
            for row in uow.sessions.for_user(me.id)
        ]
    page = render_template(
        "account/index.html",
        me=me,
        sessions=sessions,
        password_form=form or ChangePasswordForm(formdata=None),
        action_form=ActionForm(formdata=None),
        timezone_form=timezone_form or TimeZoneForm(formdata=None, timezone=select_timezone()),
        language_form=language_form
        or LanguageForm(formdata=None, language=known_locale(me.locale) or ""),
    )
    return page, status


@bp.get("")
@requires(Role.VIEWER, allow_pending_enrolment=True)
def index() -> tuple[str, int]:
    """The account page: profile, sessions, password, second factor."""
    return _render_index()


@bp.post("/time-zone")
@requires(Role.VIEWER, allow_pending_enrolment=True)
def time_zone() -> Response | tuple[str, int]:
    """Set the time zone in which the user's pages count days and show times."""
    form = TimeZoneForm()
    if not form.validate():
        form.timezone.errors = [_("Please choose a time zone from the list.")]
        return _render_index(status=400, timezone_form=form)
    chosen = form.timezone.data or ""
    with portal().store.unit_of_work() as uow:
        user = uow.users.get(_me().id)
        if user is not None:
            user.timezone = chosen
            uow.commit()
    flash(_("Times, days and periods now follow %(zone)s.", zone=chosen), "success")
    return redirect(url_for("account.index"), code=303)


@bp.post("/language")
@requires(Role.VIEWER, allow_pending_enrolment=True)
def language() -> Response | tuple[str, int]:
    """Set the language and regional formats, or follow the browser's."""
    form = LanguageForm()
    if not form.validate():
        form.language.errors = [_("Please choose a language from the list.")]
        return _render_index(status=400, language_form=form)
    chosen = known_locale(form.language.data)
    response = redirect(url_for("account.index"), code=303)
    remember_locale(response, chosen)
    with force_locale(chosen or requested_locale()):
        name = LANGUAGE_NAMES[chosen or requested_locale()]
        message = (
            _("The portal now writes %(language)s.", language=name)
            if chosen
            else _("The portal now follows your browser: %(language)s.", language=name)
        )
    flash(message, "success")
    return response


@bp.post("/sessions/<key>/end")
@requires(Role.VIEWER, allow_pending_enrolment=True)
def end_session(key: str) -> Response:
    """End one of the user's sessions (by the short key shown on the page)."""
    me = _me()
    with portal().store.unit_of_work() as uow:
        for row in uow.sessions.for_user(me.id):
            if row.id_hash[:16] == key:
                uow.sessions.delete(row.id_hash)
                uow.audit.record_own("account.session_ended", me)
                uow.commit()
                if row.id_hash == getattr(session, "id_hash", None):
                    session.end()  # type: ignore[attr-defined]
                    return redirect(url_for("auth.login"), code=303)
                flash(_("The session has been ended."), "success")
                return redirect(url_for("account.index"), code=303)
    abort(404)


@bp.post("/password")
@requires(Role.VIEWER, allow_pending_enrolment=True)
def password() -> Response | tuple[str, int]:
    """Change the password; every other session of the user ends, every API token is revoked.

    The current password is checked like a sign-in: wrong ones count towards the lock and are
    audited."""
    form = ChangePasswordForm()
    if not form.validate():
        return _render_index(form, 400)
    services = portal()
    me = _me()
    try:
        check_policy(form.password.data or "", me.email)
    except PasswordPolicyError as exc:
        form.password.errors = [_(str(exc))]
        return _render_index(form, 400)
    checked = services.authenticator.confirm_password(
        me.id, form.current.data or "", request.remote_addr or ""
    )
    if checked.outcome is not Outcome.SIGNED_IN:
        locked = checked.outcome in (Outcome.LOCKED, Outcome.IP_BLOCKED)
        form.current.errors = [
            _("Too many wrong attempts. Please wait a while before you try again.")
            if locked
            else _("Your current password is not correct.")
        ]
        return _render_index(form, 429 if locked else 400)
    ended = change_password(
        services.store,
        services.passwords,
        me.id,
        form.password.data or "",
        keep_session=getattr(session, "id_hash", None),
    )
    server_session().confirm(services.settings.clock())
    message = _(
        "Your password has been changed. %(n)s other sessions were ended.", n=ended.sessions
    )
    flash(message + revoked_tokens_sentence(ended.tokens), "success")
    return redirect(url_for("account.index"), code=303)


@bp.route("/second-factor", methods=["GET", "POST"])
@requires(Role.VIEWER, allow_pending_enrolment=True)
@step_up_required
def second_factor() -> Response | tuple[str, int] | str:
    """Set up the authenticator app: QR code, a first code, then recovery codes shown once."""
    me = _me()
    if me.has_second_factor:
        flash(_("Your second factor is set up already."), "info")
        return redirect(url_for("account.index"), code=303)
    secret = _enrolment_secret()
    if secret is None or request.method == "GET":
        secret = totp.new_secret()
        # The session's data is kept server-side: the secret goes there encrypted, like the
        # enrolled ones, and is dropped once enrolment succeeds.
        session[ENROL_SECRET] = portal().store.box.encrypt(secret)
    form = EnrolSecondFactorForm()
    status = 200
    error = None
    if request.method == "POST":
        if form.validate():
            try:
                codes = enrol_totp(portal().store, me.id, secret, form.code.data or "")
            except UserError as exc:
                error, status = _(str(exc)), 400
            else:
                session.pop(ENROL_SECRET, None)
                return render_template("account/recovery_codes.html", codes=codes)
        else:
            status = 400
    uri = totp.provisioning_uri(secret, me.email)
    page = render_template(
        "account/second_factor.html",
        form=form,
        qr=totp.qr_data_uri(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        error=error,
    )
    return page, status


def _render_tokens(form: ApiTokenForm | None = None, status: int = 200) -> tuple[str, int]:
    me = _me()
    now = portal().store.clock()
    with portal().store.unit_of_work() as uow:
        rows = [
            {
                "id": row.id,
                "name": row.name,
                "prefix": row.prefix,
                "created_at": row.created_at,
                "expires_at": row.expires_at,
                "last_used_at": row.last_used_at,
                "state": token_state(row, now),
            }
            for row in uow.tokens.for_user(me.id)
        ]
    page = render_template(
        "account/tokens.html",
        tokens=rows,
        form=form or ApiTokenForm(formdata=None),
        action_form=ActionForm(formdata=None),
    )
    return page, status


@bp.get("/tokens")
@requires(Role.VIEWER)
def tokens() -> tuple[str, int]:
    """The user's personal API tokens for the JSON API, and a form to make one."""
    return _render_tokens()


@bp.post("/tokens")
@requires(Role.VIEWER)
@step_up_required
def create_api_token() -> Response | tuple[str, int]:
    """Make a token and show it this once; it is never put into a URL, the session or a log."""
    form = ApiTokenForm()
    if not form.validate():
        return _render_tokens(form, 400)
    token = create_token(
        portal().store,
        _me().id,
        name=form.name.data,
        expires_days=EXPIRY_VALUES[form.expires.data or ""],
        actor_user_id=_me().id,
    )
    response = make_response(render_template("account/token_created.html", token=token))
    response.headers["Cache-Control"] = "no-store"  # the page holds a secret: never cached
    return response


@bp.post("/tokens/<int:token_id>/revoke")
@requires(Role.VIEWER)
def revoke_api_token(token_id: int) -> Response:
    """Revoke one of the user's own tokens (another user's is not found); refused at once."""
    me = _me()
    try:
        revoked = revoke_token(portal().store, me.id, token_id, actor_user_id=me.id)
    except UnknownToken:
        abort(404)
    if revoked:
        flash(_("The token has been revoked. It no longer works."), "success")
    else:
        flash(_("This token was revoked already."), "info")
    return redirect(url_for("account.tokens"), code=303)


def _enrolment_secret() -> str | None:
    """The secret being enrolled in this session, if any and still readable."""
    sealed = session.get(ENROL_SECRET)
    if not isinstance(sealed, str):
        return None
    try:
        return portal().store.box.decrypt(sealed)
    except SecretDecryptionError:  # sealed under a key that is gone: start again
        return None


def revoked_tokens_sentence(revoked: int) -> str:
    """ " N API tokens were revoked." when a change revoked any, else nothing."""
    if not revoked:
        return ""
    return " " + str(
        ngettext("%(num)s API token was revoked.", "%(num)s API tokens were revoked.", revoked)
    )


def remember_language(_sender: object, locale: str | None, **_extra: object) -> None:
    """Keep a signed-in user's language choice on their account (it then wins everywhere)."""
    me: CurrentUser | None = g.get("user")
    if me is None:
        return
    with portal().store.unit_of_work() as uow:
        user = uow.users.get(me.id)
        if user is not None:
            user.locale = locale
            uow.commit()
