"""The example portals in clients/examples run against the provider as real HTTP servers on loopback.

Covers OIDC Core §3.1 (code flow with PKCE and nonce), SSO across two portals, RP-Initiated Logout
1.0 §2 (id_token_hint + post_logout_redirect_uri) and Back-Channel Logout 1.0 §2.6 (logout token
validation by the receiver: signature, iss, aud, events, sid/sub, no nonce, jti replay)."""

from __future__ import annotations

import importlib.util
import re
import secrets
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey
from werkzeug.serving import make_server

from tests.conftest import PASSWORD
from tests.conftest import csrf_from

EXAMPLES = Path(__file__).parent.parent.parent / "clients" / "examples"
TIMEOUT = 10
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Server:
    """A real threaded HTTP server on a free loopback port; the WSGI app can be attached after binding."""

    def __init__(self) -> None:
        self.app: Any = None
        self.server = make_server("127.0.0.1", 0, lambda env, start: self.app(env, start), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(TIMEOUT)


def load_example(name: str):  # noqa: ANN201
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def provider_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(provider_server: Server) -> dict[str, Any]:
    return {"issuer": provider_server.url}


@pytest.fixture
def portals(app: Flask, provider_server: Server, make_client) -> Iterator[dict[str, Server]]:  # noqa: ANN001
    provider_server.app = app
    servers = {"ministry": Server(), "province": Server()}
    for name, server in servers.items():
        public = name == "province"
        client_id, secret = make_client(
            name=f"Cổng {name}", redirect_uris=[f"{server.url}/callback"], post_logout_redirect_uris=[f"{server.url}/"],
            backchannel_logout_uri=f"{server.url}/backchannel-logout",
            token_endpoint_auth_method="none" if public else "client_secret_basic")
        server.client_id = client_id
        server.app = load_example(name).create_app({
            "IDP_ISSUER": provider_server.url, "CLIENT_ID": client_id, "CLIENT_SECRET": secret or "",
            "SECRET_KEY": secrets.token_hex(16)})
    yield servers
    for server in servers.values():
        server.stop()


def log_in_at(browser: requests.Session, portal: Server, identifier: str | None) -> requests.Response:
    """Portal /login → provider authorize → (login) → (consent) → portal callback → claims page."""
    page = browser.get(f"{portal.url}/login", timeout=TIMEOUT)
    if "/auth/login" in page.url:
        assert identifier, "the provider asked to log in again"
        nxt = parse_qs(urlsplit(page.url).query)["next"][0]
        page = browser.post(page.url.split("?")[0], timeout=TIMEOUT, data={
            "csrf_token": csrf_from(page.text), "identifier": identifier, "password": PASSWORD, "next": nxt})
    if 'name="decision"' in page.text:
        action = unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
        base = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        page = browser.post(base + action, data={"csrf_token": csrf_from(page.text), "decision": "allow"},
                            timeout=TIMEOUT)
    return page


def sub_on(page: requests.Response) -> str:
    match = re.search(r'<code id="sub">([^<]+)</code>', page.text)
    assert match, page.text[:800]
    return match.group(1)


def test_login_claims_sso_and_logout_across_both_portals(portals: dict[str, Server], make_account) -> None:  # noqa: ANN001
    identifier = "001090770001"
    make_account(identifier)
    browser = requests.Session()
    ministry, province = portals["ministry"], portals["province"]
    page = log_in_at(browser, ministry, identifier)
    assert page.url == f"{ministry.url}/claims"
    assert sub_on(page) and "UserInfo" in page.text and "urn:vn:gov:sso:loa" in page.text
    # SSO: the second portal completes without the login page (consent only: a new portal).
    page = log_in_at(browser, province, None)
    assert page.url == f"{province.url}/claims"
    assert all("/auth/login" not in r.url for r in page.history)
    assert sub_on(page) != ""
    # RP-initiated logout from the ministry: back to its home page, logged out there.
    claims = browser.get(f"{ministry.url}/claims", timeout=TIMEOUT)
    token = csrf_from(claims.text)
    page = browser.post(f"{ministry.url}/logout", data={"csrf_token": token}, timeout=TIMEOUT)
    assert any("/oauth2/logout" in r.url and "id_token_hint=" in r.url for r in page.history)
    assert page.url == f"{ministry.url}/" and "chưa đăng nhập" in page.text
    assert browser.get(f"{ministry.url}/claims", timeout=TIMEOUT).url == f"{ministry.url}/"
    # The provider session is over: the next login asks again.
    assert "/auth/login" in browser.get(f"{ministry.url}/login", timeout=TIMEOUT).url


def test_logout_without_csrf_token_is_refused(portals: dict[str, Server], make_account) -> None:  # noqa: ANN001
    make_account("001090770002")
    browser = requests.Session()
    log_in_at(browser, portals["ministry"], "001090770002")
    assert browser.post(f"{portals['ministry'].url}/logout", data={}, timeout=TIMEOUT).status_code == 400
    assert browser.get(f"{portals['ministry'].url}/claims", timeout=TIMEOUT).url.endswith("/claims")


def test_step_up_asks_for_high_with_pkce_and_nonce(portals: dict[str, Server]) -> None:
    response = requests.get(f"{portals['province'].url}/step-up", allow_redirects=False, timeout=TIMEOUT)
    params = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}
    assert params["acr_values"] == "urn:vn:gov:sso:loa:high"
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]


def test_denied_consent_shows_an_error(portals: dict[str, Server], make_account) -> None:  # noqa: ANN001
    make_account("001090770003")
    browser = requests.Session()
    page = browser.get(f"{portals['ministry'].url}/login", timeout=TIMEOUT)
    nxt = parse_qs(urlsplit(page.url).query)["next"][0]
    page = browser.post(page.url.split("?")[0], timeout=TIMEOUT, data={
        "csrf_token": csrf_from(page.text), "identifier": "001090770003", "password": PASSWORD, "next": nxt})
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    base = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    page = browser.post(base + action, data={"csrf_token": csrf_from(page.text), "decision": "deny"}, timeout=TIMEOUT)
    assert page.status_code == 400 and "Login failed" in page.text and "Log in" in page.text


# --- back-channel logout receiver -------------------------------------------------------------
def provider_key(app: Flask) -> ECKey:
    from idp.oidc.runtime import runtime

    with app.app_context():
        return runtime().keys.signing_key("ES256")


def logout_token(key: ECKey, issuer: str, audience: str | list[str], **claims: Any) -> str:
    body = {"iss": issuer, "aud": audience, "iat": int(time.time()), "exp": int(time.time()) + 120,
            "jti": secrets.token_hex(8), "events": {LOGOUT_EVENT: {}}, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "logout+jwt"}, body, key)


def sid_of(browser: requests.Session, portal: Server) -> str:
    return re.search(r'<code id="sid">([^<]+)</code>', browser.get(f"{portal.url}/claims", timeout=TIMEOUT).text
                     ).group(1)


def test_backchannel_logout_ends_only_the_named_session(app: Flask, provider_server: Server,
                                                        portals: dict[str, Server], make_account) -> None:  # noqa: ANN001
    make_account("001090770004")
    make_account("001090770005")
    ministry = portals["ministry"]
    first, second = requests.Session(), requests.Session()
    log_in_at(first, ministry, "001090770004")
    log_in_at(second, ministry, "001090770005")
    sid = sid_of(first, ministry)
    token = logout_token(provider_key(app), provider_server.url, [ministry.client_id], sid=sid)
    response = requests.post(f"{ministry.url}/backchannel-logout", data={"logout_token": token}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert first.get(f"{ministry.url}/claims", timeout=TIMEOUT).url == f"{ministry.url}/"
    assert second.get(f"{ministry.url}/claims", timeout=TIMEOUT).url == f"{ministry.url}/claims"
    replay = requests.post(f"{ministry.url}/backchannel-logout", data={"logout_token": token}, timeout=TIMEOUT)
    assert replay.status_code == 400 and "replayed" in replay.json()["error_description"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"iss": "http://evil.example"}, "iss"),
    ({"aud": "another-portal"}, "aud"),
    ({"events": None}, "events"),
    ({"events": {"http://schemas.openid.net/event/other": {}}}, "events"),
    ({"nonce": "n-1"}, "nonce"),
    ({"sid": None, "sub": None}, "sid or sub"),
    ({"jti": None}, "jti"),
    ({"exp": 1}, "expired"),
])
def test_backchannel_logout_rejects_invalid_tokens(app: Flask, provider_server: Server, portals: dict[str, Server],
                                                   make_account, change: dict, reason: str) -> None:  # noqa: ANN001
    make_account("001090770006")
    ministry = portals["ministry"]
    browser = requests.Session()
    log_in_at(browser, ministry, "001090770006")
    claims = {"iss": provider_server.url, "aud": ministry.client_id, "sid": sid_of(browser, ministry), **change}
    iss, aud = claims.pop("iss"), claims.pop("aud")
    token = logout_token(provider_key(app), iss, aud, **claims)
    response = requests.post(f"{ministry.url}/backchannel-logout", data={"logout_token": token}, timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert reason in response.json()["error_description"]
    assert browser.get(f"{ministry.url}/claims", timeout=TIMEOUT).url == f"{ministry.url}/claims"


@pytest.mark.parametrize("token", ["", "not.a.jwt", "x" * 9000])
def test_backchannel_logout_rejects_garbage_and_foreign_keys(portals: dict[str, Server], provider_server: Server,
                                                             token: str) -> None:
    ministry = portals["ministry"]
    response = requests.post(f"{ministry.url}/backchannel-logout", data={"logout_token": token}, timeout=TIMEOUT)
    assert response.status_code == 400
    forged = logout_token(ECKey.generate_key("P-256", parameters={"kid": "forged"}), provider_server.url,
                          ministry.client_id, sid="s")
    response = requests.post(f"{ministry.url}/backchannel-logout", data={"logout_token": forged}, timeout=TIMEOUT)
    assert response.status_code == 400


def test_single_logout_from_one_portal_ends_the_other(portals: dict[str, Server], make_account,  # noqa: ANN001
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-Channel Logout 1.0 §2.5 end to end: the provider's own logout token, the example's receiver."""
    logout = pytest.importorskip("idp.oidc.logout")
    if not hasattr(logout, "launch"):
        pytest.skip("the provider has no back-channel delivery hook")
    launched: list = []
    ready = threading.Event()

    def collect(work):  # noqa: ANN001, ANN202 - run the delivery here, in the test, not in a thread
        launched.append(work)
        ready.set()

    monkeypatch.setattr(logout, "launch", collect)
    make_account("001090770007")
    browser = requests.Session()
    ministry, province = portals["ministry"], portals["province"]
    log_in_at(browser, ministry, "001090770007")
    log_in_at(browser, province, None)
    other = requests.Session()  # the same person's province session must end; another browser's stays
    make_account("001090770008")
    log_in_at(other, province, "001090770008")
    claims = browser.get(f"{ministry.url}/claims", timeout=TIMEOUT)
    page = browser.post(f"{ministry.url}/logout", data={"csrf_token": csrf_from(claims.text)}, timeout=TIMEOUT)
    assert page.url == f"{ministry.url}/"
    assert ready.wait(TIMEOUT), "the provider queued no back-channel delivery"
    for work in launched:
        work()
    assert browser.get(f"{province.url}/claims", timeout=TIMEOUT).url == f"{province.url}/"
    assert other.get(f"{province.url}/claims", timeout=TIMEOUT).url == f"{province.url}/claims"
