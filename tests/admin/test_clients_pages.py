"""Admin pages for client portals (issue 6 "Client portals"; issue 5 item 3: an admin page to review, edit,
approve or reject registration requests): list, detail with usage, edit with the registration's
validation, secret rotation, suspension, the request queue and initial access tokens."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import time_machine
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import NATIONAL_ADMIN
from idp.admin.client_usage import logins_per_day
from idp.audit import AuditEvent
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.oidc.logout import FAILED
from idp.oidc.logout import LogoutDelivery
from idp.oidc.models import Client
from idp.oidc.registration_models import RegistrationRequest
from tests.admin.clients_support import CONTACT
from tests.admin.clients_support import api_request
from tests.admin.clients_support import outbox
from tests.admin.clients_support import post_form
from tests.admin.clients_support import shown_secret
from tests.admin.clients_support import web_request
from tests.conftest import basic_auth

CALLBACK = "https://portal.example.vn/callback"


def _client(app, client_id: str) -> Client:  # noqa: ANN001
    with app.app_context():
        row = db.session.get(Client, client_id)
        db.session.expunge(row)
        return row


def _events(app, name: str) -> list[dict]:  # noqa: ANN001
    with app.app_context():
        return [row.data for row in db.session.execute(select(AuditEvent).where(AuditEvent.event == name)).scalars()]


def english(browser):  # noqa: ANN001, ANN201
    """Switch the browser's session to English (the messages asserted on are the English msgids)."""
    browser.get("/auth/language/en")
    return browser


def _edit_fields(**changes: str) -> dict:
    fields = {"client_name": "Cổng thử nghiệm", "agency": "Bộ Tư pháp", "redirect_uris": CALLBACK,
              "post_logout_redirect_uris": "https://portal.example.vn/bye", "token_endpoint_auth_method":
              "client_secret_basic", "scope_openid": "y", "scope_profile": "y", "minimum_acr": "", "default_acr": "",
              "id_token_signed_response_alg": ""}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


# --- list and detail ----------------------------------------------------------------------------------
def test_list_searches_and_filters_by_status(app, staff, make_client, make_account, api_token):
    hanoi, _ = make_client(name="Cổng Dịch vụ công Hà Nội", agency="UBND TP Hà Nội", agency_code="tp-ha-noi")
    make_client(name="Cổng Bộ Y tế", agency="Bộ Y tế", agency_code="bo-y-te")
    pending = web_request(app, make_account)
    api_token("admin:auditor")  # an admin API client: not a portal, never listed
    browser = english(staff(NATIONAL_ADMIN))
    html = browser.get("/admin/clients").get_data(as_text=True)
    assert "Cổng Dịch vụ công Hà Nội" in html and "Cổng Bộ Y tế" in html and pending in html
    assert "Tự động hoá" not in html
    for query in ("hà nội", "tp-ha-noi", hanoi[:8], "UBND TP"):
        found = browser.get("/admin/clients", query_string={"q": query}).get_data(as_text=True)
        assert "Cổng Dịch vụ công Hà Nội" in found and "Cổng Bộ Y tế" not in found, query
    waiting = browser.get("/admin/clients?status=pending").get_data(as_text=True)
    assert pending in waiting and "Cổng Bộ Y tế" not in waiting
    assert pending not in browser.get("/admin/clients?status=active").get_data(as_text=True)
    assert "No portal matches" in browser.get("/admin/clients?q=%25").get_data(as_text=True)  # LIKE escaped


def test_agency_admin_sees_only_its_agency_portals(app, staff, make_client):
    own, _ = make_client(name="Cổng Hà Nội", agency_code="tp-ha-noi")
    other, _ = make_client(name="Cổng Huế", agency_code="tp-hue")
    browser = staff(AGENCY_ADMIN, "tp-ha-noi")
    html = browser.get("/admin/clients").get_data(as_text=True)
    assert "Cổng Hà Nội" in html and "Cổng Huế" not in html
    assert browser.get(f"/admin/clients/{own}").status_code == 200
    assert browser.get(f"/admin/clients/{other}").status_code == 404  # its existence is not revealed


def test_detail_shows_metadata_and_usage(app, staff, make_client, make_account, browser):
    make_account("001090031001")
    client_id, secret = make_client(trusted=True, agency="Bộ Tư pháp", agency_code="bo-tu-phap",
                               backchannel_logout_uri="https://portal.example.vn/bc", minimum_acr=None)
    code = browser.code_for("001090031001", client_id)["code"]  # one login through the portal
    assert browser.exchange(code, client_id, secret).status_code == 200  # one live grant
    with app.app_context():
        account_id = db.session.execute(select(LoginEvent.account_id)).scalars().first()
        now = utcnow()
        db.session.add_all([LoginEvent(at=now - timedelta(days=2), account_id=account_id, client_id=client_id,
                                       source="sso", level=2),
                            LoginEvent(at=now - timedelta(days=45), account_id=account_id, client_id=client_id,
                                       source="sso", level=2),
                            LogoutDelivery(client_id=client_id, sid="s1", token="t", attempts=6, status=FAILED,
                                           next_attempt_at=now, last_error="HTTP 503")])
        db.session.commit()
    html = english(staff(NATIONAL_ADMIN)).get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert client_id in html and "https://portal.example.vn/bc" in html and "bo-tu-phap" in html
    assert "Token grants still usable: 1" in html
    assert "given up in the last 30 days: 1" in html and "HTTP 503" in html
    assert "2 in all" in html  # the login of 45 days ago is outside the window


def test_logins_per_day_use_vietnam_calendar_days(app, make_account, make_client):
    account_id = make_account()
    client_id, _ = make_client()
    now = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)  # 12:00 in Vietnam
    with app.app_context():
        for at in (datetime(2026, 3, 9, 17, 30, tzinfo=UTC),  # 00:30 on the 10th in Vietnam: today
                   datetime(2026, 3, 9, 16, 59, tzinfo=UTC),  # 23:59 on the 9th: yesterday
                   datetime(2026, 2, 8, 17, 0, tzinfo=UTC)):  # 00:00 on 9 Feb: the oldest day of 30
            db.session.add(LoginEvent(at=at, account_id=account_id, client_id=client_id, source="mock", level=3))
        db.session.add(LoginEvent(at=datetime(2026, 2, 8, 16, 59, tzinfo=UTC), account_id=account_id,
                                  client_id=client_id, source="mock", level=3))  # 8 Feb: outside
        db.session.commit()
        days = logins_per_day(client_id, now)
    assert len(days) == 30 and days[0][0].isoformat() == "2026-02-09" and days[-1][0].isoformat() == "2026-03-10"
    assert days[-1][1] == 1 and days[-2][1] == 1 and days[0][1] == 1 and sum(c for _d, c in days) == 3


# --- edit ---------------------------------------------------------------------------------------------
def test_edit_saves_valid_metadata_and_audits_before_and_after(app, staff, make_client):
    client_id, _ = make_client(agency_code="bo-tu-phap", scopes=["openid", "profile", "email"])
    browser = staff(AGENCY_ADMIN, "bo-tu-phap")
    page = f"/admin/clients/{client_id}/edit"
    form = browser.get(page).get_data(as_text=True)
    assert 'name="agency_code"' not in form  # national administrators only
    response = post_form(browser, page, page, **_edit_fields(
        redirect_uris=f"{CALLBACK}\nhttps://portal.example.vn/cb2", minimum_acr="urn:vn:gov:sso:loa:high"))
    assert response.status_code == 303 and response.headers["Location"].endswith("done=updated")
    stored = _client(app, client_id)
    assert stored.redirect_uris == [CALLBACK, "https://portal.example.vn/cb2"]
    assert stored.minimum_acr == "urn:vn:gov:sso:loa:high" and stored.scope == "openid profile"  # email removed
    assert stored.agency == "Bộ Tư pháp" and stored.agency_code == "bo-tu-phap"
    [event] = _events(app, "admin.client.updated")
    assert event["actor_id"] == browser.account_id and event["target_id"] == client_id
    assert "minimum_acr" not in event["before"] and event["before"]["scope"] == "openid profile email"
    assert event["after"]["minimum_acr"] == "urn:vn:gov:sso:loa:high" and event["after"]["scope"] == "openid profile"
    assert "client_secret" not in event["after"]  # unchanged keys are not stored


def test_each_bad_value_is_refused_with_a_message_and_nothing_is_saved(app, staff, make_client):
    client_id, _ = make_client()
    browser = english(staff(NATIONAL_ADMIN))
    page = f"/admin/clients/{client_id}/edit"
    cases = {
        "redirect_uris": ("https://portal.example.vn/cb#frag", "fragment"),
        "post_logout_redirect_uris": ("http://portal.example.vn/bye", "https"),
        "backchannel_logout_uri": ("https://portal.example.vn/*", "wildcard"),
        "agency_code": ("Bộ Tư Pháp", "agency code"),
    }
    for name, (value, words) in cases.items():
        response = post_form(browser, page, page, **_edit_fields(client_name="Tên mới", **{name: value}))
        assert response.status_code == 400, name
        html = response.get_data(as_text=True)
        assert words in html and 'aria-invalid="true"' in html, name
    response = post_form(browser, page, page, **_edit_fields(redirect_uris="https://other.example.vn/cb"))
    assert response.status_code == 400 and "sector" in response.get_data(as_text=True)  # every sub would change
    stored = _client(app, client_id)
    assert stored.name == "Cổng thử nghiệm" and stored.redirect_uris == [CALLBACK] and stored.agency_code is None
    assert _events(app, "admin.client.updated") == []


def test_only_national_admins_change_the_agency_code_or_add_scopes(app, staff, make_client):
    client_id, _ = make_client(agency_code="bo-tu-phap", scopes=["openid", "profile"])
    agency = english(staff(AGENCY_ADMIN, "bo-tu-phap"))
    page = f"/admin/clients/{client_id}/edit"
    moved = post_form(agency, page, page, **_edit_fields(agency_code="bo-y-te"))  # a crafted field
    assert moved.status_code == 403 and "agency code" in moved.get_data(as_text=True)
    widened = post_form(agency, page, page, **_edit_fields(scope_national_id="y"))
    assert widened.status_code == 403 and "national_id" in widened.get_data(as_text=True)
    assert _client(app, client_id).scope == "openid profile"

    national = staff(NATIONAL_ADMIN)
    response = post_form(national, page, page, **_edit_fields(agency_code="bo-y-te", scope_national_id="y"))
    assert response.status_code == 303
    stored = _client(app, client_id)
    assert stored.agency_code == "bo-y-te" and "national_id" in stored.scope
    assert agency.get(f"/admin/clients/{client_id}").status_code == 404  # no longer its agency's portal


# --- secret, suspension, re-authentication --------------------------------------------------------------
def test_rotating_the_secret_asks_to_confirm_shows_it_once_and_the_old_one_stops(app, client, staff, make_client):
    client_id, old = make_client(agency_code="bo-tu-phap")
    browser = staff(AGENCY_ADMIN, "bo-tu-phap")
    confirm = browser.get(f"/admin/clients/{client_id}/secret")
    assert confirm.status_code == 200 and 'id="client-secret"' not in confirm.get_data(as_text=True)
    assert client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                       headers=basic_auth(client_id, old)).status_code == 200
    response = post_form(browser, f"/admin/clients/{client_id}/secret", f"/admin/clients/{client_id}/secret")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new = shown_secret(response.get_data(as_text=True))
    refused = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                          headers=basic_auth(client_id, old))
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_client"
    assert client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                       headers=basic_auth(client_id, new)).status_code == 200
    [event] = _events(app, "admin.client.secret_rotated")
    assert event["after"]["client_secret"] == "[redacted]" and new not in json.dumps(event)
    public, _ = make_client(token_endpoint_auth_method="none", agency_code="bo-tu-phap")
    assert post_form(browser, f"/admin/clients/{public}/secret").status_code == 409


def test_suspension_stops_tokens_at_once_and_reactivation_restores_them(app, client, staff, make_client, make_account,
                                                                        browser):
    """Issue 5: a suspended portal's tokens stop working on the next request."""
    make_account("001090031002")
    client_id, secret = make_client(trusted=True, agency_code="tp-hue")
    tokens = browser.exchange(browser.code_for("001090031002", client_id)["code"], client_id, secret).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 200
    admin = english(staff(AGENCY_ADMIN, "tp-hue"))
    detail = f"/admin/clients/{client_id}"
    response = post_form(admin, f"{detail}/suspend", detail)
    assert response.status_code == 303 and response.headers["Location"].endswith("done=suspended")
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 401
    refresh = client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401 and refresh.get_json()["error"] == "invalid_client"
    assert post_form(admin, f"{detail}/suspend", detail).status_code == 409  # already suspended
    assert "Status: <strong>Suspended" in admin.get(detail).get_data(as_text=True)
    assert post_form(admin, f"{detail}/reactivate", detail).status_code == 303
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 200
    assert [e["after"]["status"] for e in _events(app, "admin.client.suspended")] == ["suspended"]
    assert [e["after"]["status"] for e in _events(app, "admin.client.reactivated")] == ["active"]


def test_destructive_actions_need_a_very_recent_authentication(app, staff, make_client, make_account):
    """Issue 6: admin sessions re-authenticate for destructive actions (rotate, suspend, reject)."""
    client_id, _ = make_client(agency_code="tp-hue")
    pending = web_request(app, make_account)
    browser = staff(NATIONAL_ADMIN)
    detail = f"/admin/clients/{client_id}"
    token_page = browser.get(detail).get_data(as_text=True)
    reauth = app.extensions["idp.settings"].admin.reauth_seconds
    with time_machine.travel(time.time() + reauth + 30, tick=False):
        assert browser.get(detail).status_code == 200  # reading is still fine
        for path in (f"{detail}/suspend", f"{detail}/secret", f"/admin/clients/{pending}/reject"):
            response = browser.post(path, data={"csrf_token": re.search(
                r'name="csrf_token" type="hidden" value="([^"]+)"', token_page).group(1), "reason": "Sai tên miền"},
                headers={"Referer": f"http://localhost{detail}"})
            assert response.status_code == 303, path
            location = response.headers["Location"]
            assert location.startswith("/auth/login?") and "prompt=login" in location and "acr=" in location
    assert _client(app, client_id).status == "active"
    assert _client(app, pending).status == "pending"


# --- registration requests ------------------------------------------------------------------------------
def test_queue_shows_requests_and_approval_activates_the_portal(app, staff, make_account):
    client_id = web_request(app, make_account)
    browser = english(staff(NATIONAL_ADMIN))
    queue = browser.get("/admin/registration-requests").get_data(as_text=True)
    assert client_id in queue and CONTACT in queue and "•••••••••" in queue  # the submitter's ID is masked
    detail = browser.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert "https://tuphap.bacninh.gov.vn/callback" in detail and ">Approve<" in detail
    response = post_form(browser, f"/admin/clients/{client_id}/approve", f"/admin/clients/{client_id}")
    assert response.status_code == 303
    assert _client(app, client_id).status == "active"
    with app.app_context():
        row = db.session.get(RegistrationRequest, client_id)
        assert row.status == "approved" and row.decided_by == f"account:{browser.account_id}"
    assert client_id not in browser.get("/admin/registration-requests").get_data(as_text=True)
    assert any("Cổng Sở Tư pháp Bắc Ninh" in body for body in outbox(app, CONTACT))
    assert post_form(browser, f"/admin/clients/{client_id}/approve").status_code == 409  # decided already


def test_rejection_needs_a_reason_which_is_kept_audited_and_sent_to_the_contact(app, staff, make_account):
    client_id = web_request(app, make_account)
    browser = english(staff(NATIONAL_ADMIN))
    detail = f"/admin/clients/{client_id}"
    missing = post_form(browser, f"{detail}/reject", detail, reason="   ")
    assert missing.status_code == 400 and "reason" in missing.get_data(as_text=True)
    assert post_form(browser, f"{detail}/reject", detail, reason="Sai\x00tên").status_code == 400
    assert _client(app, client_id).status == "pending"
    reason = "Tên miền không thuộc cơ quan nhà nước."
    assert post_form(browser, f"{detail}/reject", detail, reason=reason).status_code == 303
    with app.app_context():
        row = db.session.get(RegistrationRequest, client_id)
        assert row.status == "rejected" and row.reason == reason
    assert _client(app, client_id).status == "suspended"
    [event] = _events(app, "admin.client.rejected")
    assert event["reason"] == reason and event["after"]["request"] == "rejected"
    assert any(reason in body for body in outbox(app, CONTACT))
    assert "Rejected" in browser.get("/admin/clients?status=rejected").get_data(as_text=True)
    assert post_form(browser, f"{detail}/reactivate").status_code == 409  # rejected stays unusable
    assert post_form(browser, f"{detail}/edit").status_code == 409


def test_a_request_can_be_edited_before_it_is_approved(app, staff, client, runner):
    registered = api_request(client, runner)
    client_id = registered["client_id"]
    browser = staff(NATIONAL_ADMIN)
    page = f"/admin/clients/{client_id}/edit"
    response = post_form(browser, page, page, **_edit_fields(
        client_name="Cổng Sở Xây dựng Huế", redirect_uris="https://xaydung.example.vn/callback", agency_code="tp-hue"))
    assert response.status_code == 303
    assert post_form(browser, f"/admin/clients/{client_id}/approve").status_code == 303
    stored = _client(app, client_id)
    assert (stored.status, stored.name, stored.agency_code) == ("active", "Cổng Sở Xây dựng Huế", "tp-hue")
    assert stored.redirect_uris == ["https://xaydung.example.vn/callback"]
    assert stored.check_client_secret(registered["client_secret"])  # the secret it received still works


def test_initial_access_token_is_shown_once_and_registers_one_portal(app, client, staff):
    browser = staff(NATIONAL_ADMIN)
    response = post_form(browser, "/admin/initial-access-tokens", "/admin/registration-requests", lifetime="3600")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    token = re.search(r'<code id="initial-access-token">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert token not in browser.get("/admin/registration-requests").get_data(as_text=True)
    registered = client.post("/oauth2/register", headers={"Authorization": f"Bearer {token}"},
                             json={"client_name": "Cổng mới", "redirect_uris": ["https://moi.example.vn/cb"]})
    assert registered.status_code == 201
    assert registered.get_json()["client_id"] in browser.get("/admin/registration-requests").get_data(as_text=True)
    assert post_form(browser, "/admin/initial-access-tokens", lifetime="5").status_code == 400
    [event] = _events(app, "admin.client.initial_access_token_created")
    assert event["actor_id"] == browser.account_id and token not in json.dumps(event)


# --- hostile input, languages ---------------------------------------------------------------------------
def test_hostile_input_gets_a_4xx_page(staff, make_client):
    client_id, _ = make_client()
    browser = staff(NATIONAL_ADMIN)
    for path in ("/admin/clients?q=" + "x" * 101, "/admin/clients?status=all", "/admin/clients?page=abc",
                 "/admin/clients?page=0", "/admin/clients?q=a%01b", "/admin/clients?q=a&q=b"):
        assert browser.get(path).status_code == 400, path
    assert browser.get("/admin/clients/" + "x" * 300).status_code == 404
    assert browser.get("/admin/clients/kh%C3%B4ng-c%C3%B3").status_code == 404
    assert post_form(browser, "/admin/clients/unknown/suspend").status_code == 404
    assert post_form(browser, f"/admin/clients/{client_id}/edit", **_edit_fields(agency="a\x07b")).status_code == 400
    assert post_form(browser, f"/admin/clients/{client_id}/edit",
                     **_edit_fields(token_endpoint_auth_method="magic")).status_code == 400
    assert browser.post(f"/admin/clients/{client_id}/suspend").status_code == 400  # no CSRF token
    assert _client(app=browser.application, client_id=client_id).status == "active"


def test_pages_are_vietnamese_by_default_and_english_on_request(staff, make_client):
    client_id, _ = make_client()
    browser = staff(NATIONAL_ADMIN)
    assert '<html lang="vi">' in browser.get("/admin/clients").get_data(as_text=True)
    assert "Portals" in browser.get("/admin/clients?lang=en").get_data(as_text=True)
    assert "Logins per day" in browser.get(f"/admin/clients/{client_id}?lang=en").get_data(as_text=True)


def test_pages_with_secrets_and_requests_are_html(app, staff):
    """The request queue and the secret-shown-once page are HTML (a text/plain page shows raw markup)."""
    from idp.accounts.roles import NATIONAL_ADMIN

    browser = staff(NATIONAL_ADMIN)
    response = browser.get("/admin/registration-requests")
    assert response.status_code == 200 and response.mimetype == "text/html"
