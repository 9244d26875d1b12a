"""Example ministry portal (Bộ Tài chính, demo): a relying party of the national SSO.

Login with code + PKCE + nonce, a claims page, step-up to the high level, RP-initiated logout and
an OpenID Connect Back-Channel Logout 1.0 receiver. Run beside the provider:

    python clients/examples/ministry/app.py        # http://127.0.0.1:8002

Settings from the environment: IDP_ISSUER, CLIENT_ID, CLIENT_SECRET, PORTAL_URL, PORTAL_SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from typing import Any

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import abort
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

ACR_HIGH = "urn:vn:gov:sso:loa:high"
JWKS_REFRESH_SECONDS = 60
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
DEFAULTS = {
    "IDP_ISSUER": "http://127.0.0.1:5000",
    "CLIENT_ID": "demo-ministry-finance",
    "CLIENT_SECRET": "demo-ministry-finance-secret",
    "PORTAL_URL": "http://127.0.0.1:8002",
    "PORTAL_NAME": "Cổng Bộ Tài chính (demo)",
    "TOKEN_ENDPOINT_AUTH_METHOD": "client_secret_basic",
    "SCOPE": "openid profile email",
    "SESSION_COOKIE_NAME": "ministry_session",
    "HTTP_TIMEOUT": 5,
}


class Logins:
    """Server-side record of local logins, so a back-channel logout can end them (in memory: one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, dict[str, str | None]] = {}
        self._seen_jti: set[str] = set()

    def add(self, sid: str | None, sub: str) -> str:
        local_id = secrets.token_urlsafe(16)
        with self._lock:
            self._by_id[local_id] = {"sid": sid, "sub": sub}
        return local_id

    def active(self, local_id: str | None) -> bool:
        return local_id is not None and local_id in self._by_id

    def end(self, local_id: str | None) -> None:
        with self._lock:
            self._by_id.pop(local_id or "", None)

    def end_matching(self, sid: str | None, sub: str | None) -> int:
        """Back-Channel Logout §2.7: end the sessions with this sid (or, without sid, of this sub)."""
        with self._lock:
            doomed = [k for k, v in self._by_id.items()
                      if (sid and v["sid"] == sid) or (not sid and sub and v["sub"] == sub)]
            for key in doomed:
                del self._by_id[key]
        return len(doomed)

    def first_use(self, jti: str) -> bool:
        with self._lock:
            if jti in self._seen_jti:
                return False
            self._seen_jti.add(jti)
            return True


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, root_path=os.path.dirname(os.path.abspath(__file__)))
    settings = {key: os.environ.get(key, value) for key, value in DEFAULTS.items()}
    settings.update(config or {})
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings.get("SECRET_KEY") or os.environ.get("PORTAL_SECRET_KEY") or \
        secrets.token_hex(32)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    issuer = settings["IDP_ISSUER"].rstrip("/")
    timeout = float(settings["HTTP_TIMEOUT"])
    oauth = OAuth(app)
    idp = oauth.register(
        "idp", client_id=settings["CLIENT_ID"],
        client_secret=settings["CLIENT_SECRET"] if settings["TOKEN_ENDPOINT_AUTH_METHOD"] != "none" else None,
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": settings["SCOPE"], "code_challenge_method": "S256",
                       "token_endpoint_auth_method": settings["TOKEN_ENDPOINT_AUTH_METHOD"], "timeout": timeout})
    logins = Logins()
    app.extensions["portal.logins"] = logins
    keys: dict[str, Any] = {}

    def provider_keys(refresh: bool = False) -> KeySet:
        # Refetch for a new key at most once a minute: forged tokens must not make us hammer the provider.
        if "jwks" not in keys or (refresh and time.monotonic() - keys["fetched"] > JWKS_REFRESH_SECONDS):
            jwks_uri = idp.load_server_metadata()["jwks_uri"]
            keys["jwks"] = KeySet.import_key_set(requests.get(jwks_uri, timeout=timeout).json())
            keys["fetched"] = time.monotonic()
        return keys["jwks"]

    def current_login() -> dict | None:
        if not logins.active(session.get("local_id")):
            session.pop("user", None)
            return None
        return session.get("user")

    def csrf_token() -> str:
        session.setdefault("csrf", secrets.token_urlsafe(16))
        return session["csrf"]

    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.get("/")
    def home() -> str:
        return render_template("home.html", user=current_login(), name=settings["PORTAL_NAME"])

    @app.get("/login")
    def login():  # noqa: ANN202
        # Authlib adds state, a nonce (openid scope) and the PKCE S256 challenge, kept in the session.
        return idp.authorize_redirect(url_for("callback", _external=True))

    @app.get("/step-up")
    def step_up():  # noqa: ANN202
        return idp.authorize_redirect(url_for("callback", _external=True), acr_values=ACR_HIGH)

    @app.get("/callback")
    def callback():  # noqa: ANN202
        if "error" in request.args:
            return render_template("home.html", user=None, name=settings["PORTAL_NAME"],
                                   error=request.args.get("error_description") or request.args["error"]), 400
        token = idp.authorize_access_token()  # checks state, sends code_verifier, validates the ID token + nonce
        claims = dict(token["userinfo"])
        userinfo = dict(idp.userinfo(token=token))
        if userinfo.get("sub") != claims["sub"]:
            abort(400)
        logins.end(session.get("local_id"))
        session.clear()
        session["local_id"] = logins.add(claims.get("sid"), claims["sub"])
        session["user"] = {"claims": claims, "userinfo": userinfo, "id_token": token["id_token"]}
        return redirect(url_for("claims"))

    @app.get("/claims")
    def claims():  # noqa: ANN202
        user = current_login()
        if user is None:
            return redirect(url_for("home"))
        return render_template("claims.html", user=user, name=settings["PORTAL_NAME"])

    @app.post("/logout")
    def logout():  # noqa: ANN202
        if not secrets.compare_digest(request.form.get("csrf_token", ""), session.get("csrf", "-")):
            abort(400)
        user = current_login()
        logins.end(session.get("local_id"))
        session.clear()
        if user is None:
            return redirect(url_for("home"))
        end_session = idp.load_server_metadata()["end_session_endpoint"]
        query = requests.Request("GET", end_session, params={
            "id_token_hint": user["id_token"], "post_logout_redirect_uri": url_for("home", _external=True),
            "client_id": settings["CLIENT_ID"]}).prepare().url
        return redirect(query)

    @app.post("/backchannel-logout")
    def backchannel_logout():  # noqa: ANN202
        """Back-Channel Logout 1.0 §2.6: validate the logout token, end the matching local sessions."""
        token = request.form.get("logout_token", "")
        try:
            claims = validate_logout_token(token)
        except (JoseError, ValueError) as exc:
            response = jsonify(error="invalid_request", error_description=str(exc) or type(exc).__name__)
            response.status_code = 400
            response.headers["Cache-Control"] = "no-store"
            return response
        logins.end_matching(claims.get("sid"), claims.get("sub"))
        response = app.response_class(status=200)
        response.headers["Cache-Control"] = "no-store"
        return response

    def validate_logout_token(token: str) -> dict:
        if not token or len(token) > 8192:
            raise ValueError("logout_token is missing")
        try:
            decoded = jwt.decode(token, provider_keys(), algorithms=["ES256", "RS256"])
        except JoseError:  # perhaps a key published after our copy: fetch once more
            decoded = jwt.decode(token, provider_keys(refresh=True), algorithms=["ES256", "RS256"])
        if decoded.header.get("typ", "logout+jwt") != "logout+jwt":
            raise ValueError("typ must be logout+jwt")
        claims = decoded.claims
        JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": issuer},
                          aud={"essential": True, "value": settings["CLIENT_ID"]},
                          iat={"essential": True}, jti={"essential": True}).validate(claims)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise ValueError("events must contain the back-channel logout event")
        if "nonce" in claims:
            raise ValueError("a logout token must not contain a nonce")
        if not claims.get("sid") and not claims.get("sub"):
            raise ValueError("a logout token needs sid or sub")
        if not logins.first_use(str(claims["jti"])):
            raise ValueError("logout token replayed")
        return claims

    return app


if __name__ == "__main__":
    from urllib.parse import urlsplit

    port = urlsplit(os.environ.get("PORTAL_URL", DEFAULTS["PORTAL_URL"])).port or 8002
    create_app().run(host="127.0.0.1", port=port)
