"""Who gets into the admin console, through pages and through the API (issue 6: roles, high-level
admin login, short admin sessions, the same authorization behind pages and API)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import time_machine
from openapi_spec_validator import validate

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.admin.access import ROLE_PERMISSIONS
from idp.admin.access import Admin
from idp.audit import AuditEvent
from idp.extensions import db
from tests.conftest import basic_auth


def test_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/admin/")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/auth/login?next=/admin/")


def test_account_without_a_staff_role_is_refused_and_the_refusal_audited(app, staff):
    for role in (None, POSTAL_CLERK):
        browser = staff(role)
        response = browser.get("/admin/")
        assert response.status_code == 403
        assert "vai trò" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="admin.denied").count() == 2


def test_each_staff_role_reaches_the_console_at_high(staff):
    for role, scope in ((NATIONAL_ADMIN, None), (AGENCY_ADMIN, "bo-tu-phap"), (HELPDESK, None), (AUDITOR, None)):
        response = staff(role, scope).get("/admin/")
        assert response.status_code == 200, role
        assert "/admin/" in response.get_data(as_text=True)


def test_substantial_session_without_second_factor_must_step_up(staff):
    """Issue 6: admins log in at the high level only (or a second factor on a verified identity)."""
    browser = staff(NATIONAL_ADMIN, level="substantial")
    response = browser.get("/admin/")
    assert response.status_code == 303
    assert "acr=" in response.headers["Location"] and "next=/admin/" in response.headers["Location"]


def test_admin_sessions_are_short(app, staff):
    browser = staff(NATIONAL_ADMIN)
    assert browser.get("/admin/").status_code == 200
    lifetime = app.extensions["idp.settings"].admin.session_lifetime
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=lifetime - 60), tick=False):
        assert browser.get("/admin/").status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=lifetime + 60), tick=False):
        # Still a live login session (the idle lifetime is longer) but too old for the console.
        response = browser.get("/admin/")
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]
    assert "prompt=login" in response.headers["Location"]  # the admin limit, not the end of the SSO session


def test_vietnamese_by_default_english_available(staff):
    browser = staff(NATIONAL_ADMIN)
    assert "Quản trị" in browser.get("/admin/").get_data(as_text=True)
    assert "Administration" in browser.get("/admin/?lang=en").get_data(as_text=True)


def test_role_permissions_are_scoped_for_agency_admins():
    admin = Admin(account_id=1, client_id=None, grants={AGENCY_ADMIN: frozenset({"hanoi"})})

    class Portal:
        def __init__(self, code):
            self.agency_code = code

    assert admin.can("clients.write") and admin.can("clients.write", "hanoi")
    assert not admin.can("clients.write", "hue") and not admin.can("clients.approve")
    assert admin.can_on_client("clients.write", Portal("hanoi"))
    assert not admin.can_on_client("clients.write", Portal("hue"))
    assert not admin.can_on_client("clients.write", Portal(None))
    both = Admin(account_id=1, client_id=None, grants={AGENCY_ADMIN: frozenset({"hanoi"}), AUDITOR: None})
    assert both.can_on_client("clients.read", Portal("hue")) and not both.can_on_client("clients.write", Portal("hue"))
    assert ROLE_PERMISSIONS[HELPDESK] == {"accounts.read", "accounts.unlock"}


def test_unscoped_agency_admin_grant_reaches_no_portal(app, staff):
    browser = staff(AGENCY_ADMIN)  # no agency code
    with app.app_context():
        from idp.admin.access import admin_of_account

        admin = admin_of_account(browser.account_id)
    assert admin is not None and admin.scope_of("clients.write") == frozenset()


# --- the API door ----------------------------------------------------------------------------------

def test_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/admin/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    flows = document["components"]["securitySchemes"]["adminToken"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"].endswith("/oauth2/token")


def test_api_without_token_is_401_with_a_bearer_challenge(client):
    """RFC 6750 §3: a request without credentials gets a challenge."""
    response = client.get("/admin/api/whoami")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_with_a_garbage_token_is_401(client):
    response = client.get("/admin/api/whoami", headers={"Authorization": "Bearer not.a.token"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_api_token_acts_with_the_role_its_scope_names(client, api_token):
    token = api_token("admin:auditor")
    response = client.get("/admin/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["roles"] == [AUDITOR]
    assert "audit.read" in response.get_json()["permissions"]


def test_portal_token_without_admin_scope_is_refused(app, client, make_client):
    client_id, secret = make_client(grant_types=["client_credentials"])
    token = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                        headers=basic_auth(client_id, secret)).get_json()["access_token"]
    response = client.get("/admin/api/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope"


def test_admin_scopes_cannot_be_self_registered(client):
    response = client.post("/oauth2/register", json={"redirect_uris": ["https://p.example.vn/cb"],
                                                     "scope": "openid admin:national"})
    assert response.status_code in (400, 401)


def test_suspended_api_client_token_stops_working_at_once(app, client, api_token):
    from idp.oidc.models import Client
    from idp.oidc.models import ClientStatus

    token = api_token("admin:national")
    assert client.get("/admin/api/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with app.app_context():
        row = db.session.query(Client).filter(Client.client_id.like("admin-%")).one()
        row.status = ClientStatus.SUSPENDED
        db.session.commit()
    assert client.get("/admin/api/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_api_client_cli_prints_a_secret_once(runner):
    result = runner.invoke(args=["admin", "api-client", "--name", "Kiểm toán", "--scope", "admin:auditor"])
    assert result.exit_code == 0, result.output
    assert '"client_secret"' in result.output and "admin:auditor" in result.output
    refused = runner.invoke(args=["admin", "api-client", "--name", "X", "--scope", "admin:agency"])
    assert refused.exit_code != 0 and "agency-code" in refused.output
