"""Issue 6, Roles: national administrators grant and revoke staff roles, with a scope for postal clerks
(post office code) and agency administrators (agency code); nobody can take away the console's last
national administrator, and no national administrator their own last role."""

from __future__ import annotations

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import roles_of
from idp.admin.access import admin_of_account
from tests.admin.accounts_support import REASON
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import events
from tests.admin.accounts_support import grant_id_of
from tests.admin.accounts_support import post_page

PIN = "001090071234"


def _grants(app, account_id: int) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with app.app_context():
        return [(row.role, row.scope) for row in roles_of(account_id)]


def test_the_page_lists_staff_masked(app, staff, make_account):
    admin = english(staff(NATIONAL_ADMIN))
    clerk = staff(POSTAL_CLERK, "100000")
    html = admin.get("/admin/roles").get_data(as_text=True)
    assert "Postal clerk" in html and "<code>100000</code>" in html and "National administrator" in html
    assert f"/admin/accounts/{clerk.account_id}" in html and "(you)" in html
    assert "001188" not in html  # the staff personal IDs (tests/admin/conftest.py) appear masked only


def test_grant_a_scoped_role_from_the_page(app, staff, make_account):
    account_id = make_account(PIN)
    admin = staff(NATIONAL_ADMIN)
    response = post_page(admin, "/admin/roles", identifier=f" {PIN} ", role=AGENCY_ADMIN, scope=" bo-tu-phap ",
                         reason=REASON)
    assert response.status_code == 303 and response.headers["Location"].endswith("?done=granted")
    assert _grants(app, account_id) == [(AGENCY_ADMIN, "bo-tu-phap")]
    with app.app_context():
        assert admin_of_account(account_id).scope_of("clients.write") == {"bo-tu-phap"}
    [event] = events(app, "admin.role.granted")
    assert event.account_id == admin.account_id and event.data["target_id"] == str(account_id)
    assert event.data["after"] == {"role": AGENCY_ADMIN, "scope": "bo-tu-phap"} and event.data["reason"] == REASON
    [stored] = [e for e in events(app, "role.granted") if e.account_id == account_id]
    assert stored.data["granted_by"] == admin.account_id


def test_scopes_must_fit_the_role(app, staff, make_account):
    account_id = make_account(PIN)
    admin = english(staff(NATIONAL_ADMIN))
    cases = [
        ({"role": POSTAL_CLERK, "scope": ""}, 400, "This role needs a scope"),
        ({"role": AGENCY_ADMIN, "scope": "  "}, 400, "This role needs a scope"),
        ({"role": HELPDESK, "scope": "hanoi"}, 400, "This role is national"),
        ({"role": "superuser", "scope": ""}, 400, "Not a valid choice"),
        ({"role": POSTAL_CLERK, "scope": "bưu điện"}, 400, "plain characters"),
        ({"role": POSTAL_CLERK, "scope": "x" * 65}, 400, "Field cannot be longer"),
        ({"role": HELPDESK, "scope": "", "identifier": "001090079999"}, 404, "No account has this"),
        ({"role": HELPDESK, "scope": "", "identifier": "<b>x</b>"}, 400, "not a personal ID number"),
        ({"role": HELPDESK, "scope": "", "identifier": "0010900\x0071234"}, 400, "not a personal ID number"),
        ({"role": POSTAL_CLERK, "scope": "10\x000000"}, 400, "plain characters"),
        ({"role": HELPDESK, "scope": "", "reason": ""}, 400, "Give a reason"),
    ]
    for fields, status, message in cases:
        data = {"identifier": PIN, "reason": REASON, **fields}
        response = post_page(admin, "/admin/roles", **data)
        assert response.status_code == status, fields
        assert message in response.get_data(as_text=True), fields
        assert "<b>x</b>" not in response.get_data(as_text=True)
    assert _grants(app, account_id) == []
    assert post_page(admin, "/admin/roles", identifier=PIN, role=HELPDESK, scope="", reason=REASON).status_code == 303
    again = post_page(admin, "/admin/roles", identifier=PIN, role=HELPDESK, scope="", reason=REASON)
    assert again.status_code == 409 and "already holds this role" in again.get_data(as_text=True)


def test_revoke_from_the_page(app, staff):
    admin = staff(NATIONAL_ADMIN)
    clerk = staff(POSTAL_CLERK, "100000")
    grant_id = grant_id_of(app, clerk.account_id, POSTAL_CLERK)
    refused = post_page(admin, f"/admin/roles/{grant_id}/revoke", prefix="revoke", reason="")
    assert refused.status_code == 400 and _grants(app, clerk.account_id) == [(POSTAL_CLERK, "100000")]
    response = post_page(admin, f"/admin/roles/{grant_id}/revoke", prefix="revoke", reason=REASON)
    assert response.status_code == 303 and _grants(app, clerk.account_id) == []
    [event] = events(app, "admin.role.revoked")
    assert event.data["before"] == {"role": POSTAL_CLERK, "scope": "100000"} and event.data["after"] is None
    assert post_page(admin, f"/admin/roles/{grant_id}/revoke", prefix="revoke", reason=REASON).status_code == 404
    assert post_page(admin, "/admin/roles/99999999999999999999/revoke", prefix="revoke",
                     reason=REASON).status_code == 404


def test_no_lock_out_of_the_console(app, staff, client, api_token):
    first = english(staff(NATIONAL_ADMIN))
    own = grant_id_of(app, first.account_id, NATIONAL_ADMIN)
    # Alone: neither they nor an API client may remove the last national administrator.
    response = post_page(first, f"/admin/roles/{own}/revoke", prefix="revoke", reason=REASON)
    assert response.status_code == 409 and "your own national administrator role" in response.get_data(as_text=True)
    token = api_token("admin:national")
    refused = api(client, token, "POST", f"/admin/api/roles/{own}/revoke", {"reason": REASON})
    assert refused.status_code == 409 and refused.get_json()["error"] == "last_national_admin"
    # With a second national administrator, one may remove the other, never themselves.
    second = staff(NATIONAL_ADMIN)
    assert post_page(first, f"/admin/roles/{own}/revoke", prefix="revoke", reason=REASON).status_code == 409
    theirs = grant_id_of(app, second.account_id, NATIONAL_ADMIN)
    assert post_page(first, f"/admin/roles/{theirs}/revoke", prefix="revoke", reason=REASON).status_code == 303
    assert _grants(app, first.account_id) == [(NATIONAL_ADMIN, None)]
    assert second.get("/admin/roles").status_code == 403  # at once


def test_the_api_grants_lists_and_revokes(app, client, api_token, make_account):
    account_id = make_account(PIN)
    token = api_token("admin:national")
    created = api(client, token, "POST", "/admin/api/roles",
                  {"account_id": account_id, "role": POSTAL_CLERK, "scope": "700000", "reason": REASON})
    assert created.status_code == 201
    body = created.get_json()
    assert (body["account_id"], body["role"], body["scope"]) == (account_id, POSTAL_CLERK, "700000")
    listed = api(client, token, "GET", "/admin/api/roles").get_json()["grants"]
    assert [(g["id"], g["role"]) for g in listed] == [(body["id"], POSTAL_CLERK)]
    for bad in ({"account_id": account_id, "role": "root", "reason": REASON},
                {"account_id": "1", "role": HELPDESK, "reason": REASON},
                {"account_id": account_id, "role": HELPDESK, "reason": REASON, "scope": "hn"},
                {"account_id": 2**40, "role": HELPDESK, "reason": REASON}):
        response = api(client, token, "POST", "/admin/api/roles", bad)
        assert response.status_code in (400, 404), bad
    missing = api(client, token, "POST", "/admin/api/roles", {"account_id": 424242, "role": HELPDESK,
                                                             "reason": REASON})
    assert missing.status_code == 404 and missing.get_json()["error"] == "account_not_found"
    revoked = api(client, token, "POST", f"/admin/api/roles/{body['id']}/revoke", {"reason": REASON})
    assert revoked.status_code == 200 and revoked.get_json()["id"] == body["id"]
    assert _grants(app, account_id) == []
    [granted] = events(app, "admin.role.granted")
    assert granted.account_id is None and granted.data["actor_client"].startswith("admin-")
