"""Logging in through identity sources: start an attempt, run the verifier, link, open the session.

Routes live on the `auth` blueprint: `/auth/sources/<id>/start` (POST from the login page) and
`/auth/sources/<id>/continue/<attempt>` (GET for upstream redirects, POST for our forms).
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Flask
from flask import abort
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from limits import parse
from werkzeug.wrappers import Response

from idp.accounts.linking import LinkingNeedsReview
from idp.accounts.linking import apply_assertion
from idp.audit import record
from idp.auth.attempts import VerificationAttempt
from idp.auth.attempts import as_attempt
from idp.auth.attempts import claim_completion
from idp.auth.attempts import get_attempt
from idp.auth.attempts import save_data
from idp.auth.attempts import start_attempt
from idp.auth.session import authenticate
from idp.auth.session import current_login
from idp.auth.views import bp
from idp.auth.views import safe_next
from idp.dbtypes import utcnow
from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.errors import error_page
from idp.extensions import db
from idp.extensions import limiter
from idp.oidc.claims import session_claims_from
from idp.oidc.pending import remember_pending
from idp.outbox import deliver_to_outbox
from idp.settings import Settings
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Pending
from idp.verifiers.base import Prompt
from idp.verifiers.base import ReadsHeaders
from idp.verifiers.base import Redirect
from idp.verifiers.base import Services
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.overrides import is_switched_off
from idp.verifiers.registry import init_verifiers
from idp.verifiers.registry import verifiers

# Failures after which the same attempt cannot succeed: start again from the login page.
FINAL_FAILURES = frozenset({"attempt_unknown", "attempt_used", "attempt_expired", "cancelled", "too_many_attempts",
                            "challenge_expired", "challenge_replayed", "code_expired", "code_used",
                            "request_rejected", "request_expired", "letter_superseded", "address_changed"})


def init_sources(app: Flask, settings: Settings) -> None:
    """Build the configured verifiers with the services the core lends them."""

    def hit(key: str, limit: str) -> bool:
        return limiter.limiter.hit(parse(limit), "verifier", hashlib.sha256(key.encode()).hexdigest()[:32])

    def callback_url(verifier_id: str) -> str:
        return f"{settings.issuer.rstrip('/')}/auth/sources/{verifier_id}/callback"

    services = Services(hit=hit, now=utcnow, outbox=deliver_to_outbox,
                        sandbox=settings.features.sandbox and not settings.is_production, callback_url=callback_url)
    init_verifiers(app, settings.verifiers, services, settings.env)


def _offered(verifier_id: str) -> Verifier:
    """The enabled source; one the administrators switched off is refused with a page saying so."""
    verifier = verifiers().get(verifier_id)
    if verifier is None and is_switched_off(verifier_id):
        abort(make_response(error_page(403, _("This way of logging in is turned off"), _(
            "The administrators have turned this way of logging in off. Go back to the login page and choose "
            "another way."))))
    return verifier or abort(404)


def _browser_key() -> str:
    """A random per-browser key in the session cookie: attempts are bound to the browser."""
    if "browser_key" not in session:
        session["browser_key"] = secrets.token_urlsafe(24)
    return session["browser_key"]


@bp.post("/sources/<verifier_id>/start")
def start_source(verifier_id: str) -> Response | str | tuple[str, int]:
    verifier = _offered(verifier_id)
    if not FlaskForm().validate_on_submit():
        abort(400)
    login = current_login()
    row = start_attempt(verifier_id, _browser_key(), safe_next(request.form.get("next")),
                        login.account.id if login else None, request.remote_addr)
    attempt = as_attempt(row)
    try:
        step = verifier.begin(attempt)
    except SourceUnavailable as exc:
        db.session.rollback()
        return _unavailable(verifier_id, exc)
    except VerificationFailed as exc:  # e.g. a source that needs someone logged in, or an address
        db.session.rollback()
        return _failed(verifier_id, None, exc)
    save_data(row, attempt)
    response = _show(verifier_id, row, step)
    db.session.commit()
    return response


@bp.route("/sources/<verifier_id>/continue/<attempt_id>", methods=["GET", "POST"])
@limiter.limit("60 per minute", methods=["POST"])
def continue_source(verifier_id: str, attempt_id: str) -> Response | str | tuple[str, int]:
    verifier = _offered(verifier_id)
    if request.method == "POST" and not FlaskForm().validate_on_submit():
        abort(400)
    try:
        row = get_attempt(attempt_id, verifier_id, _browser_key())
    except VerificationFailed as exc:
        return _failed(verifier_id, None, exc)
    attempt = as_attempt(row)
    params = _params(verifier)
    try:
        outcome = verifier.complete(attempt, params)
    except VerificationFailed as exc:
        save_data(row, attempt)  # attempt counters survive a failure
        response = _failed(verifier_id, row, exc)
        db.session.commit()
        return response
    except SourceUnavailable as exc:
        save_data(row, attempt)
        db.session.commit()
        return _unavailable(verifier_id, exc)
    save_data(row, attempt)
    if not isinstance(outcome, IdentityAssertion):
        response = _show(verifier_id, row, outcome)
        db.session.commit()
        return response
    try:
        claim_completion(row)
    except VerificationFailed as exc:
        db.session.rollback()
        return _failed(verifier_id, None, exc)
    try:
        target = _log_in(outcome, row.next_url)
    except (LinkingNeedsReview, VerificationFailed) as exc:
        db.session.commit()  # keep the review and its audit event
        return render_template("auth/source_failed.html", message=_(exc.message), verifier_id=verifier_id), exc.status
    db.session.commit()
    return redirect(target, code=303)


@bp.get("/sources/<verifier_id>/callback")
def source_callback(verifier_id: str) -> Response | str | tuple[str, int]:
    """The fixed redirect URI registered at upstream providers; `state` is the attempt id."""
    return continue_source(verifier_id, request.args.get("state", ""))


def _params(verifier: Verifier) -> dict[str, str]:
    """What `complete` receives: query or form values, the client and peer addresses, and the
    headers the module declared (ReadsHeaders)."""
    params = {k: v for k, v in request.values.items() if k != "csrf_token" and not k.startswith("header:")}
    params["remote_addr"] = request.remote_addr or ""
    original = request.environ.get("werkzeug.proxy_fix.orig") or {}
    params["peer_addr"] = original.get("REMOTE_ADDR") or request.remote_addr or ""
    if isinstance(verifier, ReadsHeaders):
        for name in verifier.headers:
            value = request.headers.get(name)
            if value is not None:
                params[f"header:{name.lower()}"] = value
    return params


def _log_in(assertion: IdentityAssertion, next_url: str) -> str:
    """Link the assertion and open (or step up) the session; return where the browser goes."""
    login = current_login()
    result = apply_assertion(assertion, login.account if login else None)
    authenticate(result.account, assertion.level, list(assertion.amr), session_claims_from(assertion.extra),
                 source=assertion.source)
    session["fresh_login_for"] = next_url
    return next_url


def _show(verifier_id: str, row: VerificationAttempt, step: Step) -> Response | str:
    if isinstance(step, Redirect):
        return redirect(step.url, code=303)
    action = f"/auth/sources/{verifier_id}/continue/{row.id}"
    remember_pending(row.next_url)  # the step's form may end at the portal (CSP form-action)
    if isinstance(step, Prompt):
        row.prompt = {"template": step.template, "fields": dict(step.fields)}
        return _prompt_page(verifier_id, row, None)
    if isinstance(step, Pending):
        return render_template("auth/source_pending.html", message=_(step.message), action=action,
                               source=verifiers()[verifier_id].info, **step.fields)
    raise TypeError(f"unknown step {step!r}")


def _prompt_page(verifier_id: str, row: VerificationAttempt, error: str | None) -> str:
    remember_pending(row.next_url)
    return render_template(row.prompt["template"], action=f"/auth/sources/{verifier_id}/continue/{row.id}",
                           form=FlaskForm(), verifier_id=verifier_id, source=verifiers()[verifier_id].info,
                           error=error, **row.prompt["fields"])


def _failed(verifier_id: str, row: VerificationAttempt | None, exc: VerificationFailed) -> tuple[str, int]:
    """Show the form again with the error while the attempt is still usable; else a failure page."""
    record("login.failed", account_id=row.account_id if row is not None else None, source=verifier_id,
           reason=exc.code)
    db.session.commit()  # the failure stays audited whatever the caller rolled back
    if row is not None and row.prompt and row.completed_at is None and row.expires_at > utcnow() \
            and exc.code not in FINAL_FAILURES:
        return _prompt_page(verifier_id, row, _(exc.message)), exc.status
    return render_template("auth/source_failed.html", message=_(exc.message), verifier_id=verifier_id,
                           source=verifiers()[verifier_id].info), exc.status


def _unavailable(verifier_id: str, exc: SourceUnavailable) -> tuple[str, int]:
    return render_template("auth/source_failed.html", verifier_id=verifier_id, source=verifiers()[verifier_id].info,
                           message=_(exc.message)), exc.status
