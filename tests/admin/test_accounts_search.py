"""Issue 6, Accounts: staff find an account by its personal ID, tax code, phone or e-mail, by exact match
only, through the page and the API; results are masked and every search is audited without the value
in clear."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from idp.accounts.models import Account
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_search import parse_query
from idp.extensions import db
from tests.admin.accounts_support import all_audit_text
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import events
from tests.admin.accounts_support import post_page

PIN = "001090031234"
OTHER_PIN = "001090031299"
TAX_CODE = "0100233488"  # a valid organisation tax code (python-stdnum's test value)


@pytest.fixture
def people(app, make_account):  # noqa: ANN001, ANN201
    """Two citizens sharing a family phone (typed two ways) and a business; e-mail with capitals."""
    first = make_account(PIN, phone="0912345678", email="Nguyen.An@Example.VN")
    second = make_account(OTHER_PIN, phone="+84912345678", email="other@example.vn")
    business = make_account(TAX_CODE, kind="business", full_name="Công ty TNHH Thử Nghiệm", email="ketoan@example.vn")
    return first, second, business


def _search(browser, kind: str, value: str):  # noqa: ANN001, ANN202
    return post_page(browser, "/admin/accounts", kind=kind, value=value)


def _result_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/admin/accounts/(\d+)"', html)]


def test_each_kind_finds_exact_matches_however_the_value_is_typed(staff, people):
    first, second, business = people
    browser = staff(HELPDESK)
    cases = [
        ("personal_id", f"  {PIN} ", [first]),
        ("tax_code", TAX_CODE, [business]),
        ("tax_code", PIN, [first]),  # an individual's tax code is their personal ID
        ("phone", "+84 912.345.678", [first, second]),  # stored as 0912345678 and as +84912345678
        ("phone", "0912-345-678", [first, second]),
        ("email", "  nguyen.an@example.vn ", [first]),
        ("email", "NGUYEN.AN@EXAMPLE.VN", [first]),
    ]
    for kind, value, expected in cases:
        response = _search(browser, kind, value)
        assert response.status_code == 200, (kind, value)
        assert _result_ids(response.get_data(as_text=True)) == expected, (kind, value)


def test_no_partial_or_pattern_matches(staff, people):
    browser = staff(NATIONAL_ADMIN)
    for kind, value in (("email", "nguyen.an@example"), ("email", "%@example.vn"), ("email", "_guyen.an@example.vn"),
                        ("personal_id", "001090031235"), ("phone", "0912345679")):
        response = _search(browser, kind, value)
        assert response.status_code in (200, 400), (kind, value)
        assert _result_ids(response.get_data(as_text=True)) == [], (kind, value)


def test_results_are_masked(staff, people):
    html = _search(staff(NATIONAL_ADMIN), "phone", "0912345678").get_data(as_text=True)
    assert PIN not in html and OTHER_PIN not in html
    assert "•••••••••234" in html and "Nguyễn Văn Test" not in html and "N. V. T." in html
    assert "0912345678" not in html.split("</form>")[1] and "0••• ••• 678" in html
    assert "Nguyen.An@Example.VN" not in html and "N•••@Example.VN" in html


def test_malformed_values_are_refused_with_the_reason_and_nothing_is_searched(app, staff, people):
    browser = english(staff(NATIONAL_ADMIN))
    cases = [
        ("personal_id", "12345", "exactly 12 digits"),
        ("personal_id", "999090031234", "valid province code"),
        ("tax_code", "0100233489", "check digit"),
        ("phone", "0243 825 1234", "landline"),
        ("phone", "1900 1234", "Short codes"),
        ("email", "not an email", "not an e-mail address"),
        ("email", "a@b", "not an e-mail address"),
        ("nonsense", PIN, "Not a valid choice"),
        ("personal_id", "", "Type what to search for"),
        ("personal_id", "1" * 300, "Field cannot be longer"),
        ("personal_id", "<script>alert(1)</script>", "exactly 12 digits"),
        ("personal_id", "0010900\x0031234", "exactly 12 digits"),
        ("email", "an\x00@example.vn", "not an e-mail address"),
        ("phone", "0912\x00345678", "only digits"),
    ]
    for kind, value, message in cases:
        response = _search(browser, kind, value)
        assert response.status_code == 400, (kind, value)
        assert message in response.get_data(as_text=True), (kind, value)
        assert "<script>alert" not in response.get_data(as_text=True)
    assert events(app, "admin.account.searched") == []


def test_searches_are_audited_with_the_kind_and_a_masked_value(app, staff, people):
    browser = staff(AUDITOR)
    _search(browser, "personal_id", PIN)
    _search(browser, "phone", "0912 345 678")
    _search(browser, "email", "nguyen.an@example.vn")
    searched = events(app, "admin.account.searched")
    assert [(e.account_id, e.data["search_kind"], e.data["query"], e.data["results"]) for e in searched] == [
        (browser.account_id, "personal_id", "•••••••••234", 1),
        (browser.account_id, "phone", "0••• ••• 678", 2),
        (browser.account_id, "email", "n•••@example.vn", 1),
    ]
    text = all_audit_text(app)
    assert PIN not in text and "912345678" not in text and "nguyen.an" not in text.lower()


def test_the_search_form_needs_csrf(staff, people):
    browser = staff(NATIONAL_ADMIN)
    assert browser.post("/admin/accounts", data={"kind": "personal_id", "value": PIN}).status_code == 400


def test_api_search_matches_the_page(app, client, api_token, people):
    first, second, _business = people
    token = api_token("admin:helpdesk")
    response = api(client, token, "POST", "/admin/api/accounts/search", {"kind": "phone", "value": "+84912345678"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["query_masked"] == "0••• ••• 678"
    assert [row["id"] for row in body["accounts"]] == [first, second]
    assert body["accounts"][0]["identifier_masked"] == "•••••••••234"
    assert PIN not in response.get_data(as_text=True)
    refused = api(client, token, "POST", "/admin/api/accounts/search", {"kind": "personal_id", "value": "12"})
    assert refused.status_code == 400 and refused.get_json()["error"] == "personal_id_format"
    bad_schema = api(client, token, "POST", "/admin/api/accounts/search", {"kind": "name", "value": "An"})
    assert bad_schema.status_code == 400 and bad_schema.get_json()["error"] == "invalid_request"
    [event] = events(app, "admin.account.searched")
    assert event.account_id is None and event.data["actor_client"].startswith("admin-")


def test_searches_are_limited_per_admin(client, api_token, people):
    token = api_token("admin:auditor")
    statuses = [api(client, token, "POST", "/admin/api/accounts/search",
                    {"kind": "personal_id", "value": PIN}).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    other = api_token("admin:auditor")  # another client has its own budget
    assert api(client, other, "POST", "/admin/api/accounts/search",
               {"kind": "personal_id", "value": PIN}).status_code == 200


def test_phone_spellings_are_those_the_app_stores(app):
    with app.app_context():
        assert parse_query("phone", "0084 912 345 678").values == ("+84912345678", "0912345678", "84912345678")
        with pytest.raises(AdminRefusal) as refused:
            parse_query("phone", "٠٩١٢٣٤٥٦٧٨")  # Arabic-Indic digits
        assert refused.value.status == 400


def test_a_stored_landline_is_still_masked(app, staff, make_account):
    account_id = make_account(PIN)
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == account_id).values(phone="02438251234"))
        db.session.commit()
    html = staff(NATIONAL_ADMIN).get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert "02438251234" not in html and "0••• ••• 234" in html
