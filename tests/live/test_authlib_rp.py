"""A real relying party (Authlib's Flask client, requests underneath) logs in against a real server.

The RP discovers the provider, sends a PKCE + nonce authorization request, exchanges the code
over HTTP and validates the ID token against the JWKS it fetches over HTTP.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import session

pytestmark = pytest.mark.live

PIN = "001090012345"  # a demo account (idp/demo.py)
DEMO_PASSWORD = "demo-password-2025"
REDIRECT = "http://127.0.0.1:8002/callback"


def make_portal(issuer: str) -> Flask:
    """The ministry demo portal, as a portal developer would write it with Authlib."""
    portal = Flask("portal")
    portal.secret_key = "portal-test-secret"
    oauth = OAuth(portal)
    oauth.register("national", client_id="demo-ministry-finance", client_secret="demo-ministry-finance-secret",
                   server_metadata_url=f"{issuer}/.well-known/openid-configuration",
                   client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"})

    @portal.get("/login")
    def login():  # noqa: ANN202
        return oauth.national.authorize_redirect(REDIRECT)

    @portal.get("/callback")
    def callback():  # noqa: ANN202
        token = oauth.national.authorize_access_token()
        session["claims"] = dict(token["userinfo"])
        session["access_token"] = token["access_token"]
        return {"claims": session["claims"], "userinfo": dict(oauth.national.userinfo(token=token))}

    return portal


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_authlib_client_logs_in_and_validates_id_token(live_server):
    portal = make_portal(live_server.url).test_client()
    browser = requests.Session()

    start = portal.get("/login")
    assert start.status_code == 302 and start.location.startswith(f"{live_server.url}/oauth2/authorize?")
    to_login = browser.get(start.location, allow_redirects=False)
    assert to_login.status_code == 302
    login_url = urljoin(live_server.url, to_login.headers["Location"])
    page = browser.get(login_url)
    next_url = re.search(r'name="next" type="hidden" value="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    logged_in = browser.post(f"{live_server.url}/auth/login", allow_redirects=False, data={
        "csrf_token": _csrf(page.text), "identifier": PIN, "password": DEMO_PASSWORD, "next": next_url})
    assert logged_in.status_code == 303, logged_in.text[:300]
    # Cookies cross worker processes: the next request may land on the other worker.
    consent = browser.get(urljoin(live_server.url, logged_in.headers["Location"]), allow_redirects=False)
    assert consent.status_code == 200 and 'name="decision"' in consent.text
    action = re.search(r'<form method="post" action="([^"]+)"', consent.text).group(1).replace("&amp;", "&")
    granted = browser.post(urljoin(live_server.url, action), allow_redirects=False,
                           data={"csrf_token": _csrf(consent.text), "decision": "allow"})
    assert granted.status_code == 302 and granted.headers["Location"].startswith(REDIRECT + "?code=")

    result = portal.get(granted.headers["Location"].replace("http://127.0.0.1:8002", ""))
    assert result.status_code == 200, result.get_data(as_text=True)[:500]
    body = result.get_json()
    assert body["claims"]["iss"] == live_server.url
    assert body["claims"]["acr"] == "urn:vn:gov:sso:loa:low"
    assert body["userinfo"]["name"] == "Nguyễn Văn An"
    assert body["userinfo"]["sub"] == body["claims"]["sub"]

    # Single sign-on: a second authorization request completes without the login page.
    again = portal.get("/login")
    silent = browser.get(again.location, allow_redirects=False)
    assert silent.status_code == 302 and silent.headers["Location"].startswith(REDIRECT + "?code=")


def test_jwks_and_discovery_served_by_every_worker(live_server):
    kids = set()
    for _ in range(6):
        jwks = requests.get(f"{live_server.url}/jwks.json", timeout=5).json()
        kids.add(tuple(sorted(k["kid"] for k in jwks["keys"])))
    assert len(kids) == 1
