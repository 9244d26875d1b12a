"""A real Node.js relying party (npm `openid-client`, panva, certified OpenID RP library) against a real server.

tests/live/interop/rp.mjs does what a Node.js portal does with the library: discovery, an authorization
request with PKCE S256 (RFC 7636 §4.2), state and nonce, the code exchange with ID token validation
(OIDC Core §3.1.3.7: iss, aud, exp, iat, nonce, signature against the JWKS), userinfo (OIDC Core §5.3,
`sub` must match), the refresh token grant (RFC 6749 §6) and the RP-Initiated Logout URL (RP-Initiated
Logout 1.0 §2). This test plays the browser and asserts the results.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from tests.live.conftest import log_in_and_consent
from tests.live.conftest import require_tool

pytestmark = pytest.mark.live

INTEROP = Path(__file__).parent / "interop"
REDIRECT = "http://127.0.0.1:8004/callback"
AFTER_LOGOUT = "http://127.0.0.1:8004/"


@pytest.fixture(scope="module")
def node() -> str:
    node = require_tool(os.environ.get("NODE", "node"), "Node.js", "apt-get install nodejs")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if int(version.lstrip("v").split(".")[0] or 0) < 20:
        require_tool(None, f"Node.js 20 or later (found {version})", "openid-client 6 needs WebCrypto globals")
    if not (INTEROP / "node_modules" / "openid-client").is_dir():
        require_tool(None, "npm openid-client", "make interop")
    return node


@pytest.fixture(scope="module")
def node_portal(live_server) -> dict:
    return json.loads(live_server.cli("clients", "add", "--name", "Node openid-client portal",
                                      "--redirect-uri", REDIRECT, "--post-logout-redirect-uri", AFTER_LOGOUT))


def run_rp(node: str, mode: str, payload: dict) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(INTEROP / "rp.mjs"), mode], input=json.dumps(payload), capture_output=True,
                          text=True, timeout=60)


def rp(node: str, mode: str, payload: dict) -> dict:
    done = run_rp(node, mode, payload)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _start(node: str, live_server, portal: dict) -> tuple[dict, dict]:
    base = {"issuer": live_server.url, "client_id": portal["client_id"], "client_secret": portal["client_secret"],
            "redirect_uri": REDIRECT, "scope": "openid profile offline_access"}
    return base, rp(node, "start", base)


def test_openid_client_code_flow_userinfo_refresh_and_logout(node, live_server, node_portal):
    base, started = _start(node, live_server, node_portal)
    request = parse_qs(urlsplit(started["authorization_url"]).query)
    assert started["authorization_url"].startswith(f"{live_server.url}/oauth2/authorize?")  # from discovery
    assert request["code_challenge_method"] == ["S256"] and request["nonce"] == [started["nonce"]]

    browser = requests.Session()
    callback = log_in_and_consent(live_server, browser, started["authorization_url"], REDIRECT)
    done = rp(node, "finish", {**base, **started, "callback_url": callback, "post_logout_redirect_uri": AFTER_LOGOUT})

    claims = done["claims"]  # validated by openid-client
    assert claims["iss"] == live_server.url and claims["aud"] in (node_portal["client_id"], [node_portal["client_id"]])
    assert claims["nonce"] == started["nonce"] and claims["acr"] == "urn:vn:gov:sso:loa:low"
    assert done["userinfo"]["sub"] == claims["sub"] and done["userinfo"]["name"] == "Nguyễn Văn An"
    assert done["token"]["token_type"].lower() == "bearer" and done["token"]["has_refresh_token"]

    refreshed = done["refreshed"]  # RFC 6749 §6; the provider rotates refresh tokens
    assert refreshed["access_token"] != done["token"]["access_token"]
    assert refreshed["refresh_token"] and refreshed["refresh_token"] != done["token"]["refresh_token"]
    if done["refreshed_claims"]:
        assert done["refreshed_claims"]["sub"] == claims["sub"]
    rotated = requests.post(f"{live_server.url}/oauth2/token", timeout=10,
                            auth=(node_portal["client_id"], node_portal["client_secret"]),
                            data={"grant_type": "refresh_token", "refresh_token": done["token"]["refresh_token"]})
    assert rotated.status_code == 400 and rotated.json()["error"] == "invalid_grant"  # the old one is spent

    end = urlsplit(done["end_session_url"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{live_server.url}/oauth2/logout"
    logout = browser.get(done["end_session_url"], allow_redirects=False)
    assert logout.status_code == 302, logout.text[:300]
    back = logout.headers["Location"]
    assert back.startswith(AFTER_LOGOUT) and parse_qs(urlsplit(back).query)["state"] == ["bye"]
    # The single sign-on session is over: a new authorization request goes to the login page again.
    _, again = _start(node, live_server, node_portal)
    to_login = browser.get(again["authorization_url"], allow_redirects=False)
    assert to_login.status_code == 302 and "/auth/login" in to_login.headers["Location"]


def test_openid_client_rejects_a_forged_state(node, live_server, node_portal):
    """RFC 6749 §10.12 / OIDC Core §3.1.2.7: the library refuses a callback whose state is not the one it sent."""
    base, started = _start(node, live_server, node_portal)
    callback = log_in_and_consent(live_server, requests.Session(), started["authorization_url"], REDIRECT)
    done = run_rp(node, "finish", {**base, **started, "state": "forged", "callback_url": callback,
                                   "post_logout_redirect_uri": AFTER_LOGOUT})
    assert done.returncode == 1 and "state" in done.stderr.lower(), done.stderr


def test_openid_client_rejects_a_wrong_nonce_and_a_wrong_verifier(node, live_server, node_portal):
    """OIDC Core §3.1.3.7 step 11 (nonce) and RFC 7636 §4.6 (the provider checks the verifier)."""
    browser = requests.Session()
    base, started = _start(node, live_server, node_portal)
    callback = log_in_and_consent(live_server, browser, started["authorization_url"], REDIRECT)
    wrong_nonce = run_rp(node, "finish", {**base, **started, "nonce": "not-the-nonce", "callback_url": callback,
                                          "post_logout_redirect_uri": AFTER_LOGOUT})
    assert wrong_nonce.returncode == 1 and "nonce" in wrong_nonce.stderr.lower(), wrong_nonce.stderr

    base, started = _start(node, live_server, node_portal)
    callback = log_in_and_consent(live_server, browser, started["authorization_url"], REDIRECT)
    wrong_verifier = run_rp(node, "finish", {**base, **started, "code_verifier": "x" * 64, "callback_url": callback,
                                             "post_logout_redirect_uri": AFTER_LOGOUT})
    assert wrong_verifier.returncode == 1 and "invalid_grant" in wrong_verifier.stderr, wrong_verifier.stderr
