"""Role matrix of every identity-source page and API operation (issue 6: every action is checked
server-side): sources.read for national administrators and auditors, sources.write for national
administrators only; agency administrators, helpdesk and accounts without a staff role are refused
(pages 403, API 403 insufficient_scope)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openapi_spec_validator import validate

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.verifiers.overrides import StoredAnchor
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import SOURCES
from tests.admin.sources_support import bearer
from tests.conftest import basic_auth
from tests.conftest import csrf_from
from tests.verifiers.pki import make_ca

ROOT = make_ca("Matrix Root CA")
UPLOADED = make_ca("Matrix Uploaded CA")
READ, WRITE = "sources.read", "sources.write"
ROLES = [NATIONAL_ADMIN, AUDITOR, AGENCY_ADMIN, HELPDESK, None]
GRANTED = {NATIONAL_ADMIN: {READ, WRITE}, AUDITOR: {READ}}
SCOPE_OF = {NATIONAL_ADMIN: "admin:national", AUDITOR: "admin:auditor", AGENCY_ADMIN: "admin:agency",
            HELPDESK: "admin:helpdesk"}

# (method, path, permission, status when allowed, form fields); "{a}" is the uploaded anchor's id.
# Ordered so that each allowed change leaves the next rows meaningful (the anchor is removed last).
PAGES: list[tuple[str, str, str, int, dict[str, Any]]] = [
    ("GET", "/admin/sources", READ, 200, {}),
    ("GET", "/admin/sources/spare", READ, 200, {}),
    ("GET", "/admin/sources/certificate", READ, 200, {}),
    ("GET", "/admin/sources/certificate/anchors/{a}", READ, 200, {}),
    ("POST", "/admin/sources/spare/settings", WRITE, 303, {"version": "0"}),
    ("POST", "/admin/sources/spare/check", WRITE, 200, {}),
    ("POST", "/admin/sources/spare/disable", WRITE, 303, {"version": "0"}),
    ("POST", "/admin/sources/spare/enable", WRITE, 303, {"version": "1"}),
    ("POST", "/admin/sources/spare/reset", WRITE, 303, {"version": "2"}),
    ("POST", "/admin/sources/certificate/anchors", WRITE, 303, {"kind": "public", "level": "", "revocation": "hard",
                                                               "ocsp": "off", "name": "Thêm"}),
    ("POST", "/admin/sources/certificate/anchors/{a}/remove", WRITE, 303, {}),
]
API: list[tuple[str, str, str, int, dict[str, Any] | None]] = [
    ("GET", "/admin/api/sources", READ, 200, None),
    ("GET", "/admin/api/sources/spare", READ, 200, None),
    ("GET", "/admin/api/sources/certificate/anchors", READ, 200, None),
    ("GET", "/admin/api/sources/certificate/anchors/{a}", READ, 200, None),
    ("PATCH", "/admin/api/sources/spare/settings", WRITE, 200, {"settings": {"max_level": "low"}}),
    ("DELETE", "/admin/api/sources/spare/settings", WRITE, 200, None),
    ("POST", "/admin/api/sources/spare/check", WRITE, 200, None),
    ("POST", "/admin/api/sources/spare/disable", WRITE, 200, None),
    ("POST", "/admin/api/sources/spare/enable", WRITE, 200, None),
    ("POST", "/admin/api/sources/certificate/anchors", WRITE, 201, {"pem": UPLOADED.pem, "kind": "public"}),
    ("DELETE", "/admin/api/sources/certificate/anchors/{a}", WRITE, 204, None),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ADMIN_SETTINGS, "verifiers": {**SOURCES, "certificate": {
        "kind": "certificate", "anchors": [{"pem": ROOT.pem, "kind": "public", "revocation": "soft"}]}}}


@pytest.fixture
def anchor_id(app, api_token, client) -> int:  # noqa: ANN001
    """An uploaded anchor (by a national administrator's API client) the rows inspect and remove."""
    issuer = make_ca("Matrix Extra CA")
    response = client.post("/admin/api/sources/certificate/anchors", headers=bearer(api_token("admin:national")),
                           json={"pem": issuer.pem, "kind": "public"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_every_operation_is_in_the_matrix(app):
    """The tables above cover every route of this area (a new route must be added to them)."""
    rules = {(method, rule.rule) for rule in app.url_map.iter_rules() if "/sources" in rule.rule
             and rule.rule.startswith("/admin") for method in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(m, p.replace("{a}", "<int:anchor_id>").replace("spare", "<verifier_id>")
                .replace("certificate", "<verifier_id>")) for m, p, *_ in PAGES + API}
    assert rules == covered


@pytest.mark.parametrize("role", ROLES, ids=[r or "no_role" for r in ROLES])
def test_pages(app, staff, anchor_id, role):
    browser = staff(role, "bo-tu-phap" if role == AGENCY_ADMIN else None)
    # A valid CSRF token of this browser's session (from the login page's form), so that only the
    # admin guard decides.
    token = csrf_from(browser.get("/auth/login").get_data(as_text=True))
    for method, path, permission, allowed, fields in PAGES:
        url = path.format(a=anchor_id)
        if method == "GET":
            response = browser.get(url)
        else:
            data = {"csrf_token": token, **fields}
            if url.endswith("/anchors"):
                data["pem_file"] = (io.BytesIO(UPLOADED.pem.encode()), "ca.pem")
            response = browser.post(url, data=data, content_type="multipart/form-data")
        expected = allowed if permission in GRANTED.get(role, set()) else 403
        assert response.status_code == expected, (role, method, url, response.get_data(as_text=True)[:300])
    with app.app_context():
        names = [row.name for row in db.session.query(StoredAnchor)]
    # National administrators added one anchor and removed the other; nobody else changed anything.
    assert names == (["Thêm"] if role == NATIONAL_ADMIN else ["CN=Matrix Extra CA,O=Test CA,C=VN"])


@pytest.mark.parametrize("role", ROLES, ids=[r or "no_role" for r in ROLES])
def test_api(app, client, api_token, make_client, anchor_id, role):
    if role is None:
        client_id, secret = make_client(grant_types=["client_credentials"])
        token = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                            headers=basic_auth(client_id, secret)).get_json()["access_token"]
    else:
        token = api_token(SCOPE_OF[role], agency_code="bo-tu-phap" if role == AGENCY_ADMIN else None)
    for method, path, permission, allowed, body in API:
        url = path.format(a=anchor_id)
        response = client.open(url, method=method, headers=bearer(token), json=body)
        if permission in GRANTED.get(role, set()):
            assert response.status_code == allowed, (role, method, url, response.get_json())
        else:
            assert response.status_code == 403, (role, method, url)
            assert response.get_json()["error"] == "insufficient_scope"


def test_operations_are_documented_in_a_valid_openapi_document(client):
    document = client.get("/admin/api/openapi.json").get_json()
    validate(document)
    paths = document["paths"]
    assert set(paths["/sources/{verifier_id}/settings"]) == {"patch", "delete"}
    assert set(paths["/sources/{verifier_id}/anchors/{anchor_id}"]) == {"get", "delete"}
    patch = paths["/sources/{verifier_id}/settings"]["patch"]
    assert patch["x-permission"] == WRITE and patch["security"] == [{"adminToken": ["admin:national"]}]
    assert paths["/sources"]["get"]["security"] == [{"adminToken": ["admin:national", "admin:auditor"]}]
