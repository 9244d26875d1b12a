"""Issue 5 §7: the person sees which portal receives which data and can take the consent back;
the portal's tokens stop at once and its next login asks again."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc.models import Consent
from tests.conftest import basic_auth
from tests.conftest import csrf_from

PIN = "001090055601"


def test_consents_are_listed_in_plain_words_and_revoked(app, client, browser, make_account, make_client):
    make_account(PIN)
    client_id, secret = make_client(name="Cổng Sở Tư pháp", agency="Sở Tư pháp Hà Nội")
    params = browser.code_for(PIN, client_id, scope="openid profile email offline_access")
    tokens = browser.exchange(params["code"], client_id, secret).get_json()
    page = client.get("/accounts/consents", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Cổng Sở Tư pháp" in page and "Agency: Sở Tư pháp Hà Nội" in page
    assert "Your name, date of birth and sex" in page and "Your e-mail address" in page
    assert "while you are logged out" in page and "Your phone number" not in page
    revoked = client.post("/accounts/consents", data={"csrf_token": csrf_from(page), "client_id": client_id})
    assert revoked.status_code == 303
    # RFC 6749 §6: the portal's refresh token no longer works.
    refresh = client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400 and refresh.get_json()["error"] == "invalid_grant"
    with app.app_context():
        assert db.session.execute(select(Consent)).first() is None
        [event] = db.session.execute(select(AuditEvent).where(AuditEvent.event == "consent.revoked")).scalars()
        assert event.client_id == client_id and event.data == {"grants": 1}
    # The next authorization asks again (the session is still alive).
    again = browser.authorize(response_type="code", client_id=client_id, scope="openid profile", nonce="n-again",
                              redirect_uri="https://portal.example.vn/callback")
    assert again.status_code == 200 and b'name="decision"' in again.data


def test_consents_page_needs_a_login_csrf_and_a_known_portal(app, client, browser, make_account):
    assert client.get("/accounts/consents").status_code == 303
    make_account(PIN)
    browser.login(PIN)
    page = client.get("/accounts/consents").get_data(as_text=True)
    assert "You do not share data with any portal yet" in client.get(
        "/accounts/consents", headers={"Accept-Language": "en"}).get_data(as_text=True)
    page = client.get("/auth/login").get_data(as_text=True)  # any form of this browser carries its CSRF token
    assert client.post("/accounts/consents", data={"client_id": "x"}).status_code == 400
    unknown = client.post("/accounts/consents", data={"csrf_token": csrf_from(page), "client_id": "nope"})
    assert unknown.status_code == 404
