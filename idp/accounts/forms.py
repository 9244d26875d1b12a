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
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"},
    )
