"""The portal's forms: field limits and messages in one place (CSRF comes with FlaskForm)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, Optional

from sarportal.auth.tokens import EXPIRY_CHOICES, NAME_MAX_LENGTH
from sarportal.domain.roles import Role
from sarportal.web.ui.locale import LANGUAGE_NAMES, requested_locale

ROLE_CHOICES = [
    SelectChoice(Role.VIEWER.value, _l("Viewer")),
    SelectChoice(Role.OPERATOR.value, _l("Operator")),
    SelectChoice(Role.ADMIN.value, _l("Administrator")),
]


class SignInForm(FlaskForm):
    """E-mail and password."""

    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class SecondFactorForm(FlaskForm):
    """A code from the authenticator app, or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class NewPasswordForm(FlaskForm):
    """A new password, typed twice."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ChangePasswordForm(NewPasswordForm):
    """The current password and a new one."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])


class EnrolSecondFactorForm(FlaskForm):
    """The first code from the newly set-up authenticator app."""

    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=16)])


class InviteForm(FlaskForm):
    """Whom to invite, with which role, and (optionally) the provider credentials they act as."""

    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.VIEWER.value)
    client_id = StringField(_l("Provider client ID"), validators=[Optional(), Length(max=200)])
    client_secret = PasswordField(
        _l("Provider client secret"), validators=[Optional(), Length(max=1000)]
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """Both credential fields or neither."""
        valid = bool(super().validate(extra_validators))
        client_id, secret = (self.client_id.data or "").strip(), self.client_secret.data or ""
        if bool(client_id) != bool(secret):
            missing = self.client_secret if client_id else self.client_id
            missing.errors = [
                *missing.errors,
                _l("Give the client ID and the client secret together, or neither."),
            ]
            return False
        return valid

    def provider_credentials(self) -> tuple[str, str] | None:
        """The credentials given, or None."""
        client_id, secret = (self.client_id.data or "").strip(), self.client_secret.data or ""
        return (client_id, secret) if client_id and secret else None


def _time_zones() -> list[str]:
    """The IANA zones a user may pick: every canonical `Area/City` one, and UTC."""
    from zoneinfo import available_timezones

    areas = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/",
             "Europe/", "Indian/", "Pacific/")  # fmt: skip
    return ["UTC", *sorted(z for z in available_timezones() if z.startswith(areas))]


TIME_ZONES: list[str] = _time_zones()


class TimeZoneForm(FlaskForm):
    """The time zone in which the pages, exports and statistics count days and show times."""

    timezone = SelectField(
        _l("Time zone"), choices=[SelectChoice(zone, zone) for zone in TIME_ZONES]
    )


class LanguageForm(FlaskForm):
    """The language and regional formats of the user's pages and exports; "" follows the browser."""

    language = SelectField(_l("Language and formats"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        browser = LANGUAGE_NAMES[requested_locale()]
        self.language.choices = [
            SelectChoice("", _l("As my browser says (now %(language)s)", language=browser)),
            *(SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()),
        ]


class RoleForm(FlaskForm):
    """A user's new role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class CredentialsForm(FlaskForm):
    """Provider client credentials; the secret is never shown again."""

    client_id = StringField(_l("Client ID"), validators=[DataRequired(), Length(max=200)])
    client_secret = PasswordField(
        _l("Client secret"), validators=[DataRequired(), Length(max=1000)]
    )


EXPIRY_LABELS = {30: _l("30 days"), 90: _l("90 days"), 365: _l("1 year"), None: _l("Never")}
# The expiry field's values, each with its number of days (None: the token never expires).
EXPIRY_VALUES: dict[str, int | None] = {
    "never" if days is None else str(days): days for days in EXPIRY_CHOICES
}


class ApiTokenForm(FlaskForm):
    """A new personal API token: its name and how long it stays valid."""

    name = StringField(
        _l("Name"),
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired(message=_l("Give the token a name.")),
            Length(
                max=NAME_MAX_LENGTH,
                message=_l("The name is too long: at most %(max)d characters."),
            ),
        ],
    )
    expires = SelectField(
        _l("Expires after"),
        choices=[SelectChoice(value, EXPIRY_LABELS[days]) for value, days in EXPIRY_VALUES.items()],
        default="90",
        validate_choice=False,  # AnyOf says what is wrong in the portal's words
        validators=[AnyOf(list(EXPIRY_VALUES), message=_l("Choose one of the offered periods."))],
    )


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class SecondFactorPolicyForm(FlaskForm):
    """Which roles must use a second factor."""

    viewer = BooleanField(_l("Viewers"))
    operator = BooleanField(_l("Operators"))
    admin = BooleanField(_l("Administrators"))
