"""Account pages (`/accounts`): the blueprint and self-registration of a citizen account; the console's
pages live in the modules imported at the end."""

from __future__ import annotations

from flask import Blueprint
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.forms import RegistrationForm
from idp.accounts.models import AccountKind
from idp.accounts.service import AccountError
from idp.accounts.service import NewAccount
from idp.accounts.service import create_account
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.settings import current_settings

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register() -> Response | str | tuple[str, int]:
    settings = current_settings()
    required = settings.accounts.required_source.get(AccountKind.CITIZEN)
    if not settings.features.self_registration or required:
        return error_page(403, _("Registration with a password is not offered here"),
                          _("Create your account through the national e-ID (VNeID) or another accepted source."))
    form = RegistrationForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("accounts/register.html", form=form), status
    try:
        create_account(NewAccount(
            kind=AccountKind.CITIZEN, identifier=form.personal_id.data or "", full_name=form.full_name.data or "",
            password=form.password.data, birthdate=form.birthdate.data, gender=form.gender.data,
            email=form.email.data or None, phone=form.phone.data or None,
        ))
    except AccountError as exc:
        db.session.rollback()
        return render_template("accounts/register.html", form=form, error=_(exc.message)), 400
    db.session.commit()
    return redirect(url_for("accounts.registered"), code=303)


@bp.get("/registered")
def registered() -> str:
    return render_template("accounts/registered.html")


import idp.accounts.consents  # noqa: E402, F401 - adds the consents page (/accounts/consents) to this blueprint
import idp.accounts.console  # noqa: E402, F401 - adds the console's home (/accounts/) to this blueprint
import idp.accounts.deletion_page  # noqa: E402, F401 - adds the delete-account request (/accounts/delete)
import idp.accounts.export  # noqa: E402, F401 - adds the data export (/accounts/export) to this blueprint
import idp.accounts.history_page  # noqa: E402, F401 - adds the login history (/accounts/history) to this blueprint
import idp.accounts.linked  # noqa: E402, F401 - adds the linked sources page (/accounts/sources) to this blueprint
import idp.accounts.passkeys  # noqa: E402, F401 - adds the passkey pages (/accounts/passkeys) to this blueprint
import idp.accounts.profile  # noqa: E402, F401 - adds the profile page (/accounts/profile) to this blueprint
import idp.accounts.recovery  # noqa: E402, F401 - adds the password reset and change pages (/accounts/password...)
import idp.accounts.security  # noqa: E402, F401 - adds the second-factor pages (/accounts/security) to this blueprint
import idp.accounts.sessions  # noqa: E402, F401 - adds the sessions page (/accounts/sessions) to this blueprint
