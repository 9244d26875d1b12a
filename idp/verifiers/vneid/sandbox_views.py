"""The sandbox provider's endpoints: discovery, JWKS, authorization page, token, UserInfo.

Protocol rules followed: OIDC Core §3.1.2 (authorization), §3.1.3 (token), §5.3 (UserInfo), §9
(client authentication), RFC 7636 (PKCE S256 required), RFC 9207 (`iss` in every response).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote_plus
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from flask import Flask
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask_babel import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

from idp.verifiers.vneid.config import ASYMMETRIC_ALGS

if TYPE_CHECKING:
    from idp.verifiers.vneid.sandbox import SandboxClient
    from idp.verifiers.vneid.sandbox import SandboxProvider

CODE_TTL, TOKEN_TTL, REQUEST_TTL = 60, 300, 600
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def with_query(url: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([*parse_qsl(parts.query),
                                                                           *params.items()]), ""))


def oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    response = jsonify(error=error, error_description=description)
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="vneid-sandbox"'
    return response, status


def check_pkce(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge."""
    return 43 <= len(verifier) <= 128 and hmac.compare_digest(_b64(hashlib.sha256(verifier.encode()).digest()),
                                                              challenge)


def read_basic(header: str) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: client id and secret, each form-urlencoded, in HTTP Basic."""
    try:
        raw = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if ":" not in raw:
        return None
    client_id, secret = raw.split(":", 1)
    return unquote_plus(client_id), unquote_plus(secret)


def _prune(table: dict[str, dict[str, Any]], now: float) -> None:
    for key in [key for key, value in table.items() if value["expires"] < now]:
        table.pop(key, None)


def register_routes(app: Flask, provider: SandboxProvider) -> None:
    """Add the provider's endpoints to the sandbox app."""

    def page_error(message: str, status: int = 400) -> tuple[str, int]:
        return render_template("sandbox_vneid/error.html", message=message), status

    def show_page(request_id: str, params: Mapping[str, str], error: str | None = None,
                  status: int = 200) -> tuple[str, int]:
        return render_template("sandbox_vneid/authorize.html", request_id=request_id, client_id=params["client_id"],
                               citizens=list(provider.citizens.values()), action=provider.endpoint("authorize"),
                               error=error), status

    def back(params: Mapping[str, str], **values: str) -> Response:
        answer = {**values, "iss": provider.issuer}
        if params.get("state"):
            answer["state"] = params["state"]
        return redirect(with_query(params["redirect_uri"], answer), code=302)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        provider.count("discovery")
        return jsonify(provider.metadata())

    @app.get("/jwks")
    def jwks() -> Response:
        provider.count("jwks")
        return jsonify(provider.jwks())

    @app.get("/authorize")
    def authorize() -> Response | tuple[str, int]:
        provider.count("authorize")
        params = {key: request.args.get(key, "")[:2048] for key in (
            "client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge",
            "code_challenge_method")}
        client = provider.clients.get(params["client_id"])
        if client is None:
            return page_error(_("This service is not registered at the sandbox."))
        if params["redirect_uri"] not in client.redirect_uris:
            # OIDC Core §3.1.2.6: never redirect to an unregistered URI.
            return page_error(_("This return address is not registered for the service."))
        if params["response_type"] != "code":
            return back(params, error="unsupported_response_type", error_description="only response_type=code")
        if "openid" not in params["scope"].split():
            return back(params, error="invalid_scope", error_description="scope must include openid")
        if params["code_challenge_method"] != "S256" or len(params["code_challenge"]) != 43:
            return back(params, error="invalid_request", error_description="PKCE with S256 is required")
        request_id = secrets.token_urlsafe(24)
        with provider.lock:
            _prune(provider.pending, time.time())
            provider.pending[request_id] = {"params": params, "expires": time.time() + REQUEST_TTL}
        return show_page(request_id, params)

    @app.post("/authorize")
    def decide() -> Response | tuple[str, int]:
        with provider.lock:
            pending = provider.pending.pop(request.form.get("request_id", ""), None)
        if pending is None or pending["expires"] < time.time():
            return page_error(_("This login request has expired or was already used. Start again from the service."))
        params = pending["params"]
        if request.form.get("action") == "cancel":
            return back(params, error="access_denied", error_description="the person cancelled")
        citizen = provider.citizens.get(request.form.get("personal_id", ""))
        if citizen is None:
            request_id = secrets.token_urlsafe(24)
            with provider.lock:
                provider.pending[request_id] = pending
            return show_page(request_id, params, _("Choose a demo citizen."), 400)
        code = secrets.token_urlsafe(32)
        with provider.lock:
            _prune(provider.codes, time.time())
            provider.codes[code] = {"client_id": params["client_id"], "redirect_uri": params["redirect_uri"],
                                    "nonce": params["nonce"], "challenge": params["code_challenge"],
                                    "citizen": citizen, "auth_time": int(time.time()),
                                    "sid": secrets.token_urlsafe(12), "expires": time.time() + CODE_TTL}
        return back(params, code=code)

    def authenticate_client() -> SandboxClient | None:
        """OIDC Core §9: the method used must be the one registered for the client."""
        form, header = request.form, request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            pair = read_basic(header)
            client = provider.clients.get(pair[0]) if pair else None
            ok = client is not None and client.auth_method == "client_secret_basic" and client.secret is not None \
                and hmac.compare_digest(pair[1].encode(), client.secret.encode())
            return client if ok else None
        if form.get("client_assertion_type") == JWT_BEARER:
            client = provider.clients.get(form.get("client_id", ""))
            ok = client is not None and client.auth_method == "private_key_jwt" and \
                _assertion_ok(provider, client, form.get("client_assertion", ""))
            return client if ok else None
        client = provider.clients.get(form.get("client_id", ""))
        ok = client is not None and client.auth_method == "client_secret_post" and client.secret is not None \
            and hmac.compare_digest(form.get("client_secret", "").encode(), client.secret.encode())
        return client if ok else None

    @app.post("/token")
    def token() -> tuple[Response, int]:
        provider.count("token")
        client = authenticate_client()
        if client is None:
            return oauth_error("invalid_client", "client authentication failed", 401)
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type", "only authorization_code")
        with provider.lock:
            grant = provider.codes.pop(form.get("code", ""), None)  # single use, even when the rest fails
        if grant is None or grant["expires"] < time.time() or grant["client_id"] != client.client_id:
            return oauth_error("invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return oauth_error("invalid_grant", "redirect_uri differs from the authorization request")
        if not check_pkce(form.get("code_verifier", ""), grant["challenge"]):
            return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
        access_token = secrets.token_urlsafe(32)
        with provider.lock:
            _prune(provider.access_tokens, time.time())
            provider.access_tokens[access_token] = {"citizen": grant["citizen"], "expires": time.time() + TOKEN_TTL}
        response = jsonify(access_token=access_token, token_type="Bearer", expires_in=TOKEN_TTL, scope="openid profile",
                           id_token=provider.id_token(client, grant))
        response.headers["Cache-Control"] = "no-store"
        return response, 200

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response | tuple[Response, int]:
        provider.count("userinfo")
        header = request.headers.get("Authorization", "")
        entry = provider.access_tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if entry is None or entry["expires"] < time.time():
            response = jsonify(error="invalid_token")
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response, 401
        citizen = entry["citizen"]
        return jsonify(sub=citizen.subject, **provider.personal_claims(citizen))


def _assertion_ok(provider: SandboxProvider, client: SandboxClient, assertion: str) -> bool:
    """RFC 7523 §3: signed by a key registered for the client, iss = sub = client_id, aud = us, fresh, once."""
    try:
        keys = KeySet.import_key_set(dict(client.jwks or {}))
        claims = jwt.decode(assertion, keys, algorithms=list(ASYMMETRIC_ALGS)).claims
    except (JoseError, ValueError, TypeError):
        return False
    now = time.time()
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    jti, expires = claims.get("jti"), claims.get("exp")
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id or not isinstance(jti, str) \
            or not set(audiences) & {provider.endpoint("token"), provider.issuer} \
            or not isinstance(expires, int | float) or expires < now:
        return False
    with provider.lock:
        if jti in provider.used_jtis:
            return False
        provider.used_jtis[jti] = expires
    return True
