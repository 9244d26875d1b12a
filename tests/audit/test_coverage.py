"""Coverage of the trail over a whole flow, and no personal data in clear in any event."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from sqlalchemy import select

from idp.audit import AuditEvent
from idp.audit.chain import verify_database
from idp.extensions import db
from tests.conftest import basic_auth

PIN = "001090077701"
UNKNOWN_PIN = "001090077799"
PHONE = "0912345678"
EMAIL = "ba.nguyen@example.vn"
PERSONAL_ID_RE = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
PHONE_RE = re.compile(r"(?<![0-9])(?:\+?84|0)[0-9]{9}(?![0-9])")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Digests and request ids are long hex words; a run of 12 digits inside one is chance, not a personal ID.
HEX_WORD_RE = re.compile(r"\b[0-9a-f]{32,}\b")


def _without_hex_words(blob: str) -> str:
    return HEX_WORD_RE.sub("<hex>", blob)


def test_hex_scrubbing_hides_digests_but_not_personal_data():
    digest = "7147a42138d930706375630a2dfef68bd965d9ed028d0000aaaabbbbccccdddd"
    assert PERSONAL_ID_RE.search(digest)
    assert not PERSONAL_ID_RE.search(_without_hex_words(json.dumps({"sha256": digest})))
    for leak in (PIN, f"id {PIN}-{digest}", f"{digest} {PHONE}"):
        scrubbed = _without_hex_words(json.dumps({"identifier": leak}))
        assert PERSONAL_ID_RE.search(scrubbed) or PHONE_RE.search(scrubbed)


def _trail(app) -> list[AuditEvent]:  # noqa: ANN001
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        db.session.expunge_all()
        return list(rows)


def _full_flow(browser, make_account, make_client) -> str:  # noqa: ANN001
    """Failures, login, consent, code exchange, refresh, client_credentials, revocation, RP-initiated logout."""
    make_account(PIN, email=EMAIL, phone=PHONE)
    client_id, secret = make_client(grant_types=["authorization_code", "refresh_token", "client_credentials"])
    assert browser.login(PIN, password="wrong password").status_code == 401
    assert browser.login(UNKNOWN_PIN, password="wrong password").status_code == 401
    assert browser.login(EMAIL, password="wrong password").status_code == 401
    params = browser.code_for(PIN, client_id, scope="openid profile offline_access", prompt="consent")
    tokens = browser.exchange(params["code"], client_id, secret).get_json()
    refreshed = browser.client.post("/oauth2/token", headers=basic_auth(client_id, secret), data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.get_json()
    machine = browser.client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                                  data={"grant_type": "client_credentials"})
    assert machine.status_code == 200, machine.get_json()
    revoked = browser.client.post("/oauth2/revoke", headers=basic_auth(client_id, secret), data={
        "token": refreshed.get_json()["refresh_token"], "token_type_hint": "refresh_token"})
    assert revoked.status_code == 200
    logout = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://portal.example.vn/bye"}))
    assert logout.status_code == 302
    return client_id


def test_full_flow_event_sequence(app, browser, make_account, make_client):
    client_id = _full_flow(browser, make_account, make_client)
    flow = [(e.event, e.data) for e in _trail(app)
            if e.event not in ("account.created", "client.registered", "login.new_device")]
    assert [name for name, _ in flow] == [
        "config.changed",
        "login.failed", "login.failed", "login.failed",
        "login.succeeded",
        "consent.granted",
        "token.issued", "token.issued", "token.issued",
        "grant.revoked",
        "logout",
    ]
    data = dict(flow[1:4][0][1])
    assert data == {"method": "pwd"}
    assert flow[2][1]["reason"] == "unknown_account" and flow[2][1]["identifier"].endswith("99")
    assert flow[4][1]["source"] == "password" and flow[4][1]["acr"]
    assert [d["grant_type"] for _, d in flow[6:9]] == ["authorization_code", "refresh_token", "client_credentials"]
    assert flow[9][1]["reason"] == "revoked_by_client"
    assert flow[10][1]["reason"] == "rp_initiated_logout"
    with app.app_context():
        assert verify_database().ok
    issued = [e for e in _trail(app) if e.event == "token.issued"]
    assert {e.client_id for e in issued} == {client_id}


def test_no_personal_data_in_clear_in_the_trail(app, browser, make_account, make_client):
    _full_flow(browser, make_account, make_client)
    trail = _trail(app)
    assert len(trail) > 10
    for event in trail:
        blob = _without_hex_words(
            json.dumps([event.event, event.client_id, event.request_id, event.data], ensure_ascii=False))
        assert not PERSONAL_ID_RE.search(blob), (event.event, blob)
        assert not PHONE_RE.search(blob), (event.event, blob)
        assert not EMAIL_RE.search(blob), (event.event, blob)
