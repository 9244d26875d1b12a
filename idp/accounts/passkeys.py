"""The account page for passkeys and security keys (`/accounts/passkeys`): list, add, remove.

Adding and removing need a recent login (RECENT_LOGIN_SECONDS) and a CSRF token; the registration
ceremony (WebAuthn §7.1) is two JSON calls made by idp/static/webauthn.js. Registered on the
`accounts` blueprint (imported at the end of idp/accounts/views.py).
"""

from __future__ import annotations

import time

from flask import jsonify
from flask import redirect
from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from idp.accounts.views import bp
from idp.auth.mfa.webauthn import CeremonyError
from idp.auth.mfa.webauthn import credentials_of
from idp.auth.mfa.webauthn import register_credential
from idp.auth.mfa.webauthn import registration_options
from idp.auth.mfa.webauthn import remove_credential
from idp.auth.passkeys import BadRequestBody
from idp.auth.passkeys import json_body
from idp.auth.passkeys import json_error
from idp.auth.session import LoginState
from idp.auth.session import current_login
from idp.errors import error_page
from idp.extensions import csrf
from idp.extensions import db
from idp.extensions import limiter
from idp.i18n import N_
from idp.settings import current_settings

RECENT_LOGIN_SECONDS = 600  # adding or removing a key needs a login (or step-up) at most 10 minutes old


def is_recent(login: LoginState) -> bool:
    return time.time() - login.auth_time <= RECENT_LOGIN_SECONDS


def _relogin_url() -> str:
    return url_for("auth.login", next=url_for("accounts.passkeys"))


def _page(login: LoginState, error: str | None = None, status: int = 200) -> tuple[str, int]:
    return render_template("accounts/passkeys.html", keys=credentials_of(login.account), form=FlaskForm(),
                           recent=is_recent(login), relogin_url=_relogin_url(), error=error), status


@bp.get("/passkeys")
def passkeys() -> Response | tuple[str, int]:
    login = current_login()
    if login is None:
        return redirect(_relogin_url(), code=303)
    return _page(login)


def _json_login() -> LoginState | tuple[Response, int]:
    """The live, recent login for a JSON call, or the JSON error that says to log in (again)."""
    login = current_login()
    if login is None:
        return json_error("login_required", N_("Please log in first."), 401, redirect=_relogin_url())
    if not is_recent(login):
        return json_error("reauthentication_required", N_("For your safety, log in again to change your keys."),
                          403, redirect=_relogin_url())
    return login


@bp.post("/passkeys/options")
@limiter.limit(lambda: current_settings().login.per_ip)
def passkey_registration_options() -> Response | tuple[Response, int]:
    """PublicKeyCredentialCreationOptionsJSON for a new key of the logged-in account."""
    try:
        json_body()
    except BadRequestBody as exc:
        return json_error(exc.code, exc.message, 400)
    login = _json_login()
    if not isinstance(login, LoginState):
        return login
    options = registration_options(login.account)
    db.session.commit()
    return jsonify(options)


@bp.post("/passkeys")
@limiter.limit(lambda: current_settings().login.per_ip)
def passkey_register() -> Response | tuple[Response, int]:
    """Verify the new key's attestation and store it (audited, the owner notified)."""
    try:
        body = json_body()
    except BadRequestBody as exc:
        return json_error(exc.code, exc.message, 400)
    login = _json_login()
    if not isinstance(login, LoginState):
        return login
    try:
        row = register_credential(login.account, body.get("name"), body.get("credential"), login.acr)
    except CeremonyError as exc:
        db.session.commit()  # the challenge stays used
        return json_error(exc.code, exc.message, 400)
    db.session.commit()
    return jsonify(redirect=url_for("accounts.passkeys"), id=row.id), 201


@bp.post("/passkeys/<int:key_id>/remove")
def passkey_remove(key_id: int) -> Response | tuple[str, int]:
    login = current_login()
    if login is None or not is_recent(login):
        return redirect(_relogin_url(), code=303)
    if not FlaskForm().validate_on_submit():
        return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))
    try:
        remove_credential(login.account, key_id, login.acr)
    except CeremonyError as exc:
        db.session.rollback()
        return _page(login, _(exc.message), 404 if exc.code == "unknown_credential" else 403)
    db.session.commit()
    return redirect(url_for("accounts.passkeys"), code=303)


csrf.exempt(passkey_registration_options)
csrf.exempt(passkey_register)
