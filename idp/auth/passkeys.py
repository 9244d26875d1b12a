"""Passwordless login with a passkey (`/auth/passkeys/...`), and the JSON plumbing the WebAuthn
endpoints share (body limits, CSRF in a header, JSON errors).

The login page's button asks for options (a challenge, no allowCredentials: the browser offers
the discoverable credentials it holds for this RP ID), the browser answers with an assertion, and
a valid one with user verification opens the session at HIGH (amr "hwk", "pin"; WebAuthn §7.2,
NIST SP 800-63B §5.1.9 multi-factor cryptographic authenticator). Failures count against the
account like a wrong password; every failure is audited.
"""

from __future__ import annotations

import json
from typing import Any

from flask import jsonify
from flask import request
from flask import session
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from limits import RateLimitItemPerSecond
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from idp.audit import record
from idp.auth.mfa.webauthn import AMR_HWK
from idp.auth.mfa.webauthn import AMR_PIN
from idp.auth.mfa.webauthn import KIND
from idp.auth.mfa.webauthn import LOGIN
from idp.auth.mfa.webauthn import CeremonyError
from idp.auth.mfa.webauthn import MalformedCredential
from idp.auth.mfa.webauthn import authentication_options
from idp.auth.mfa.webauthn import check_assertion
from idp.auth.session import authenticate
from idp.auth.views import bp
from idp.auth.views import safe_next
from idp.extensions import csrf
from idp.extensions import db
from idp.extensions import limiter
from idp.i18n import N_
from idp.notify import notify
from idp.settings import current_settings
from idp.verifiers.base import Level

MAX_BODY = 16 * 1024  # an assertion is ~1-3 KiB; a credential id is at most 1023 bytes


class BadRequestBody(CeremonyError):
    """The HTTP body itself is unusable (not JSON, not an object, too large, no CSRF token)."""


def json_error(code: str, message: str, status: int, **extra: Any) -> tuple[Response, int]:
    """A JSON error for the WebAuthn endpoints: stable `error`, translated `error_description`."""
    try:
        text = _(message)
    except RequestEntityTooLarge:
        # The locale selector reads request.values, which a body over MAX_CONTENT_LENGTH cannot give.
        with force_locale(session.get("lang") or current_settings().default_locale):
            text = _(message)
    return jsonify(error=code, error_description=text, **extra), status


def json_body() -> dict[str, Any]:
    """The request's JSON object after the CSRF check (token in the X-CSRFToken header); raise BadRequestBody."""
    too_large = BadRequestBody("request_too_large", N_("The request is too large."))
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    try:
        csrf.protect()
        data = request.get_data(cache=True)  # a chunked body stops at MAX_CONTENT_LENGTH
    except CSRFError as exc:
        raise BadRequestBody("csrf_failed", N_("This page has expired. Reload it and try again.")) from exc
    except RequestEntityTooLarge as exc:
        raise too_large from exc
    if not request.is_json:
        raise BadRequestBody("invalid_json", N_("The request must be JSON."))
    if len(data) > MAX_BODY:
        raise too_large
    try:
        body = json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadRequestBody("invalid_json", N_("The request is not valid JSON.")) from exc
    if not isinstance(body, dict):
        raise BadRequestBody("invalid_json", N_("The request must be a JSON object."))
    return body


def _failure_limit() -> RateLimitItemPerSecond:
    login = current_settings().login
    return RateLimitItemPerSecond(login.per_account_failures, login.lockout_seconds)


def _count_failure(exc: CeremonyError) -> None:
    """The same per-account budget as the second step (`mfa:<id>`): lockout audited and notified."""
    record("login.failed", account_id=exc.account_id, method=KIND, reason=exc.code)
    if exc.account_id is None:
        return
    item, key = _failure_limit(), f"mfa:{exc.account_id}"
    limiter.limiter.hit(item, "login-failures", key)
    if not limiter.limiter.test(item, "login-failures", key):
        from idp.accounts.models import Account

        record("login.locked_out", account_id=exc.account_id, method=KIND)
        account = db.session.get(Account, exc.account_id)
        if account is not None:
            notify(account, "login.locked_out", method=KIND)


@bp.post("/passkeys/options")
@limiter.limit(lambda: current_settings().login.per_ip)
def passkey_login_options() -> Response | tuple[Response, int]:
    """PublicKeyCredentialRequestOptionsJSON for a passwordless login (UV required)."""
    try:
        json_body()
    except BadRequestBody as exc:
        return json_error(exc.code, exc.message, 400)
    options = authentication_options(LOGIN, None)
    db.session.commit()
    return jsonify(options)


@bp.post("/passkeys/login")
@limiter.limit(lambda: current_settings().login.per_ip)
def passkey_login() -> Response | tuple[Response, int]:
    """Check the assertion; open (or step up) the session at HIGH and say where to go next."""
    try:
        body = json_body()
        used = check_assertion(body.get("credential"), LOGIN)
    except BadRequestBody as exc:
        return json_error(exc.code, exc.message, 400)
    except CeremonyError as exc:
        _count_failure(exc)
        db.session.commit()  # the challenge stays used; the audit events stay
        return json_error(exc.code, exc.message, 400 if isinstance(exc, MalformedCredential) else 401)
    account = used.account
    key = f"mfa:{account.id}"
    if not limiter.limiter.test(_failure_limit(), "login-failures", key):
        db.session.commit()
        return json_error("login_locked", N_("Too many failed attempts. Please wait and try again later."), 429)
    if not account.is_active:
        record("login.refused", account_id=account.id, reason=f"account_{account.status}")
        db.session.commit()
        return json_error("account_not_active", N_("This account is locked or not yet active. Contact support."), 403)
    next_raw = body.get("next")
    next_url = safe_next(next_raw if isinstance(next_raw, str) else None)
    authenticate(account, Level.HIGH, [AMR_HWK, AMR_PIN])
    session["fresh_login_for"] = next_url
    db.session.commit()
    return jsonify(redirect=next_url)


# The JSON endpoints take their CSRF token from a header and answer a failure in JSON (json_body).
csrf.exempt(passkey_login_options)
csrf.exempt(passkey_login)
