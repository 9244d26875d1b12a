"""VNeID end to end: the Flask test client is the browser on our side, `requests` is the browser at
the sandbox provider, which runs over real HTTP on 127.0.0.1 (docs/sources/vneid.md).

Each redirect is followed by hand and its Location asserted; the ID token is checked against our
published JWKS as a portal would.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from idp import create_app
from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import LinkedIdentity
from idp.accounts.service import find_account
from idp.extensions import db
from idp.verifiers.base import Level
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.conftest import BrowserFlow
from tests.conftest import base_settings
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import dispose
from tests.conftest import query_of
from tests.verifiers.drivers.vneid import answer_at_sandbox

CALLBACK = "http://localhost/auth/sources/vneid/callback"
PORTAL_CALLBACK = "https://portal.example.vn/callback"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningSandbox]:
    running = start_in_thread({"national-sso": {"redirect_uris": [CALLBACK], "secret": "e2e-secret"}})
    yield running
    running.stop()



@pytest.fixture
def settings_overrides(upstream: RunningSandbox) -> dict[str, Any]:
    return {"verifiers": {"mock": {"kind": "mock"}, "vneid": {
        "kind": "vneid", "sandbox": True, "issuer": upstream.issuer, "client_id": "national-sso",
        "client_secret": "e2e-secret"}}}


def start_vneid(client, next_url: str = ""):  # noqa: ANN001, ANN201
    """Press the VNeID button on the login page (POST /auth/sources/vneid/start)."""
    page = client.get("/auth/login?next=" + next_url).get_data(as_text=True)
    form = re.search(r'action="/auth/sources/vneid/start">\s*<input id="csrf_token" name="csrf_token" '
                     r'type="hidden" value="([^"]+)"', page)
    assert form, "no VNeID button on the login page"
    return client.post("/auth/sources/vneid/start", data={"csrf_token": form.group(1), "next": next_url})


def callback(client, location: str):  # noqa: ANN001, ANN201
    """Follow the sandbox's redirect to our fixed callback, as an English-speaking browser."""
    assert location.startswith(CALLBACK + "?"), location
    return client.get(location.removeprefix("http://localhost"), headers={"Accept-Language": "en"})


def portal_login(browser, client, make_client, upstream: RunningSandbox, personal_id: str) -> dict[str, Any]:  # noqa: ANN001
    """Portal → our login page → VNeID sandbox → our callback → portal; return the ID token claims."""
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri=PORTAL_CALLBACK, nonce="portal-nonce")
    assert start.status_code == 302 and "/auth/login" in start.location
    next_url = query_of(start.location)["next"]
    to_upstream = start_vneid(client, next_url)
    assert to_upstream.status_code == 303
    assert to_upstream.location.startswith(upstream.issuer + "/authorize?")
    sent = query_of(to_upstream.location)
    assert sent["redirect_uri"] == CALLBACK and sent["code_challenge_method"] == "S256"
    assert sent["client_id"] == "national-sso" and sent["nonce"] and sent["state"]
    done = callback(client, answer_at_sandbox(to_upstream.location, personal_id))
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    assert done.location == next_url
    final = client.get(done.location)
    assert final.status_code == 302 and final.location.startswith(PORTAL_CALLBACK)
    tokens = browser.exchange(query_of(final.location)["code"], client_id, secret).get_json()
    return decode_with_jwks(client, tokens["id_token"])[1]


def _form_action(response) -> list[str]:  # noqa: ANN001
    policy = response.headers["Content-Security-Policy"]
    return next(part for part in policy.split(";") if part.strip().startswith("form-action")).split()[1:]


def test_pages_with_source_buttons_allow_the_upstream_in_form_action(app, client, upstream):
    """CSP Level 3 §6.3.1.1: browsers apply form-action to the redirects that follow a form submission,
    so the button's POST /auth/sources/vneid/start -> 303 to the upstream needs the upstream's origin."""
    origin = upstream.issuer.rstrip("/")
    login = client.get("/auth/login")
    assert _form_action(login) == ["'self'", origin]
    started = start_vneid(client)
    assert started.status_code == 303 and started.location.startswith(origin + "/")
    with app.app_context():
        from idp.verifiers.registry import verifiers

        assert verifiers()["vneid"].browser_origins() == (origin,)  # the discovered endpoint: same origin


def test_a_discovered_authorization_endpoint_elsewhere_is_allowed_once_known(app, upstream):
    from idp.verifiers.vneid.upstream import UpstreamVerifier

    with app.app_context():
        from idp.verifiers.registry import verifiers

        verifier = verifiers()["vneid"]
        assert isinstance(verifier, UpstreamVerifier)
        verifier._metadata = {**verifier.metadata(), "authorization_endpoint": "https://login.vneid.example/a"}  # noqa: SLF001
        assert verifier.browser_origins() == (upstream.issuer.rstrip("/"), "https://login.vneid.example")


def test_level_2_citizen_gets_a_new_account_at_high(app, browser, client, make_client, upstream):
    """docs/assurance.md: VNeID level 2 proves HIGH; the new national account holds the verified claims."""
    claims = portal_login(browser, client, make_client, upstream, "001090012345")
    assert claims["acr"] == "urn:vn:gov:sso:loa:high"
    assert "vneid" in claims["amr"] and "pwd" not in claims["amr"]
    with app.app_context():
        account = find_account("001090012345")
        assert account.full_name == "Nguyễn Văn An" and account.birthdate == date(1990, 3, 15)
        assert account.gender == "male"
        assert account.verification_of("full_name").source == "vneid"
        assert identity_level(account) == Level.HIGH
        [link] = linked_sources(account)
        citizen = upstream.provider.citizens["001090012345"]
        assert link.source == "vneid" and link.subject == citizen.subject


def test_level_1_citizen_gets_substantial(app, browser, client, make_client, upstream):
    """docs/assurance.md: VNeID level 1 proves SUBSTANTIAL."""
    claims = portal_login(browser, client, make_client, upstream, "079185000123")
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and "vneid" in claims["amr"]
    with app.app_context():
        account = find_account("079185000123")
        assert account.full_name == "Trần Thị Bình" and identity_level(account) == Level.SUBSTANTIAL


def test_second_login_finds_the_linked_account(app, browser, client, make_client, upstream):
    """Rule 1 of linking: the (source, subject) already linked logs that account in; no second account."""
    portal_login(browser, client, make_client, upstream, "031196007890")
    other = app.test_client()
    portal_login(BrowserFlow(other), other, make_client, upstream, "031196007890")
    with app.app_context():
        links = db.session.execute(select(LinkedIdentity).where(LinkedIdentity.source == "vneid")).scalars().all()
        assert len(links) == 1


def test_cancel_at_vneid_ends_the_attempt_with_a_clear_page(app, client, upstream):
    """OIDC Core §3.1.2.6: access_denied means the person said no: `cancelled`, nothing created."""
    to_upstream = start_vneid(client)
    location = answer_at_sandbox(to_upstream.location, None, action="cancel")
    assert query_of(location)["error"] == "access_denied"
    page = callback(client, location)
    assert page.status_code == 400
    assert "You cancelled the login at the identity provider" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(LinkedIdentity)).first() is None


def test_replayed_callback_is_refused(app, client, upstream):
    """A code and state are used once: the same callback again does not log in a second time."""
    location = answer_at_sandbox(start_vneid(client).location, "048203004567")
    assert callback(client, location).status_code == 303
    again = callback(client, location)
    assert again.status_code == 400
    with app.app_context():
        assert len(db.session.execute(select(LinkedIdentity)).all()) == 1


def test_callback_with_another_state_is_refused(app, client, upstream):
    """RFC 6749 §10.12: the state ties the answer to this browser's attempt; another value fails."""
    location = answer_at_sandbox(start_vneid(client).location, "048203004567")
    params = query_of(location)
    forged = client.get("/auth/sources/vneid/callback", query_string={**params, "state": params["state"] + "x"})
    assert forged.status_code == 400
    stranger = app.test_client()
    stolen = stranger.get(location.removeprefix("http://localhost"))  # the attempt is bound to the first browser
    assert stolen.status_code == 400
    assert callback(client, location).status_code == 303  # the real browser still completes


def app_for(database_url: str, keys_dir, issuer: str):  # noqa: ANN001, ANN201
    """An app whose vneid source points at `issuer` (a closed port, or a sandbox the test stops)."""
    return create_app(base_settings(database_url, keys_dir, verifiers={"mock": {"kind": "mock"}, "vneid": {
        "kind": "vneid", "sandbox": True, "issuer": issuer, "client_id": "national-sso",
        "client_secret": "e2e-secret"}}))


def test_upstream_down_gives_the_unavailable_page(database_url, keys_dir):
    """SourceUnavailable: the login page marks the source unavailable, and starting it is a 503 page."""
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = app_for(database_url, keys_dir, f"http://127.0.0.1:{closed}")
    client = app.test_client()
    page = client.get("/auth/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "temporarily unavailable" in page and "/auth/sources/vneid/start" not in page
    response = client.post("/auth/sources/vneid/start", data={"csrf_token": csrf_from(page)},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 503
    assert "The identity provider is not answering" in response.get_data(as_text=True)
    dispose(app)


def test_upstream_going_down_between_redirect_and_callback(database_url, keys_dir):
    """The token endpoint unreachable at the callback: a 503 page, and no account."""
    own = start_in_thread({"national-sso": {"redirect_uris": [CALLBACK], "secret": "e2e-secret"}})
    app = app_for(database_url, keys_dir, own.issuer)
    client = app.test_client()
    location = answer_at_sandbox(start_vneid(client).location, "048203004567")
    own.stop()
    assert callback(client, location).status_code == 503
    with app.app_context():
        assert find_account("048203004567") is None
    dispose(app)
