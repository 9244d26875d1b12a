"""Account pages (`/accounts`): self-registration of a citizen account."""

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


@bp.route("/sources", methods=["GET", "POST"])
def sources() -> Response | str | tuple[str, int]:
    """The person's linked identity sources; unlink one (never the last verified one)."""
    from flask import request
    from flask_wtf import FlaskForm

    from idp.accounts.linking import linked_sources
    from idp.accounts.linking import unlink
    from idp.auth.session import current_login
    from idp.errors import VerificationFailed
    from idp.verifiers.registry import verifiers

    login = current_login()
    if login is None:
        return redirect(url_for("auth.login", next=url_for("accounts.sources")), code=303)
    form = FlaskForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
        try:
            unlink(login.account, int(request.form.get("link_id", "0") or 0))
            db.session.commit()
            return redirect(url_for("accounts.sources"), code=303)
        except (VerificationFailed, ValueError) as exc:
            db.session.rollback()
            error = _(exc.message) if isinstance(exc, VerificationFailed) else _("This linked source does not exist.")
    from idp.verifiers.health import is_available

    names = {vid: v.info for vid, v in verifiers().items()}
    # Every enabled source can be added from here, including those that prove no level on their
    # own (a letter confirming the address): the login page lists only those that log in.
    addable = [(vid, v.info) for vid, v in verifiers().items() if is_available(v)]
    status = 400 if error else 200
    return render_template("accounts/sources.html", links=linked_sources(login.account), names=names, form=form,
                           addable=addable, error=error), status


import idp.accounts.consents  # noqa: E402, F401 - adds the consents page (/accounts/consents) to this blueprint
import idp.accounts.passkeys  # noqa: E402, F401 - adds the passkey pages (/accounts/passkeys) to this blueprint
import idp.accounts.recovery  # noqa: E402, F401 - adds the password reset and change pages (/accounts/password...)
import idp.accounts.security  # noqa: E402, F401 - adds the second-factor pages (/accounts/security) to this blueprint
import idp.accounts.sessions  # noqa: E402, F401 - adds the sessions page (/accounts/sessions) to this blueprint
