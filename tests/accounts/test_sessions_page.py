"""Issue 5 §1-2: the account page lists the person's live SSO sessions and the portals each one
logged into, and logs out one session or all of them the same way /auth/logout does, so single
logout (OpenID Connect Back-Channel Logout 1.0 §2.5, Front-Channel Logout 1.0 §3) reaches every portal."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc import logout
from idp.oidc.logout import LogoutDelivery
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from

PIN = "001090077201"
OTHER_PIN = "001090077202"


@pytest.fixture
def launched(monkeypatch):  # noqa: ANN001, ANN201
    """Capture after-response deliveries instead of starting threads (nothing is sent in these tests)."""
    work: list = []
    monkeypatch.setattr(logout, "launch", work.append)
    return work


def _sids(app) -> list[str]:  # noqa: ANN001
    with app.app_context():
        return [r.sid for r in db.session.execute(select(LoginSession).order_by(LoginSession.created_at)).scalars()]


def _ended(app) -> dict[str, bool]:  # noqa: ANN001
    with app.app_context():
        return {r.sid: r.ended_at is not None for r in db.session.execute(select(LoginSession)).scalars()}


def _deliveries(app) -> set[tuple[str, str]]:  # noqa: ANN001
    with app.app_context():
        return {(r.client_id, r.sid) for r in db.session.execute(select(LogoutDelivery)).scalars()}


def _logged_in(client) -> bool:  # noqa: ANN001
    return client.get("/accounts/sessions").status_code == 200


@pytest.fixture
def two_browsers(app, make_account, make_client, launched):  # noqa: ANN001, ANN201
    """One person, two browsers: the first used the tax portal, the second the land portal."""
    make_account(PIN)
    tax, _ = make_client(name="Cổng Thuế", trusted=True, backchannel_logout_uri="http://127.0.0.1:9/bc-tax")
    land, _ = make_client(name="Cổng Đất đai", trusted=True, backchannel_logout_uri="http://127.0.0.1:9/bc-land")
    first, second = BrowserFlow(app.test_client()), BrowserFlow(app.test_client())
    first.code_for(PIN, tax)
    second.code_for(PIN, land)
    sid_first, sid_second = _sids(app)
    return first, second, (tax, sid_first), (land, sid_second)


def test_lists_sessions_and_their_portals(app, two_browsers):
    first, _second, _tax, _land = two_browsers
    page = first.client.get("/accounts/sessions", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert page.count('name="sid"') == 2
    this, other = page.split("Another browser or device")
    assert "This browser" in this and "Cổng Thuế" in this and "Cổng Đất đai" not in this
    assert "Cổng Đất đai" in other and "Cổng Thuế" not in other
    assert "Last used:" in page and "Logged in:" in page
    assert page.count('name="csrf_token"') == 3 and "Log out of all sessions" in page


def test_logging_out_another_session_ends_it_and_queues_back_channel_logout(app, two_browsers, launched):
    first, second, (tax, sid_first), (land, sid_second) = two_browsers
    page = first.client.get("/accounts/sessions").get_data(as_text=True)
    response = first.client.post("/accounts/sessions", data={"csrf_token": csrf_from(page), "sid": sid_second})
    assert response.status_code == 200
    assert _ended(app) == {sid_first: False, sid_second: True}
    assert not _logged_in(second.client)  # that browser's next request is not logged in
    assert _logged_in(first.client)  # this one is
    # §2.5: a logout token for the land portal (the ended session's only portal) waits in the outbox.
    assert _deliveries(app) == {(land, sid_second)}
    response.close()
    assert len(launched) == 1  # delivery starts after the response
    html = response.get_data(as_text=True)
    assert page.count('name="sid"') == 2 and html.count('name="sid"') == 1
    with app.app_context():
        events = db.session.execute(select(AuditEvent).where(AuditEvent.event == "logout")).scalars().all()
        assert [(e.data or {}).get("reason") for e in events] == ["account_page"]


def test_logging_out_this_session_is_a_normal_logout(app, two_browsers):
    first, second, (tax, sid_first), (land, sid_second) = two_browsers
    page = first.client.get("/accounts/sessions").get_data(as_text=True)
    response = first.client.post("/accounts/sessions", data={"csrf_token": csrf_from(page), "sid": sid_first},
                                 headers={"Accept-Language": "en"})
    assert response.status_code == 200 and b"You are logged out" in response.data
    assert _ended(app) == {sid_first: True, sid_second: False}
    assert not _logged_in(first.client) and _logged_in(second.client)
    assert _deliveries(app) == {(tax, sid_first)}


def test_logging_out_of_all_sessions_ends_every_one(app, two_browsers, launched):
    first, second, (tax, sid_first), (land, sid_second) = two_browsers
    page = first.client.get("/accounts/sessions").get_data(as_text=True)
    response = first.client.post("/accounts/sessions", data={"csrf_token": csrf_from(page), "all": "1"})
    assert response.status_code == 200
    assert _ended(app) == {sid_first: True, sid_second: True}
    assert not _logged_in(first.client) and not _logged_in(second.client)
    assert _deliveries(app) == {(tax, sid_first), (land, sid_second)}
    with app.app_context():
        reasons = [(e.data or {}).get("reason") for e in db.session.execute(
            select(AuditEvent).where(AuditEvent.event == "logout")).scalars()]
    assert reasons.count("account_page_all") == 2  # the other sessions (one event), then this one


def test_needs_a_login_csrf_and_a_live_session_of_this_account(app, client, browser, make_account, two_browsers):
    assert client.get("/accounts/sessions").status_code == 303
    assert "/auth/login" in client.get("/accounts/sessions").location
    assert client.post("/accounts/sessions", data={"all": "1"}).status_code == 400  # no CSRF token, no login
    first, _second, (tax, sid_first), (land, sid_second) = two_browsers
    # CSRF: without the token nothing ends.
    assert first.client.post("/accounts/sessions", data={"sid": sid_second}).status_code == 400
    assert first.client.post("/accounts/sessions", data={"all": "1", "csrf_token": "forged"}).status_code == 400
    assert _ended(app) == {sid_first: False, sid_second: False}
    # Someone else's session, an unknown or ended one, or junk: 404, nothing ends.
    make_account(OTHER_PIN)
    browser.login(OTHER_PIN)
    stranger = (set(_sids(app)) - {sid_first, sid_second}).pop()
    token = csrf_from(first.client.get("/accounts/sessions").get_data(as_text=True))
    for sid in (stranger, "nope", "", "x" * 500, "<script>"):
        assert first.client.post("/accounts/sessions", data={"csrf_token": token, "sid": sid}).status_code == 404
    assert not any(_ended(app).values())
    assert _deliveries(app) == set()


def test_page_is_translated_and_labels_buttons(app, two_browsers):
    first = two_browsers[0]
    html = first.client.get("/accounts/sessions", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'<button type="submit"[^>]*>Log out this session</button>', html)


def test_front_channel_logout_frames_for_the_ended_session(app, two_browsers):
    """Front-Channel Logout 1.0 §3: the page that ended the other session frames its portal with iss and sid,
    and the CSP allows exactly that origin."""
    from idp.oidc.models import Client

    first, _second, (tax, sid_first), (land, sid_second) = two_browsers
    with app.app_context():
        db.session.get(Client, land).frontchannel_logout_uri = "https://land.example.vn/fc"
        db.session.get(Client, tax).frontchannel_logout_uri = "https://tax.example.vn/fc"
        db.session.commit()
    page = first.client.get("/accounts/sessions").get_data(as_text=True)
    response = first.client.post("/accounts/sessions", data={"csrf_token": csrf_from(page), "sid": sid_second})
    frames = re.findall(r'<iframe src="([^"]+)"', response.get_data(as_text=True))
    assert len(frames) == 1 and frames[0].startswith("https://land.example.vn/fc?") and sid_second in frames[0]
    csp = response.headers["Content-Security-Policy"]
    assert "frame-src https://land.example.vn" in csp and "tax.example.vn" not in csp
