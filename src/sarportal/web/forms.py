"""The portal's forms: field limits and messages in one place (CSRF comes with FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from sarportal.domain.roles import Role

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
    """Whom to invite, with which role."""

    email = StringField(_l("E-mail address"), validators=[DataRequired(), Length(max=320)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.VIEWER.value)


class RoleForm(FlaskForm):
    """A user's new role."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class CredentialsForm(FlaskForm):
    """Provider client credentials; the secret is never shown again."""

    client_id = StringField(_l("Client ID"), validators=[DataRequired(), Length(max=200)])
    client_secret = PasswordField(
        _l("Client secret"), validators=[DataRequired(), Length(max=1000)]
    )


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token."""


class SecondFactorPolicyForm(FlaskForm):
    """Which roles must use a second factor."""

    viewer = BooleanField(_l("Viewers"))
    operator = BooleanField(_l("Operators"))
    admin = BooleanField(_l("Administrators"))
