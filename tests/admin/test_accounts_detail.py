"""Issue 6, Accounts: an account's page and API detail show its kind, status, identity level, attributes
with provenance, linked sources, second factors (never a secret), live sessions with their portals,
consents, recent logins and staff roles; the full personal ID only for national admins and the
helpdesk; every look is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import grant_role
from idp.dbtypes import utcnow
from idp.extensions import db
from tests.admin.accounts_support import all_audit_text
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import events
from tests.admin.accounts_support import log_in_to_portals
from tests.admin.accounts_support import mock_login

PIN = "001090041234"


@pytest.fixture
def citizen(app, make_account, make_client):  # noqa: ANN001, ANN201
    """A citizen with a linked source, an authenticator app, a passkey, recovery codes, a live session at a
    portal (with consent and a refresh token) and a postal clerk role."""
    from idp.auth.mfa import recovery
    from idp.auth.mfa import totp
    from idp.auth.mfa.webauthn import WebAuthnCredential

    account_id = make_account(PIN, phone="0912345678", email="an@example.vn")
    assert mock_login(app, personal_id=PIN, full_name="Nguyễn Văn Test", birthdate="1990-01-01").status_code == 303
    [portal] = log_in_to_portals(app, PIN, make_client, ("Cổng Dịch vụ công Hà Nội",))  # before a second factor
    with app.app_context():
        account = db.session.get(Account, account_id)
        row = totp.pending_enrolment(account)
        row.name, row.activated_at = "Điện thoại của An", utcnow()
        db.session.add(WebAuthnCredential(account_id=account_id, name="Khoá USB", credential_id=b"\x01" * 32,
                                          public_key=b"COSE-KEY-BYTES", sign_count=0, transports=["usb"],
                                          aaguid="00000000-0000-0000-0000-000000000000", backup_eligible=False,
                                          backed_up=False, user_verified=True, discoverable=True,
                                          added_acr="urn:vn:idp:acr:high"))
        codes = recovery.generate(account)
        grant_role(account_id, POSTAL_CLERK, "100000")
        secret = row.secret()
        db.session.commit()
    return {"id": account_id, "totp_secret": secret, "codes": codes, "portal": portal}


def test_the_page_shows_every_part_of_the_account(staff, citizen):
    html = english(staff(HELPDESK)).get(f"/admin/accounts/{citizen['id']}").get_data(as_text=True)
    assert f"<code>{PIN}</code>" in html  # the helpdesk confirms callers with it
    for expected in ("Citizen", "Active", "substantial", "Not blocked",
                     "Full name", "Nguyễn Văn Test", "Test source", "Declared by the account holder",
                     "0••• ••• 678", "•••@example.vn",
                     "Điện thoại của An", "Khoá USB", "Unused recovery codes: 10",
                     "Cổng Dịch vụ công Hà Nội", "openid profile offline_access", "Postal clerk", "100000"):
        assert expected in html, expected
    assert html.count("Cổng Dịch vụ công Hà Nội") >= 3  # the session's portal, the consent, the login history


def test_second_factor_secrets_never_leave(app, staff, client, api_token, citizen):
    html = staff(NATIONAL_ADMIN).get(f"/admin/accounts/{citizen['id']}").get_data(as_text=True)
    token = api_token("admin:national")
    body = api(client, token, "GET", f"/admin/api/accounts/{citizen['id']}").get_data(as_text=True)
    for text in (html, body):
        assert citizen["totp_secret"] not in text
        assert not any(code in text for code in citizen["codes"])
        assert "COSE-KEY-BYTES" not in text and "AQEBAQ" not in text  # public key, base64 of the credential id
        assert citizen["portal"].refresh_token not in text


@pytest.mark.parametrize(("role", "full"), [(NATIONAL_ADMIN, True), (HELPDESK, True), (AUDITOR, False)])
def test_full_personal_id_only_for_national_admins_and_the_helpdesk(app, staff, citizen, role, full):
    browser = staff(role)
    html = browser.get(f"/admin/accounts/{citizen['id']}").get_data(as_text=True)
    assert (PIN in html) is full
    assert "•••••••••234" in html
    [event] = events(app, "admin.account.viewed")
    assert event.account_id == browser.account_id
    assert event.data["target_id"] == str(citizen["id"]) and event.data["full_identifier_shown"] is full
    assert PIN not in all_audit_text(app)


@pytest.mark.parametrize(("scope", "full"), [("admin:national", True), ("admin:helpdesk", True),
                                             ("admin:auditor", False)])
def test_api_detail_is_the_same_with_the_same_rule(app, client, api_token, citizen, scope, full):
    response = api(client, api_token(scope), "GET", f"/admin/api/accounts/{citizen['id']}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["identifier"] == (PIN if full else None) and body["identifier_masked"] == "•••••••••234"
    assert body["kind"] == "citizen" and body["status"] == "active" and body["identity_level"] == 2
    assert [link["source"] for link in body["linked_sources"]] == ["mock"]
    assert body["second_factors"]["recovery_codes_left"] == 10
    assert [f["name"] for f in body["second_factors"]["totp"]] == ["Điện thoại của An"]
    assert [f["name"] for f in body["second_factors"]["passkeys"]] == ["Khoá USB"]
    assert [p["client_id"] for s in body["sessions"] for p in s["portals"]] == [citizen["portal"].client_id]
    assert [c["client_id"] for c in body["consents"]] == [citizen["portal"].client_id]
    assert citizen["portal"].client_id in {login["client_id"] for login in body["recent_logins"]}
    assert [(r["role"], r["scope"]) for r in body["staff_roles"]] == [("postal_clerk", "100000")]
    names = {row["name"]: row for row in body["attributes"]}
    assert names["phone"]["value"] == "0••• ••• 678" and names["email"]["value"] == "•••@example.vn"
    assert {p["source"] for p in names["full_name"]["provenance"]} == {"self", "mock"}
    [event] = events(app, "admin.account.viewed")
    assert event.account_id is None and event.data["actor_client"].startswith("admin-")


def test_unknown_or_absurd_account_numbers_are_404(staff, client, api_token):
    browser = staff(NATIONAL_ADMIN)
    token = api_token("admin:national")
    for number in ("999999", "99999999999999999999", "0"):
        assert browser.get(f"/admin/accounts/{number}").status_code == 404, number
        response = api(client, token, "GET", f"/admin/api/accounts/{number}")
        assert response.status_code == 404 and response.get_json()["error"] in ("account_not_found", "not_found")
    for junk in ("abc", "-1", "%3Cscript%3E"):
        assert browser.get(f"/admin/accounts/{junk}").status_code == 404


def test_vietnamese_by_default(staff, citizen):
    html = staff(NATIONAL_ADMIN).get(f"/admin/accounts/{citizen['id']}").get_data(as_text=True)
    assert 'lang="vi"' in html and "Trạng thái" in html


def test_login_history_comes_from_the_login_events(app, staff, citizen):
    from idp.accounts.history import LoginEvent

    with app.app_context():
        count = len(db.session.execute(select(LoginEvent).where(LoginEvent.account_id == citizen["id"])).all())
    html = english(staff(NATIONAL_ADMIN)).get(f"/admin/accounts/{citizen['id']}").get_data(as_text=True)
    section = html.split('id="logins-heading"')[1].split("</table>")[0]
    assert count >= 2 and section.count("<tr>") == count + 1  # a header row and one per login
