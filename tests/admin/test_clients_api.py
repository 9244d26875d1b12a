"""The admin API for client portals: the pages' operations over the same service functions, documented in
the OpenAPI 3.1 document, with RFC-style JSON errors for every refused or hostile request."""

from __future__ import annotations

from openapi_spec_validator import validate
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.registration_models import RegistrationRequest
from tests.admin.clients_support import CONTACT
from tests.admin.clients_support import api_request
from tests.admin.clients_support import bearer
from tests.admin.clients_support import outbox
from tests.admin.clients_support import web_request
from tests.conftest import basic_auth

CALLBACK = "https://portal.example.vn/callback"


def _stored(app, client_id: str) -> Client:  # noqa: ANN001
    with app.app_context():
        row = db.session.get(Client, client_id)
        db.session.expunge(row)
        return row


def _error(response) -> tuple[int, str]:  # noqa: ANN001
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and body["error_description"], body
    return response.status_code, body["error"]


def test_openapi_document_declares_every_portal_operation_and_stays_valid(client):
    document = client.get("/admin/api/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    assert set(paths["/clients/{client_id}"]) == {"get", "patch"}
    for path in ("/clients", "/clients/{client_id}/usage", "/clients/{client_id}/secret",
                 "/clients/{client_id}/suspend", "/clients/{client_id}/reactivate", "/clients/{client_id}/approve",
                 "/clients/{client_id}/reject", "/registration-requests", "/initial-access-tokens"):
        assert path in paths, path
    reject = paths["/clients/{client_id}/reject"]["post"]
    assert reject["requestBody"]["content"]["application/json"]["schema"]["required"] == ["reason"]
    assert reject["security"] == [{"adminToken": ["admin:national"]}]
    assert paths["/clients/{client_id}"]["patch"]["security"] == [{"adminToken": ["admin:national", "admin:agency"]}]
    assert "201" in paths["/initial-access-tokens"]["post"]["responses"]


def test_list_show_and_usage(client, api_token, make_client):
    own, _ = make_client(name="Cổng Hà Nội", agency_code="tp-ha-noi")
    other, _ = make_client(name="Cổng Huế", agency_code="tp-hue")
    agency = bearer(api_token("admin:agency", agency_code="tp-ha-noi"))
    listed = client.get("/admin/api/clients", headers=agency).get_json()
    assert [p["client_id"] for p in listed["portals"]] == [own] and listed["next_page"] is None
    national = bearer(api_token("admin:national"))
    found = client.get("/admin/api/clients?q=hu%E1%BA%BF&status=active", headers=national).get_json()["portals"]
    assert [p["client_id"] for p in found] == [other]
    shown = client.get(f"/admin/api/clients/{own}", headers=agency).get_json()
    assert shown["metadata"]["redirect_uris"] == [CALLBACK] and shown["agency_code"] == "tp-ha-noi"
    assert shown["status"] == "active" and shown["has_client_secret"] is True and "client_secret" not in shown
    assert _error(client.get(f"/admin/api/clients/{other}", headers=agency)) == (404, "not_found")
    usage = client.get(f"/admin/api/clients/{own}/usage", headers=agency).get_json()
    assert len(usage["logins_per_day"]) == 30 and usage["live_grants"] == 0
    assert usage["logout_deliveries"] == {"failed": 0, "pending": 0, "recent_failures": []}


def test_patch_applies_the_registration_rules_all_or_nothing(app, client, api_token, make_client):
    client_id, _ = make_client(agency_code="tp-ha-noi", scopes=["openid", "profile", "email"])
    agency = bearer(api_token("admin:agency", agency_code="tp-ha-noi"))
    url = f"/admin/api/clients/{client_id}"
    done = client.patch(url, headers=agency, json={"scope": "openid profile", "default_acr_values": [
        "urn:vn:gov:sso:loa:substantial"], "post_logout_redirect_uris": []})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["changed"] == ["default_acr_values", "post_logout_redirect_uris", "scope"]
    assert done.get_json()["portal"]["metadata"]["default_acr_values"] == ["urn:vn:gov:sso:loa:substantial"]
    removed = client.patch(url, headers=agency, json={"default_acr_values": None})
    assert removed.get_json()["changed"] == ["default_acr_values"]
    assert "default_acr_values" not in removed.get_json()["portal"]["metadata"]
    refusals = [
        ({"client_name": "Tên mới", "redirect_uris": [CALLBACK + "#x"]}, (400, "invalid_redirect_uri")),
        ({"client_name": "Tên mới", "backchannel_logout_uri": "http://portal.example.vn/bc"},
         (400, "invalid_client_metadata")),
        ({"client_name": "Tên mới", "redirect_uris": ["https://elsewhere.example.vn/cb"]},
         (400, "invalid_redirect_uri")),
        ({"client_name": "Tên mới", "scope": "openid national_id"}, (403, "insufficient_scope")),
        ({"client_name": "Tên mới", "agency_code": "tp-hue"}, (403, "insufficient_scope")),
        ({"client_name": "Tên mới", "agency": "a\u0085b"}, (400, "invalid_client_metadata")),
        ({"client_name": 42}, (400, "invalid_request")),
        ({"redirect_uris": "https://portal.example.vn/cb"}, (400, "invalid_request")),
        ({"minimum_acr": "urn:other"}, (400, "invalid_request")),
        ({"client_secret": "chosen-by-me"}, (400, "invalid_request")),
        ({}, (400, "invalid_request")),
        ({"client_name": "x" * 201}, (400, "invalid_request")),
    ]
    for body, expected in refusals:
        assert _error(client.patch(url, headers=agency, json=body)) == expected, body
    stored = _stored(app, client_id)
    assert stored.name == "Cổng thử nghiệm" and stored.redirect_uris == [CALLBACK] and stored.scope == "openid profile"
    assert _error(client.patch(url, headers=agency, data="not json", content_type="application/json")) == (
        400, "invalid_request")
    assert _error(client.patch(url, headers=agency, data="{}", content_type="text/plain")) == (400, "invalid_request")
    huge = client.patch(url, headers=agency, json={"client_name": "x" * 70_000})
    assert _error(huge) == (413, "invalid_request")
    national = bearer(api_token("admin:national"))
    moved = client.patch(url, headers=national, json={"agency_code": "tp-hue"})
    assert moved.status_code == 200 and moved.get_json()["portal"]["agency_code"] == "tp-hue"
    assert _error(client.get(url, headers=agency)) == (404, "not_found")
    with app.app_context():
        events = [e.data for e in db.session.execute(select(AuditEvent).where(
            AuditEvent.event == "admin.client.updated")).scalars()]
    assert len(events) == 3 and events[2]["after"] == {"agency_code": "tp-hue"}
    assert events[0]["actor_client"].startswith("admin-") and events[0]["actor_id"] is None


def test_rotate_suspend_reactivate(client, api_token, make_client, make_account, browser):
    make_account("001090032001")
    client_id, old = make_client(trusted=True, agency_code="tp-ha-noi")
    agency = bearer(api_token("admin:agency", agency_code="tp-ha-noi"))
    rotated = client.post(f"/admin/api/clients/{client_id}/secret", headers=agency)
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    new = rotated.get_json()["client_secret"]
    assert client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                       headers=basic_auth(client_id, old)).status_code == 401
    tokens = browser.exchange(browser.code_for("001090032001", client_id)["code"], client_id, new).get_json()
    user = bearer(tokens["access_token"])
    assert client.get("/oauth2/userinfo", headers=user).status_code == 200
    suspended = client.post(f"/admin/api/clients/{client_id}/suspend", headers=agency)
    assert suspended.status_code == 200 and suspended.get_json()["status"] == "suspended"
    assert client.get("/oauth2/userinfo", headers=user).status_code == 401  # at once
    assert _error(client.post(f"/admin/api/clients/{client_id}/suspend", headers=agency)) == (409, "invalid_state")
    assert client.post(f"/admin/api/clients/{client_id}/reactivate", headers=agency).get_json()["status"] == "active"
    assert client.get("/oauth2/userinfo", headers=user).status_code == 200
    public, _ = make_client(token_endpoint_auth_method="none", agency_code="tp-ha-noi")
    assert _error(client.post(f"/admin/api/clients/{public}/secret", headers=agency)) == (409, "invalid_state")


def test_registration_requests_are_decided_with_a_reason(app, client, runner, api_token, make_account):
    national = bearer(api_token("admin:national"))
    web = web_request(app, make_account)
    through_api = api_request(client, runner)["client_id"]
    queue = client.get("/admin/api/registration-requests", headers=national).get_json()["requests"]
    assert {r["client_id"]: r["registration"]["via"] for r in queue} == {web: "web", through_api: "api"}
    assert queue[0]["registration"]["contact_email"] == CONTACT
    for body in (None, {}, {"reason": ""}, {"reason": "   "}, {"reason": 7}, {"reason": "x" * 501},
                 {"reason": "a\x1bb"}, {"reason": "a\u202eb"}, {"reason": "ok", "extra": 1}):
        response = client.post(f"/admin/api/clients/{web}/reject", headers=national, json=body)
        assert _error(response) == (400, "invalid_request"), body
    rejected = client.post(f"/admin/api/clients/{web}/reject", headers=national, json={"reason": "Thiếu văn bản"})
    assert rejected.status_code == 200
    registration = rejected.get_json()["registration"]
    assert rejected.get_json()["status"] == "rejected" and registration["reason"] == "Thiếu văn bản"
    assert registration["decided_by"].startswith("api:admin-")
    assert any("Thiếu văn bản" in body for body in outbox(app, CONTACT))
    approved = client.post(f"/admin/api/clients/{through_api}/approve", headers=national)
    assert approved.status_code == 200 and approved.get_json()["status"] == "active"
    assert _error(client.post(f"/admin/api/clients/{through_api}/reject", headers=national,
                              json={"reason": "Muộn"})) == (409, "invalid_state")
    assert client.get("/admin/api/registration-requests", headers=national).get_json()["requests"] == []
    with app.app_context():
        assert db.session.get(RegistrationRequest, through_api).status == "approved"


def test_initial_access_tokens(client, api_token):
    national = bearer(api_token("admin:national"))
    for body in ({"expires_in": "3600"}, {"expires_in": 59}, {"expires_in": 10**9}, {"expires_in": True}, {}):
        assert _error(client.post("/admin/api/initial-access-tokens", headers=national, json=body)) == (
            400, "invalid_request"), body
    issued = client.post("/admin/api/initial-access-tokens", headers=national, json={"expires_in": 600})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    token = issued.get_json()["initial_access_token"]
    meta = {"client_name": "Cổng mới", "redirect_uris": ["https://moi.example.vn/cb"]}
    assert client.post("/oauth2/register", headers=bearer(token), json=meta).status_code == 201
    assert client.post("/oauth2/register", headers=bearer(token), json=meta).status_code == 401  # single use


def test_unknown_and_hostile_client_ids_are_404(client, api_token):
    national = bearer(api_token("admin:national"))
    for client_id in ("unknown", "x" * 65, "%E2%80%AE", "..%2F..%2Fetc"):
        response = client.get(f"/admin/api/clients/{client_id}", headers=national)
        assert response.status_code == 404 and response.get_json()["error"] == "not_found", client_id
    assert _error(client.post("/admin/api/clients/unknown/suspend", headers=national)) == (404, "not_found")
    for query in ("q=" + "x" * 101, "status=archived", "page=-1", "page=x", "q=%00"):
        assert _error(client.get(f"/admin/api/clients?{query}", headers=national)) == (400, "invalid_request"), query
