"""Login gateway for nginx `auth_request`: a small relying party of the national SSO in front of any site.

nginx (nginx.conf beside this file) asks `GET /oauth2/auth` before serving a protected location: 204 with
`X-Auth-Request-User` (the pairwise `sub`) and `X-Auth-Request-Acr` when the browser has a login here,
401 otherwise, and nginx then hands the request to `/oauth2/start`, which sends the browser to the
provider (authorization code + PKCE S256 + nonce) and, back at `/oauth2/callback`, to the page it asked
for. `/oauth2/sign_out` ends the login here and at the provider (RP-Initiated Logout 1.0);
`POST /oauth2/backchannel_logout` receives the provider's logout tokens (Back-Channel Logout 1.0).

The relying-party parts are the ministry example's (clients/examples/ministry/app.py): its Authlib client,
its login store and its back-channel logout receiver, which validates logout tokens. This file adds only
what nginx needs. Run (the README shows the whole setup):

    PORTAL_URL=http://127.0.0.1:8080 GATEWAY_PORT=8081 CLIENT_ID=... CLIENT_SECRET=... \
        python clients/examples/nginx/gateway.py

Settings from the environment: IDP_ISSUER, CLIENT_ID, CLIENT_SECRET, PORTAL_URL (the public URL of nginx),
GATEWAY_PORT, PORTAL_SECRET_KEY, SIGNED_OUT_PATH.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from authlib.integrations.base_client import OAuthError
from flask import Flask
from flask import Response
from flask import abort
from flask import redirect
from flask import render_template_string
from flask import request
from flask import session

MINISTRY_APP = Path(__file__).resolve().parent.parent / "ministry" / "app.py"
DEFAULTS = {
    "IDP_ISSUER": "http://127.0.0.1:5000",
    "CLIENT_ID": "demo-nginx-gateway",
    "CLIENT_SECRET": "",
    "PORTAL_URL": "http://127.0.0.1:8080",
    "PORTAL_NAME": "Cổng sau nginx (demo)",
    "SCOPE": "openid profile",
    "SESSION_COOKIE_NAME": "gateway_session",
    "SIGNED_OUT_PATH": "/signed-out.html",
}
PAGE = """<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1>{% if message %}<p>{{ message }}</p>{% endif %}
{% if csrf %}<form method="post" action="/oauth2/sign_out"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit">Đăng xuất / Sign out</button></form>{% endif %}
<p><a href="/">Trang chủ / Home</a></p></main></body></html>"""


def _relying_party() -> Any:  # noqa: ANN401 - the ministry example's module
    spec = importlib.util.spec_from_file_location("nginx_gateway_relying_party", MINISTRY_APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def is_local_path(target: str | None) -> bool:
    """Only a path on this site may be the place to return to (no open redirect): `/x`, never `//host`."""
    return bool(target) and target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target \
        and not urlsplit(target).netloc and len(target) <= 2000


def create_gateway(config: dict[str, Any] | None = None) -> Flask:
    settings = {key: os.environ.get(key, value) for key, value in DEFAULTS.items()}
    settings.update(config or {})
    settings["TOKEN_ENDPOINT_AUTH_METHOD"] = "client_secret_basic" if settings["CLIENT_SECRET"] else "none"
    app = _relying_party().create_app(settings)
    portal = settings["PORTAL_URL"].rstrip("/")
    app.config["SESSION_COOKIE_SECURE"] = portal.startswith("https://")
    idp = app.extensions["authlib.integrations.flask_client"].create_client("idp")
    logins = app.extensions["portal.logins"]

    def page(title: str, message: str = "", status: int = 200, csrf: str | None = None) -> Response:
        response = Response(render_template_string(PAGE, title=title, message=message, csrf=csrf), status=status)
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/oauth2/auth", endpoint="gateway_auth")
    def auth() -> Response:
        """nginx auth_request: 204 with the user's headers, or 401. Never a redirect (nginx would refuse it)."""
        user = session.get("user") if logins.active(session.get("local_id")) else None
        if user is None:
            return Response(status=401, headers={"Cache-Control": "no-store"})
        claims = user["claims"]
        return Response(status=204, headers={"X-Auth-Request-User": claims["sub"],
                                             "X-Auth-Request-Acr": claims.get("acr", ""),
                                             "Cache-Control": "no-store"})

    @app.get("/oauth2/start", endpoint="gateway_start")
    def start() -> Response:
        # nginx's error_page sends the protected request here: X-Original-URI is the page the browser wanted.
        original = request.headers.get("X-Original-URI")
        wanted = original if is_local_path(original) and not original.startswith("/oauth2/") else \
            request.args.get("rd")
        session["rd"] = wanted if is_local_path(wanted) else "/"
        # Authlib adds state, a nonce (openid scope) and the PKCE S256 challenge, kept in the session.
        return idp.authorize_redirect(f"{portal}/oauth2/callback")

    @app.get("/oauth2/callback", endpoint="gateway_callback")
    def callback() -> Response:
        if "error" in request.args:
            return page("Đăng nhập không thành công / Login failed",
                        request.args.get("error_description") or request.args["error"], 400)
        try:
            token = idp.authorize_access_token()  # checks state, sends code_verifier, validates the ID token
        except OAuthError as exc:  # a forged or replayed state, a code from another browser
            return page("Đăng nhập không thành công / Login failed",
                        f"{exc.error}: bắt đầu lại / start again.", 400)
        claims = dict(token["userinfo"])
        target = session.get("rd", "/")
        logins.end(session.get("local_id"))
        session.clear()
        session["local_id"] = logins.add(claims.get("sid"), claims["sub"])
        session["user"] = {"claims": {k: claims[k] for k in ("sub", "acr", "sid") if k in claims},
                           "id_token": token["id_token"]}
        return redirect(target if is_local_path(target) else "/")

    @app.get("/oauth2/sign_out", endpoint="gateway_sign_out")
    def sign_out_page() -> Response:
        session.setdefault("csrf", secrets.token_urlsafe(16))
        return page("Đăng xuất / Sign out", "Đăng xuất khỏi mọi cổng dịch vụ? / Sign out of every portal?",
                    csrf=session["csrf"])

    @app.post("/oauth2/sign_out", endpoint="gateway_sign_out_confirmed")
    def sign_out() -> Response:
        if not secrets.compare_digest(request.form.get("csrf_token", ""), session.get("csrf", "-")):
            abort(400)
        user = session.get("user") if logins.active(session.get("local_id")) else None
        logins.end(session.get("local_id"))
        session.clear()
        done = f"{portal}{settings['SIGNED_OUT_PATH']}"
        if user is None:
            return redirect(done)
        end_session = idp.load_server_metadata()["end_session_endpoint"]
        return redirect(f"{end_session}?" + urlencode({"id_token_hint": user["id_token"], "client_id":
                                                       settings["CLIENT_ID"], "post_logout_redirect_uri": done}))

    # The ministry example's receiver (logout token checks, then its sessions end) under the gateway's prefix.
    app.add_url_rule("/oauth2/backchannel_logout", "gateway_backchannel_logout",
                     app.view_functions["backchannel_logout"], methods=["POST"])
    return app


if __name__ == "__main__":
    create_gateway().run(host="127.0.0.1", port=int(os.environ.get("GATEWAY_PORT", "8081")))
