"""Role matrix for every portal page and API operation (issue 6: "role checks for every admin endpoint (each
role allowed and refused where it should be)"): national administrator, agency administrator on its own
agency's portal and on another's, helpdesk, auditor, and an account or token without an admin role."""

from __future__ import annotations

import pytest

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.oidc.clients import ClientRegistration
from idp.oidc.clients import register_client
from idp.oidc.models import ClientStatus
from idp.oidc.registration_models import RegistrationRequest
from tests.admin.clients_support import bearer
from tests.admin.clients_support import post_form
from tests.conftest import basic_auth

OWN, OTHER = "tp-ha-noi", "tp-hue"
# Who asks: (label, role, agency scope of the role, agency code of the portal asked about).
ACTORS = (
    ("national", NATIONAL_ADMIN, None, OTHER),
    ("agency-own", AGENCY_ADMIN, OWN, OWN),
    ("agency-other", AGENCY_ADMIN, OWN, OTHER),
    ("helpdesk", HELPDESK, None, OWN),
    ("auditor", AUDITOR, None, OWN),
    ("none", None, None, OWN),
)
OK = "ok"
# Expected outcome per permission: OK, or the refusal status (404: another agency's portal is not revealed).
READ = {"national": OK, "agency-own": OK, "agency-other": 404, "helpdesk": 403, "auditor": OK, "none": 403}
WRITE = {"national": OK, "agency-own": OK, "agency-other": 404, "helpdesk": 403, "auditor": 403, "none": 403}
APPROVE = {"national": OK, "agency-own": 403, "agency-other": 403, "helpdesk": 403, "auditor": 403, "none": 403}
LIST_READ = {**READ, "agency-other": OK}  # a list: the agency admin sees its own portals only (checked below)
LIST_APPROVE = APPROVE

EDIT = {"client_name": "Cổng đã sửa", "redirect_uris": "https://portal.example.vn/callback",
        "token_endpoint_auth_method": "client_secret_basic", "scope_openid": "y", "minimum_acr": "", "default_acr": "",
        "id_token_signed_response_alg": ""}
# (method, path, form fields, portal state, expectations, success status)
PAGES = (
    ("GET", "/admin/clients", None, "active", LIST_READ, 200),
    ("GET", "/admin/clients/{id}", None, "active", READ, 200),
    ("GET", "/admin/clients/{id}/edit", None, "active", WRITE, 200),
    ("POST", "/admin/clients/{id}/edit", EDIT, "active", WRITE, 303),
    ("GET", "/admin/clients/{id}/secret", None, "active", WRITE, 200),
    ("POST", "/admin/clients/{id}/secret", {}, "active", WRITE, 200),
    ("POST", "/admin/clients/{id}/suspend", {}, "active", WRITE, 303),
    ("POST", "/admin/clients/{id}/reactivate", {}, "suspended", WRITE, 303),
    ("POST", "/admin/clients/{id}/approve", {}, "pending", APPROVE, 303),
    ("POST", "/admin/clients/{id}/reject", {"reason": "Không đủ thông tin"}, "pending", APPROVE, 303),
    ("GET", "/admin/registration-requests", None, "pending", LIST_APPROVE, 200),
    ("POST", "/admin/initial-access-tokens", {"lifetime": "3600"}, "active", LIST_APPROVE, 200),
)
API = (
    ("GET", "/admin/api/clients", None, "active", LIST_READ, 200),
    ("GET", "/admin/api/clients/{id}", None, "active", READ, 200),
    ("GET", "/admin/api/clients/{id}/usage", None, "active", READ, 200),
    ("PATCH", "/admin/api/clients/{id}", {"client_name": "Cổng đã sửa"}, "active", WRITE, 200),
    ("POST", "/admin/api/clients/{id}/secret", None, "active", WRITE, 200),
    ("POST", "/admin/api/clients/{id}/suspend", None, "active", WRITE, 200),
    ("POST", "/admin/api/clients/{id}/reactivate", None, "suspended", WRITE, 200),
    ("POST", "/admin/api/clients/{id}/approve", None, "pending", APPROVE, 200),
    ("POST", "/admin/api/clients/{id}/reject", {"reason": "Không đủ thông tin"}, "pending", APPROVE, 200),
    ("GET", "/admin/api/registration-requests", None, "pending", LIST_APPROVE, 200),
    ("POST", "/admin/api/initial-access-tokens", {"expires_in": 3600}, "active", LIST_APPROVE, 201),
)
SCOPE_OF_ROLE = {NATIONAL_ADMIN: "admin:national", AGENCY_ADMIN: "admin:agency", HELPDESK: "admin:helpdesk",
                 AUDITOR: "admin:auditor"}


def _portal(app, agency_code: str, state: str, n: int) -> str:  # noqa: ANN001
    with app.app_context():
        client, _secret = register_client(ClientRegistration(
            name=f"Cổng {agency_code} {n}", redirect_uris=["https://portal.example.vn/callback"],
            agency_code=agency_code, scopes=["openid", "profile"]))
        if state == "pending":
            client.status = ClientStatus.PENDING
            db.session.add(RegistrationRequest(client_id=client.client_id, status="pending"))
        elif state == "suspended":
            client.status = ClientStatus.SUSPENDED
        db.session.commit()
        return client.client_id


def _outcome(status: int, expected: str, success: int) -> str | int:
    return OK if status == success else status


@pytest.mark.parametrize(("method", "path", "fields", "state", "expected", "success"), PAGES,
                         ids=[f"{m} {p}" for m, p, *_ in PAGES])
def test_page_roles(app, staff, method, path, fields, state, expected, success):  # noqa: ANN001
    outcomes = {}
    for n, (label, role, scope, portal_agency) in enumerate(ACTORS):
        client_id = _portal(app, portal_agency, state, n)
        browser = staff(role, scope)
        url = path.format(id=client_id)
        response = browser.get(url) if method == "GET" else post_form(browser, url, **fields)
        outcomes[label] = _outcome(response.status_code, expected[label], success)
        if label == "agency-other" and url == "/admin/clients":
            assert client_id not in response.get_data(as_text=True)  # another agency's portal is not listed
    assert outcomes == expected


@pytest.mark.parametrize(("method", "path", "body", "state", "expected", "success"), API,
                         ids=[f"{m} {p}" for m, p, *_ in API])
def test_api_roles(app, client, api_token, make_client, method, path, body, state, expected, success):  # noqa: ANN001
    outcomes = {}
    for n, (label, role, scope, portal_agency) in enumerate(ACTORS):
        client_id = _portal(app, portal_agency, state, n)
        if role is None:  # a portal's own token: no admin scope
            portal_id, secret = make_client(grant_types=["client_credentials"])
            token = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                                headers=basic_auth(portal_id, secret)).get_json()["access_token"]
        else:
            token = api_token(SCOPE_OF_ROLE[role], agency_code=scope)
        response = client.open(path.format(id=client_id), method=method, headers=bearer(token),
                               json=body if body is not None else None)
        outcomes[label] = _outcome(response.status_code, expected[label], success)
        if response.status_code >= 400:
            error = response.get_json()["error"]
            assert error == ("not_found" if response.status_code == 404 else "insufficient_scope"), (label, error)
        if label == "agency-other" and path == "/admin/api/clients":
            assert client_id not in response.get_data(as_text=True)
    assert outcomes == expected
