"""Self-registration form for a citizen account (lowest assurance level)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms import EmailField
from wtforms import PasswordField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TelField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.validators import EqualTo
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import Regexp
from wtforms.validators import ValidationError


class RegistrationForm(FlaskForm):
    personal_id = StringField(
        _l("Personal ID number (12 digits)"),
        validators=[DataRequired(message=_l("Enter your personal ID number.")),
                    Regexp(r"^\d{12}$", message=_l("The personal ID number has exactly 12 digits."))],
        render_kw={"autocomplete": "username", "inputmode": "numeric", "maxlength": 12},
    )
    full_name = StringField(
        _l("Full name"), validators=[DataRequired(message=_l("Enter your full name.")), Length(max=200)],
        render_kw={"autocomplete": "name"},
    )
    birthdate = DateField(
        _l("Date of birth"), validators=[DataRequired(message=_l("Enter your date of birth."))],
        render_kw={"autocomplete": "bday"},
    )
    gender = SelectField(
        _l("Sex"), choices=[SelectChoice("male", _l("Male")), SelectChoice("female", _l("Female"))],
        validators=[DataRequired(message=_l("Choose your sex as on your ID card."))],
    )
    email = EmailField(_l("E-mail (optional)"), validators=[Optional(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    phone = TelField(_l("Phone number (optional)"),
                     validators=[Optional(), Regexp(r"^\+?\d{9,15}$", message=_l("Enter a valid phone number."))],
                     render_kw={"autocomplete": "tel"})
    password = PasswordField(
        _l("Password"), validators=[DataRequired(message=_l("Choose a password."))],  # length: passwords.*
        render_kw={"autocomplete": "new-password", "aria-describedby": "password-hint"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_password(self, field: PasswordField) -> None:
        """NIST SP 800-63B §5.1.1.2, with the personal ID number typed in this form."""
        check_new_password_field(field, ((self.personal_id.data or "").strip(),))


def _password_refusal(password: str, identifiers: tuple[str, ...]) -> str | None:
    """The policy's translated reason to refuse a new password (NIST SP 800-63B §5.1.1.2), or None."""
    from flask_babel import gettext

    from idp.accounts.service import AccountError
    from idp.accounts.service import check_password_policy

    try:
        check_password_policy(password, identifiers)
    except AccountError as exc:
        return gettext(exc.message)
    return None


def check_new_password_field(field: PasswordField, identifiers: tuple[str, ...]) -> None:
    """Raise ValidationError on `field` when the policy refuses its password."""
    refusal = _password_refusal(field.data or "", tuple(i for i in identifiers if i))
    if refusal:
        raise ValidationError(refusal)


def _new_password() -> PasswordField:
    # No length validator here: the policy (passwords.*) decides, with its own messages.
    return PasswordField(_l("New password"), validators=[DataRequired(message=_l("Choose a password."))],
                         render_kw={"autocomplete": "new-password", "aria-describedby": "password-hint"})


def _repeat() -> PasswordField:
    return PasswordField(_l("Repeat the new password"),
                         validators=[EqualTo("password", message=_l("The two passwords are not the same."))],
                         render_kw={"autocomplete": "new-password"})


class ForgotPasswordForm(FlaskForm):
    identifier = StringField(
        _l("Personal ID number or tax code"),
        validators=[DataRequired(message=_l("Enter your personal ID number or tax code.")),
                    Regexp(r"^\s*[0-9][0-9-]{5,19}\s*$",
                           message=_l("Enter the 12-digit personal ID number or the tax code."))],
        render_kw={"autocomplete": "username", "inputmode": "numeric", "autocapitalize": "off",
                   "spellcheck": "false", "maxlength": 20},
    )


class ResetCodeForm(FlaskForm):
    code = StringField(
        _l("Code from the text message"),
        validators=[DataRequired(message=_l("Enter the 6-digit code.")),
                    Regexp(r"^\s*\d{6}\s*$", message=_l("The code has 6 digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6},
    )
    password = _new_password()
    confirm = _repeat()


class NewPasswordForm(FlaskForm):
    password = _new_password()
    confirm = _repeat()


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"),
                            validators=[DataRequired(message=_l("Enter your current password.")), Length(max=1024)],
                            render_kw={"autocomplete": "current-password"})
    password = _new_password()
    confirm = _repeat()
