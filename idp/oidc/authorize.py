"""The authorization endpoint's decisions (OIDC Core §3.1.2): who is logged in, whether that login
is good enough for this request, whether consent is needed, and how errors travel.

Interaction state stays in the browser (the request's own query string and the session cookie)
until the code is issued: nothing is written to the database before the grant is final.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.grants import BaseGrant
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Response
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from joserfc import jwt
from joserfc.errors import JoseError

from idp.auth.session import LoginState
from idp.oidc.acr import required_level
from idp.oidc.claims import parse_claims_request
from idp.oidc.runtime import runtime
from idp.oidc.subject import subject_for
from idp.settings import current_settings
from idp.verifiers.base import Level

RESPONSE_MODES = ("query", "form_post")
# Fields of our own consent form, never part of the portal's request.
FORM_ONLY_FIELDS = ("csrf_token", "decision")
PROMPTS = {"none", "login", "consent", "select_account"}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the endpoint does next: `login`, `consent` or `issue` (with the login to use)."""

    action: str
    login: LoginState | None = None
    required: Level | None = None  # the assurance level the request needs (login: step up to it)


def check_request_parameters(grant: BaseGrant) -> None:
    """Validate the OIDC parameters Authlib leaves to us; raise OAuth2Error (redirectable)."""
    data = grant.request.payload.data
    if data.get("response_mode", "query") not in RESPONSE_MODES:
        raise InvalidRequestError("response_mode must be query or form_post.")
    prompts = set((data.get("prompt") or "").split())
    if prompts - PROMPTS:
        raise InvalidRequestError("Unknown prompt value.")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values.")
    max_age = data.get("max_age")
    if max_age is not None and (not max_age.isdigit() or len(max_age) > 9):
        raise InvalidRequestError("max_age must be a non-negative integer.")
    if "openid" not in (grant.request.scope or "").split():
        raise InvalidRequestError("The scope must include openid.")
    try:
        parse_claims_request(data.get("claims"))
    except ValueError as exc:
        raise InvalidRequestError(str(exc)) from exc


def decide(grant: BaseGrant, login: LoginState | None) -> Decision:
    """Decide between login, consent and issuing a code; raise OIDC errors for prompt=none."""
    from idp.oidc.service import needs_consent

    data = grant.request.payload.data
    prompts = set((data.get("prompt") or "").split())
    required = required_level(data, grant.request.client)
    # OIDC Core §3.1.2.1: prompt=login, an exceeded max_age or another user's id_token_hint
    # all mean this session cannot answer the request without a new login.
    if login is not None and not is_fresh_login() and (
        "login" in prompts or _too_old(login, data.get("max_age")) or not _hint_matches(login, grant)
    ):
        login = None
    if login is None:
        if "none" in prompts:
            raise LoginRequiredError()
        return Decision("login", required=required)
    # An SSO session is reused only when its level satisfies the request; otherwise step up.
    if required is not None and (Level.from_acr(login.acr) or Level.LOW) < required:
        if "none" in prompts:
            raise LoginRequiredError(description="The session's assurance level is below the requested one.")
        return Decision("login", login, required=required)
    client = grant.request.client
    if "consent" in prompts or needs_consent(login.account, client, grant.request.scope):
        if "none" in prompts:
            raise ConsentRequiredError()
        return Decision("consent", login)
    return Decision("issue", login)


def is_fresh_login() -> bool:
    """True while the browser finishes the exact request the login page sent it back to."""
    marker = session.get("fresh_login_for")
    return bool(marker) and marker == request_url()


def forget_fresh_login() -> None:
    """The request that followed the login has ended (code issued or error): a fresh login is used up."""
    session.pop("fresh_login_for", None)


def _too_old(login: LoginState, max_age: str | None) -> bool:
    # OIDC Core §3.1.2.1: max_age is the allowable elapsed time since the last active authentication.
    return max_age is not None and int(time.time()) - login.auth_time > int(max_age)


def _hint_matches(login: LoginState, grant: BaseGrant) -> bool:
    """OIDC Core §3.1.2.1: id_token_hint names the expected end-user."""
    hint = grant.request.payload.data.get("id_token_hint")
    if not hint:
        return True
    _, keyset = runtime().keys.public_jwks()
    try:
        token = jwt.decode(hint, keyset, algorithms=["ES256", "RS256"])
    except (JoseError, ValueError) as exc:
        raise InvalidRequestError("id_token_hint is not an ID token issued by this provider.") from exc
    claims = token.claims
    if claims.get("iss") != current_settings().issuer:
        raise InvalidRequestError("id_token_hint was issued by another provider.")
    return claims.get("sub") == subject_for(login.account.id, grant.request.client)


def request_url() -> str:
    """This authorization request as a GET URL (a POSTed request's form becomes its query)."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    params = {k: v for k, v in request.values.items() if k not in FORM_ONLY_FIELDS}
    return f"{request.path}?{urlencode(params)}"


def login_redirect_url(required: Level | None = None) -> str:
    """The login page (asked for a level when one is required), then back to this exact request."""
    params = {"next": request_url()}
    if required is not None and required.acr:
        params["acr"] = required.acr
    for name in ("login_hint", "ui_locales", "idp_hint"):
        if request.args.get(name):
            params[name] = request.args[name]
    return url_for("auth.login") + "?" + urlencode(params)


def response_tuple(redirect_uri: str, params: list[tuple[str, str]], mode: str) -> tuple[int, str, list]:
    """Deliver authorization response parameters by `query` redirect or an auto-submitted form_post page."""
    if mode == "form_post":
        from urllib.parse import urlsplit

        parts = urlsplit(redirect_uri)
        body = render_template("oidc/form_post.html", action=redirect_uri, params=params)
        # CSP form-action must allow exactly the portal's origin for this one page.
        return 200, body, [("Content-Type", "text/html; charset=utf-8"),
                           ("X-Form-Action", f"{parts.scheme}://{parts.netloc}")]
    return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]


def error_response(error: OAuth2Error, state: str | None) -> Response | None:
    """Redirect an error to an already validated redirect URI (with `iss`); None means: show a page."""
    if not error.redirect_uri:
        return None
    params = [("error", error.error)]
    if error.description:
        params.append(("error_description", error.description))
    if state:
        params.append(("state", state))
    params.append(("iss", current_settings().issuer))
    mode = request.values.get("response_mode") or "query"
    status, body, headers = response_tuple(error.redirect_uri, params, mode if mode in RESPONSE_MODES else "query")
    return Response(body, status=status, headers=headers)
