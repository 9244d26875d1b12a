"""RFC 7591 §2 contacts in the admin review: shown to the reviewer, in the JSON API, told of the decision."""

from __future__ import annotations

import json

from idp.accounts.roles import NATIONAL_ADMIN
from idp.admin.client_actions import decision_recipients
from idp.oidc.registration_models import RegistrationRequest
from tests.admin.clients_support import CONTACT
from tests.admin.clients_support import bearer
from tests.admin.clients_support import outbox
from tests.admin.clients_support import post_form
from tests.admin.clients_support import web_request

CONTACTS = ["cntt@xaydung.hue.gov.vn", "lan.tran@xaydung.hue.gov.vn"]


def _api_request(client, runner, name: str = "Cổng Sở Xây dựng Huế") -> str:  # noqa: ANN001
    token = json.loads(runner.invoke(args=["clients", "initial-access-token"]).output)["initial_access_token"]
    response = client.post("/oauth2/register", headers=bearer(token), json={
        "client_name": name, "redirect_uris": ["https://xaydung.hue.gov.vn/cb"], "contacts": CONTACTS})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["client_id"]


def test_reviewer_sees_the_contacts(client, runner, staff):
    client_id = _api_request(client, runner)
    browser = staff(NATIONAL_ADMIN)
    for page in ("/admin/registration-requests", f"/admin/clients/{client_id}"):
        html = browser.get(page).get_data(as_text=True)
        assert all(address in html for address in CONTACTS), page


def test_api_shows_contacts_and_rejection_reaches_every_contact(app, client, runner, api_token):
    national = bearer(api_token("admin:national"))
    client_id = _api_request(client, runner)
    [queued] = client.get("/admin/api/registration-requests", headers=national).get_json()["requests"]
    assert queued["registration"]["contacts"] == CONTACTS and queued["registration"]["via"] == "api"
    response = client.post(f"/admin/api/clients/{client_id}/reject", headers=national,
                           json={"reason": "Thiếu công văn đề nghị"})
    assert response.status_code == 200
    for address in CONTACTS:
        [message] = outbox(app, address)
        assert "Thiếu công văn đề nghị" in message and client_id in message


def test_approval_reaches_every_contact(app, client, runner, staff):
    client_id = _api_request(client, runner)
    browser = staff(NATIONAL_ADMIN)
    detail = f"/admin/clients/{client_id}"
    assert post_form(browser, f"{detail}/approve", detail).status_code == 303
    for address in CONTACTS:
        [message] = outbox(app, address)
        assert "Cổng Sở Xây dựng Huế" in message


def test_web_requests_still_reach_their_contact_email(app, make_account, api_token, client):
    client_id = web_request(app, make_account)
    national = bearer(api_token("admin:national"))
    assert client.post(f"/admin/api/clients/{client_id}/approve", headers=national).status_code == 200
    assert len(outbox(app, CONTACT)) == 1


def test_each_address_is_told_once():
    row = RegistrationRequest(contact_email="CNTT@hue.gov.vn", contacts=["cntt@hue.gov.vn", "khac@hue.gov.vn"])
    assert decision_recipients(row) == ["CNTT@hue.gov.vn", "khac@hue.gov.vn"]
    assert decision_recipients(RegistrationRequest()) == []
