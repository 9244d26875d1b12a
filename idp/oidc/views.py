"""Protocol routes: discovery, JWKS, authorize, token, userinfo, introspection, revocation, logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from idp.auth.session import current_login
from idp.auth.session import end_login_session
from idp.errors import error_page
from idp.extensions import csrf
from idp.extensions import db
from idp.oidc import authorize
from idp.oidc.claims import SCOPE_CLAIMS
from idp.oidc.runtime import runtime
from idp.oidc.service import remember_consent
from idp.oidc.subject import subject_for
from idp.settings import current_settings

bp = Blueprint("oidc", __name__)


def _json_bytes(body: bytes, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return _json_bytes(current_app.extensions["idp.discovery"], 3600)


@bp.get("/jwks.json")
def jwks() -> Response:
    body, _keyset = runtime().keys.public_jwks()
    return _json_bytes(body, current_settings().oidc.jwks_max_age)


@bp.route("/oauth2/authorize", methods=["GET", "POST"])
@csrf.exempt  # OIDC Core §3.1.2.1: portals may POST the request; the consent form checks its own token.
def authorize_endpoint() -> Response | str | tuple[str, int]:
    server = runtime().server
    state = request.values.get("state")
    login = current_login()
    try:
        grant = server.get_consent_grant(end_user=login.account if login else None)
    except OAuth2Error as error:
        return _authorize_error(error, state)
    try:
        authorize.check_request_parameters(grant)
        decision = authorize.decide(grant, login)
    except OAuth2Error as error:
        # The redirect URI was validated with the grant: errors from here on may travel to it.
        error.redirect_uri = error.redirect_uri or grant.redirect_uri
        return _authorize_error(error, state)
    if decision.action == "login":
        return redirect(authorize.login_redirect_url(decision.required), code=302)
    form = ConsentForm()
    if decision.action == "consent":
        if "decision" in request.form and form.validate_on_submit():
            if request.form.get("decision") != "allow":
                from authlib.oauth2.rfc6749 import AccessDeniedError

                db.session.rollback()
                return _authorize_error(AccessDeniedError(redirect_uri=grant.redirect_uri), state)
            remember_consent(decision.login.account, grant.request.client, grant.request.scope)
        else:
            return _consent_page(grant, form)
    grant.request.login_context = decision.login
    response = server.create_authorization_response(grant=grant, grant_user=decision.login.account)
    authorize.forget_fresh_login()
    db.session.commit()
    return response


class ConsentForm(FlaskForm):
    pass


def _consent_page(grant, form: ConsentForm) -> Response:  # noqa: ANN001 - Authlib grant
    client = grant.request.client
    scopes = [s for s in (grant.request.scope or "").split() if s in SCOPE_CLAIMS and s != "openid"]
    return _posting_to(grant.redirect_uri, render_template(
        "oidc/consent.html", client=client, scopes=scopes, form=form, login=current_login(),
        offline="offline_access" in grant.request.scope.split(), action=authorize.request_url()))


def _posting_to(redirect_uri: str | None, page: str) -> Response:
    """A page whose form ends in a redirect to a portal: CSP form-action must allow the portal's origin
    (Chromium applies form-action to every redirect after a form submission)."""
    response = Response(page, mimetype="text/html")
    if redirect_uri:
        parts = urlsplit(redirect_uri)
        response.headers["X-Form-Action"] = f"{parts.scheme}://{parts.netloc}"
    return response


def _authorize_error(error: OAuth2Error, state: str | None) -> Response | tuple[str, int]:
    db.session.rollback()
    authorize.forget_fresh_login()
    response = authorize.error_response(error, state)
    if response is not None:
        return response
    # RFC 6749 §4.1.2.1: never redirect to an unverified redirect_uri; tell the person instead.
    return error_page(400, _("This portal's sign-in request is not valid"),
                      _("Go back to the portal and try again. If it keeps happening, tell the portal's support.")
                      + f" ({error.error}: {error.description or ''})")


def _protocol(call):  # noqa: ANN001, ANN202 - a zero-argument endpoint call
    try:
        response = call()
    except Exception:
        db.session.rollback()
        raise
    if response is not None and response.status_code < 400:
        db.session.commit()
    else:
        db.session.rollback()
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth2/token")
@csrf.exempt
def token_endpoint() -> Response:
    return _protocol(runtime().server.create_token_response)


@bp.route("/oauth2/userinfo", methods=["GET", "POST"])
@csrf.exempt
def userinfo_endpoint() -> Response:
    return _protocol(lambda: runtime().server.create_endpoint_response("userinfo"))


@bp.post("/oauth2/introspect")
@csrf.exempt
def introspection_endpoint() -> Response:
    return _protocol(lambda: runtime().server.create_endpoint_response("introspection"))


@bp.post("/oauth2/revoke")
@csrf.exempt
def revocation_endpoint() -> Response:
    return _protocol(lambda: runtime().server.create_endpoint_response("revocation"))


@bp.route("/oauth2/logout", methods=["GET", "POST"])
@csrf.exempt  # portals may POST; the confirmation form checks its own CSRF token
def end_session_endpoint() -> Response | str | tuple[str, int]:
    """RP-Initiated Logout 1.0 §2-3: log out at once only when id_token_hint names this session's user."""
    server = runtime().server
    login = current_login()
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        if login is None:
            return error_page(400, _("The sign-out request is not valid"), error.description or error.error)
        end_request = None  # an unverifiable hint (e.g. signed by a retired key): ask, never redirect
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes" and FlaskForm().validate_on_submit()
    if login is not None and not confirmed and not _hint_names_session_user(login, end_request):
        return _posting_to(end_request.redirect_uri if end_request else None, render_template(
            "oidc/logout_confirm.html", form=FlaskForm(), login=login,
            client=end_request.client if end_request else None))
    if end_request is None:
        end_login_session(reason="user_logout")
        db.session.commit()
        return render_template("auth/logged_out.html")
    response = server.create_endpoint_response("end_session", end_request)
    db.session.commit()
    if response is not None and getattr(g, "logout_frames", None):
        # Front-Channel Logout 1.0 §3: render the portals' iframes first, then offer the way back.
        return render_template("auth/logged_out.html", client=end_request.client, continue_to=response.location)
    return response or render_template("auth/logged_out.html", client=end_request.client)


def _hint_names_session_user(login, end_request) -> bool:  # noqa: ANN001 - LoginState, EndSessionRequest
    if end_request is None or end_request.needs_confirmation or end_request.client is None:
        return False
    return end_request.id_token_claims.get("sub") == subject_for(login.account.id, end_request.client)
