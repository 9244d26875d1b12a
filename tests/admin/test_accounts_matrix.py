"""Issue 6, Tests: "Role checks for every admin endpoint (each role allowed and refused where it should
be)", for the account area (accounts, linking reviews, staff roles), pages and API, as one table.

Allowed requests carry an empty form or body, so they pass the role check and stop at validation (400)
without changing anything; refused ones get 403 (pages) or 403 insufficient_scope (API)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from idp.accounts.models import Account
from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import grant_role
from idp.accounts.roles import roles_of
from idp.extensions import db
from tests.admin.accounts_support import api
from tests.admin.accounts_support import csrf_token
from tests.admin.accounts_support import grant_id_of
from tests.admin.accounts_support import mock_login
from tests.admin.accounts_support import open_reviews

PIN = "001090081234"
READERS = {NATIONAL_ADMIN, HELPDESK, AUDITOR}
UNLOCKERS = {NATIONAL_ADMIN, HELPDESK}
NATIONAL = {NATIONAL_ADMIN}

PAGES = [
    ("GET", "/admin/accounts", READERS),
    ("POST", "/admin/accounts", READERS),
    ("GET", "/admin/accounts/{account}", READERS),
    ("POST", "/admin/accounts/{account}/lock", NATIONAL),
    ("POST", "/admin/accounts/{account}/unlock", UNLOCKERS),
    ("POST", "/admin/accounts/{account}/sessions/end", NATIONAL),
    ("GET", "/admin/reviews", READERS),
    ("GET", "/admin/reviews/{review}", READERS),
    ("POST", "/admin/reviews/{review}/decide", NATIONAL),
    ("GET", "/admin/roles", NATIONAL),
    ("POST", "/admin/roles", NATIONAL),
    ("POST", "/admin/roles/{grant}/revoke", NATIONAL),
]
API = [
    ("POST", "/admin/api/accounts/search", READERS),
    ("GET", "/admin/api/accounts/{account}", READERS),
    ("POST", "/admin/api/accounts/{account}/lock", NATIONAL),
    ("POST", "/admin/api/accounts/{account}/unlock", UNLOCKERS),
    ("POST", "/admin/api/accounts/{account}/sessions/end", NATIONAL),
    ("GET", "/admin/api/reviews", READERS),
    ("GET", "/admin/api/reviews/{review}", READERS),
    ("POST", "/admin/api/reviews/{review}/decision", NATIONAL),
    ("GET", "/admin/api/roles", NATIONAL),
    ("POST", "/admin/api/roles", NATIONAL),
    ("POST", "/admin/api/roles/{grant}/revoke", NATIONAL),
]
# Who signs in to the pages: every staff role, a postal clerk (staff, not an admin) and a plain citizen.
PAGE_ROLES = [(NATIONAL_ADMIN, None), (AGENCY_ADMIN, "bo-tu-phap"), (HELPDESK, None), (AUDITOR, None),
              (POSTAL_CLERK, "100000"), (None, None)]
SCOPES = {"admin:national": NATIONAL_ADMIN, "admin:agency": AGENCY_ADMIN, "admin:helpdesk": HELPDESK,
          "admin:auditor": AUDITOR}
AREA = re.compile(r"^/admin/(api/)?(accounts|reviews|roles)\b")


@pytest.fixture
def targets(app, make_account):  # noqa: ANN001, ANN201
    """An account holding a role grant, and an open linking review about it."""
    account_id = make_account(PIN)
    assert mock_login(app, personal_id=PIN, full_name="Nguyễn Văn Test", level="low").status_code == 409
    with app.app_context():
        grant_role(account_id, POSTAL_CLERK, "200000")
        db.session.commit()
    [review] = open_reviews(app)
    return {"account": account_id, "review": review.id, "grant": grant_id_of(app, account_id, POSTAL_CLERK)}


def _fill(path: str, targets: dict) -> str:
    return path.format(**targets)


@pytest.mark.parametrize(("role", "scope"), PAGE_ROLES, ids=[r or "no-role" for r, _ in PAGE_ROLES])
def test_pages(staff, targets, role, scope):
    browser = staff(role, scope)
    token = csrf_token(browser)
    for method, path, allowed in PAGES:
        url = _fill(path, targets)
        response = (browser.get(url) if method == "GET"
                    else browser.post(url, data={"csrf_token": token}))  # an empty form: nothing happens
        expected = (200 if method == "GET" else 400) if role in allowed else 403
        assert response.status_code == expected, (role, method, path, response.status_code)


@pytest.mark.parametrize("scope", list(SCOPES))
def test_api(client, api_token, targets, scope):
    token = api_token(scope, agency_code="bo-tu-phap" if scope == "admin:agency" else None)
    for method, path, allowed in API:
        response = api(client, token, method, _fill(path, targets), {} if method == "POST" else None)
        if SCOPES[scope] in allowed:
            assert response.status_code == (200 if method == "GET" else 400), (scope, method, path)
        else:
            assert response.status_code == 403, (scope, method, path)
            assert response.get_json()["error"] == "insufficient_scope"


def test_nothing_changed_in_the_matrix(app, staff, client, api_token, targets):
    """The allowed requests above were refused at validation: the account, review and grant are intact."""
    test_pages(staff, targets, NATIONAL_ADMIN, None)
    test_api(client, api_token, targets, "admin:national")
    [review] = open_reviews(app)
    assert review.id == targets["review"]
    with app.app_context():
        assert db.session.get(Account, targets["account"]).status == "active"
        assert [(r.role, r.scope) for r in roles_of(targets["account"])] == [(POSTAL_CLERK, "200000")]


def test_the_table_covers_every_endpoint_of_the_area(app):
    placeholder = re.compile(r"<(?:\w+:)?(\w+)>")
    names = {"account_id": "account", "review_id": "review", "grant_id": "grant"}
    routed = set()
    for rule in app.url_map.iter_rules():
        if AREA.match(rule.rule):
            path = placeholder.sub(lambda m: "{" + names[m.group(1)] + "}", rule.rule)
            routed |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == {(method, path) for method, path, _allowed in PAGES + API}


def test_openapi_documents_the_area_and_stays_valid(client):
    document = client.get("/admin/api/openapi.json").get_json()
    validate(document)
    documented = {(method.upper(), "/admin/api" + path) for path, item in document["paths"].items()
                  for method in item if AREA.match("/admin/api" + path)}
    expected = {(method, re.sub(r"\{(\w+)\}", lambda m: "{" + m.group(1) + "_id}", path)) for method, path, _ in API}
    assert documented == expected
    lock = document["paths"]["/accounts/{account_id}/lock"]["post"]
    assert lock["x-permission"] == "accounts.write" and lock["security"] == [{"adminToken": ["admin:national"]}]
    unlock = document["paths"]["/accounts/{account_id}/unlock"]["post"]
    assert unlock["security"] == [{"adminToken": ["admin:national", "admin:helpdesk"]}]
