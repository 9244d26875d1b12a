"""The account's second factors (`/accounts/security`): authenticator apps and recovery codes.

Routes on the `accounts` blueprint (imported at the end of idp/accounts/views.py). Every change
needs a login of the last REAUTH_SECONDS (a stolen session must not add a factor, which would lock
the owner out, nor remove one); removing the *last* second factor also needs a session at least as
strong as the one that added it. Otherwise the person is sent to confirm it is them and comes back.
Every change is audited (ids only) and notified to the owner.
"""

from __future__ import annotations

import time
import unicodedata
from typing import Any

from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms import StringField
from wtforms import ValidationError
from wtforms.validators import DataRequired
from wtforms.validators import Length

from idp.accounts.models import Account
from idp.accounts.views import bp
from idp.audit import record
from idp.auth.mfa import discard_backups
from idp.auth.mfa import enrolled_factors
from idp.auth.mfa import factors
from idp.auth.mfa import has_other_factor
from idp.auth.mfa import recovery
from idp.auth.mfa import totp
from idp.auth.session import LoginState
from idp.auth.session import current_login
from idp.errors import VerificationFailed
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.masking import mask_identifier
from idp.notify import notify
from idp.qr import qr_svg
from idp.settings import current_settings
from idp.verifiers.base import Level

REAUTH_SECONDS = 600  # "recent login" for changing second factors (setting `mfa.reauth_seconds`)
MINE = (totp.KIND, recovery.KIND)


def _no_control_characters(_form: FlaskForm, field: Any) -> None:
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn") for char in field.data or ""):
        raise ValidationError(_l("The name may contain letters, digits, spaces and punctuation only."))


class NewAuthenticatorForm(FlaskForm):
    enrolment = HiddenField()
    name = StringField(
        _l("Name of this authenticator"),
        validators=[DataRequired(message=_l("Give the authenticator a name, for example “My phone”.")),
                    Length(max=totp.NAME_MAX, message=_l("The name is too long (at most 64 characters).")),
                    _no_control_characters],
        filters=[lambda value: unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else value],
        render_kw={"maxlength": totp.NAME_MAX, "autocomplete": "off"},
    )
    code = StringField(
        _l("6-digit code from the app"),
        validators=[DataRequired(message=_l("Enter the code your authenticator app shows."))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 16,
                   "aria-describedby": "code-hint"},
    )


# --- recent login and re-authentication -----------------------------------------------------------

def reauth_seconds() -> int:
    mfa = getattr(current_settings(), "mfa", None)
    return int(getattr(mfa, "reauth_seconds", 0) or REAUTH_SECONDS)


def session_level(login: LoginState) -> Level:
    return Level.from_acr(login.acr) or Level.LOW


def is_recent(login: LoginState) -> bool:
    """Whether this session's last authentication (login or step-up) is recent enough to change factors."""
    return time.time() - login.auth_time <= reauth_seconds()


def reauthenticate(account: Account, required: Level | None, back: str) -> Response:
    """Send the person to confirm it is them (at `required` or above), then back to `back`."""
    if required is not None and required > Level.LOW:
        # The login page offers only the methods that reach the level (the account's factors included).
        return redirect(url_for("auth.login", acr=required.acr, next=back), code=303)
    if enrolled_factors(account):
        return redirect(url_for("auth.second_factor", next=back), code=303)
    return redirect(url_for("auth.login", next=back), code=303)


def is_last_factor(account: Account) -> bool:
    """Whether removing one authenticator app would leave the account without any second factor
    (recovery codes do not count: they are the backup of the others)."""
    return not has_other_factor(account, totp.KIND) and len(totp.active_authenticators(account)) <= 1


def _login_redirect(back: str) -> Response:
    return redirect(url_for("auth.login", next=back), code=303)


def _expired_form() -> tuple[str, int]:
    return error_page(400, _("This form has expired"), _("Go back, reload the page and try again."))


# --- pages ----------------------------------------------------------------------------------------

# Kinds managed on pages of their own; a factor may say so itself with `label` and `manage_endpoint`.
OTHER_KINDS = {"webauthn": (_l("Passkeys and security keys"), "accounts.passkeys")}


def _other_kinds(account: Account) -> list[dict[str, Any]]:
    """Other second-factor kinds (security keys, ...): a line each, linking to their own page."""
    entries = []
    for kind, factor in factors().items():
        if kind in MINE:
            continue
        label, endpoint = OTHER_KINDS.get(kind, (kind, None))
        label = getattr(factor, "label", None) or label
        endpoint = getattr(factor, "manage_endpoint", None) or endpoint
        url = None
        if endpoint:
            try:
                url = url_for(endpoint)
            except BuildError:
                url = None
        entries.append({"kind": kind, "label": label, "url": url,
                        "enrolled": factor.is_enrolled(account)})
    return entries


def _security_page(login: LoginState, error: str | None = None, status: int = 200) -> tuple[str, int]:
    account = login.account
    return render_template(
        "accounts/security.html", form=FlaskForm(), error=error, authenticators=totp.active_authenticators(account),
        others=_other_kinds(account), has_other_factor=recovery.has_other_factor(account),
        has_codes=recovery.has_codes(account), codes_left=recovery.remaining(account), recovery_total=recovery.COUNT,
        max_authenticators=totp.MAX_AUTHENTICATORS, added=request.args.get("added") == "1",
    ), status


@bp.get("/security")
def security() -> Response | tuple[str, int]:
    """The account's second factors."""
    login = current_login()
    if login is None:
        return _login_redirect(url_for("accounts.security"))
    return _security_page(login)


def _ip_limit() -> str:
    return current_settings().login.per_ip


def _enrolment_page(account: Account, row: totp.TotpAuthenticator, form: NewAuthenticatorForm,
                    error: str | None = None, status: int = 200) -> tuple[str, int]:
    secret = row.secret()
    uri = totp.provisioning_uri(secret, account)
    form.enrolment.data = row.enrolment_ref
    return render_template(
        "accounts/security_totp_new.html", form=form, error=error, qr=qr_svg(uri), uri=uri,
        secret_groups=totp.grouped(secret), issuer=totp.issuer(), label=mask_identifier(account.identifier),
        digits=totp.DIGITS, period=totp.PERIOD, pending_minutes=totp.PENDING_SECONDS // 60,
    ), status


@bp.route("/security/totp/new", methods=["GET", "POST"])
@limiter.limit(_ip_limit, methods=["POST"])
def new_totp() -> Response | tuple[str, int]:
    """Add an authenticator app: scan the QR code (or type the key), then prove it with a first code."""
    here = url_for("accounts.new_totp")
    login = current_login()
    if login is None:
        return _login_redirect(here)
    account = login.account
    if not is_recent(login):
        return reauthenticate(account, None, here)
    if len(totp.active_authenticators(account)) >= totp.MAX_AUTHENTICATORS:
        return _security_page(login, _("This account already has %(count)d authenticator apps. Remove one first.",
                                       count=totp.MAX_AUTHENTICATORS), 400)
    form = NewAuthenticatorForm()
    if request.method == "GET":
        row = totp.pending_enrolment(account)
        form.name.data = _("My phone")
        db.session.commit()
        return _enrolment_page(account, row, form)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            return _expired_form()
        row = totp.pending_enrolment(account)
        db.session.commit()
        return _enrolment_page(account, row, form, status=400)
    row = totp.pending_enrolment(account)
    if form.enrolment.data != row.enrolment_ref:
        # The secret the person scanned has expired (or was replaced in another tab): show the new one.
        db.session.commit()
        return _enrolment_page(account, row, form, _(
            "This set-up page has expired. Add the new key below to your app and enter its code."), 400)
    try:
        totp.activate(row, form.name.data, form.code.data, login.acr)
    except VerificationFailed as exc:
        record("mfa.activation_failed", account_id=account.id, kind=totp.KIND, reason=exc.code)
        db.session.commit()
        return _enrolment_page(account, row, form, _(exc.message), 400)
    record("mfa.added", account_id=account.id, kind=totp.KIND, factor_id=row.id, acr=login.acr)
    notify(account, "mfa.added", kind=totp.KIND, factor_id=row.id)
    db.session.commit()
    return redirect(url_for("accounts.security", added="1"), code=303)


@bp.post("/security/totp/<int:authenticator_id>/remove")
@limiter.limit(_ip_limit)
def remove_totp(authenticator_id: int) -> Response | tuple[str, int]:
    """Remove one authenticator app (the last second factor only from a session as strong as the one
    that added it)."""
    back = url_for("accounts.security")
    login = current_login()
    if login is None:
        return _login_redirect(back)
    if not FlaskForm().validate_on_submit():
        return _expired_form()
    account = login.account
    row = totp.find_authenticator(account, authenticator_id)
    if row is None:
        return _security_page(login, _("This authenticator does not exist (it may have been removed already)."), 404)
    last = is_last_factor(account)
    required = (Level.from_acr(row.added_acr or "") or Level.LOW) if last else None
    if not is_recent(login) or (required is not None and session_level(login) < required):
        return reauthenticate(account, required, back)
    totp.remove(row)
    record("mfa.removed", account_id=account.id, kind=totp.KIND, factor_id=authenticator_id, last=last)
    notify(account, "mfa.removed", kind=totp.KIND, factor_id=authenticator_id)
    if last:
        # Recovery codes back up the other factors; with none left they go too (a new set comes with
        # the next factor), so a forgotten printout cannot come back to life.
        discarded = discard_backups(account)
        if discarded:
            record("mfa.removed", account_id=account.id, kind=recovery.KIND, count=discarded)
    db.session.commit()
    return redirect(back, code=303)


@bp.post("/security/recovery")
@limiter.limit(_ip_limit)
def new_recovery_codes() -> Response | tuple[str, int]:
    """Generate a new set of recovery codes (the old set stops working) and show it once."""
    back = url_for("accounts.security")
    login = current_login()
    if login is None:
        return _login_redirect(back)
    if not FlaskForm().validate_on_submit():
        return _expired_form()
    account = login.account
    if not is_recent(login):
        return reauthenticate(account, None, back)
    if not recovery.has_other_factor(account):
        return _security_page(login, _("Add an authenticator app or a security key first: recovery codes are "
                                       "their backup."), 400)
    codes = recovery.generate(account)
    db.session.commit()
    # Rendered in this response only (HTML responses are no-store): never stored, never shown again.
    return render_template("accounts/security_recovery_codes.html", codes=codes, text="\r\n".join(codes)), 200
