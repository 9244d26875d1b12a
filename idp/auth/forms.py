"""Login and logout forms (Flask-WTF: CSRF token on every form)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length


class LoginForm(FlaskForm):
    identifier = StringField(
        _l("Personal ID number or tax code"),
        validators=[DataRequired(message=_l("Enter your personal ID number or tax code.")), Length(max=20)],
        render_kw={"autocomplete": "username", "inputmode": "numeric", "autocapitalize": "off",
                   "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(message=_l("Enter your password.")), Length(max=1024)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class LogoutForm(FlaskForm):
    next = HiddenField()
