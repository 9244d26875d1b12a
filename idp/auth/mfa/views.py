"""The second step of a login (`/auth/mfa`): after the password, or to step up a live session.

The password step leaves a *pending login* in the signed session cookie (account id, the methods
used so far, where to go next; valid 5 minutes). Each enrolled kind shows its own form on the
page and posts to `/auth/mfa/<kind>`; a failure spends the identifier's failure budget, shared
with the password and reset codes (idp/accounts/lockout.py); a lockout is audited and notified.
"""

from __future__ import annotations

import time
from typing import Any

from flask import abort
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from idp.accounts.lockout import count_failure
from idp.accounts.lockout import is_locked
from idp.accounts.models import Account
from idp.auth.mfa import enrolled_factors
from idp.auth.mfa import factors
from idp.auth.session import authenticate
from idp.auth.session import current_login
from idp.auth.views import bp
from idp.auth.views import safe_next
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.extensions import limiter
from idp.settings import current_settings

PENDING = "pending_login"
PENDING_SECONDS = 300
AMR_MFA = "mfa"  # RFC 8176: more than one factor


def begin_second_factor(account: Account, methods: list[str], next_url: str) -> Response:
    """The first factor passed: remember it briefly and ask for a second one."""
    session[PENDING] = {"account_id": account.id, "amr": methods, "next": next_url, "at": int(time.time())}
    return redirect(url_for("auth.second_factor"), code=303)


def _who() -> tuple[Account, list[str], str] | None:
    """The account asked for a second factor: the pending login, else the live session (step-up)."""
    pending = session.get(PENDING)
    if isinstance(pending, dict) and time.time() - pending.get("at", 0) <= PENDING_SECONDS:
        account = db.session.get(Account, pending.get("account_id"))
        if account is not None and account.is_active:
            return account, list(pending.get("amr") or []), safe_next(pending.get("next"))
    session.pop(PENDING, None)
    login = current_login()
    if login is None:
        return None
    return login.account, [], safe_next(request.values.get("next"))


def _page(account: Account, next_url: str, error: str | None = None, status: int = 200) -> tuple[str, int]:
    entries: list[tuple[str, dict[str, Any]]] = [
        (factor.kind, dict(factor.challenge(account))) for factor in enrolled_factors(account)]
    return render_template("auth/mfa.html", entries=entries, form=FlaskForm(), next_url=next_url,
                           error=error), status


@bp.get("/mfa")
def second_factor() -> Response | tuple[str, int]:
    who = _who()
    if who is None:
        return redirect(url_for("auth.login"), code=303)
    account, _methods, next_url = who
    return _page(account, next_url)


@bp.post("/mfa/<kind>")
@limiter.limit(lambda: current_settings().login.per_ip)
def verify_second_factor(kind: str) -> Response | tuple[str, int]:
    factor = factors().get(kind) or abort(404)
    who = _who()
    if who is None:
        return redirect(url_for("auth.login"), code=303)
    account, methods, next_url = who
    if not FlaskForm().validate_on_submit():
        abort(400)
    # One failure budget per identifier for the password, reset codes and second factors.
    if is_locked(account.identifier):
        return _page(account, next_url, _("Too many failed attempts. Please wait and try again later."), 429)
    try:
        result = factor.verify(account, request.form)
    except VerificationFailed as exc:
        count_failure(account.identifier, account, kind)  # audits; the lockout is audited and notified
        db.session.commit()
        return _page(account, next_url, _(exc.message), exc.status if exc.status != 400 else 401)
    used = [*methods, *result.amr]
    if methods:  # a password (or another first factor) and this one
        used.append(AMR_MFA)
    session.pop(PENDING, None)
    authenticate(account, result.level, sorted(set(used)), source=None if methods else kind)  # None: the password's
    session["fresh_login_for"] = next_url
    db.session.commit()
    if result.notice:
        return render_template("auth/mfa_notice.html", notice=result.notice, next_url=next_url), 200
    return redirect(next_url, code=303)
