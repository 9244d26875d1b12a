"""Issue 6, citizen account console: the home page, the shared navigation, the profile with the source
of each attribute, and the linked sources (unlink with CSRF, a recent login and the login rules)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from idp.accounts.linking import linked_sources
from idp.accounts.models import Account
from idp.accounts.service import find_account
from idp.extensions import db
from tests.accounts.console_support import CONSOLE_PAGES
from tests.accounts.console_support import OTHER_ACCOUNT_PAGES
from tests.accounts.console_support import events
from tests.accounts.console_support import later
from tests.accounts.console_support import log_in
from tests.accounts.console_support import log_in_with_source
from tests.accounts.console_support import outbox
from tests.accounts.console_support import translated
from tests.conftest import csrf_from
from tests.conftest import query_of

PIN = "001090066201"
NO_PASSWORD_PIN = "001090066202"


@pytest.fixture
def settings_overrides() -> dict:
    # A second source (low level) to link next to the first one.
    return {"verifiers": {"mock": {"kind": "mock"},
                          "mock_b": {"kind": "mock", "max_level": "low",
                                     "names": {"vi": "Nguồn phụ", "en": "Second source"}}}}


@pytest.mark.parametrize("path", CONSOLE_PAGES)
def test_every_console_page_needs_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 303
    assert urlsplit(response.location).path == "/auth/login" and query_of(response.location)["next"] == path


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("path", CONSOLE_PAGES + OTHER_ACCOUNT_PAGES)
def test_every_account_page_renders_in_both_languages_with_the_navigation(app, client, make_account, lang, path):
    make_account(PIN)
    log_in(client, PIN)
    response = client.get(path, headers={"Accept-Language": lang})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:300]
    assert f'<html lang="{lang}">' in html
    nav = re.search(r'<nav class="account-nav" aria-label="([^"]+)">(.*?)</nav>', html, re.S)
    assert nav and nav.group(1) == translated(app, lang, "Your account")
    links = re.findall(r'<a href="([^"]+)"', nav.group(2))
    assert links == ["/accounts/", "/accounts/profile", "/accounts/sources", "/accounts/security",
                     "/accounts/sessions", "/accounts/consents", "/accounts/history", "/accounts/export",
                     "/accounts/delete"]
    current = re.findall(r'<a href="([^"]+)" aria-current="(page|true)"', nav.group(2))
    assert len(current) == 1  # exactly one entry says where the person is
    assert translated(app, lang, "Security") in nav.group(2)  # an entry already in the catalogues
    if lang == "vi":
        assert "Bảo mật" in nav.group(2)


def test_home_says_who_you_are_without_the_full_personal_id(app, client, make_account):
    make_account(PIN, full_name="Trần Thị Console")
    log_in(client, PIN)
    html = client.get("/accounts/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Trần Thị Console" in html and "Citizen" in html
    assert "•••••••••201" in html and PIN not in html
    levels = re.findall(r"<dt>(Identity level|This session)</dt>\s*<dd>(\w+)", html)
    assert levels == [("Identity level", "low"), ("This session", "low")]
    for path in CONSOLE_PAGES[1:]:
        assert f'href="{path}"' in html
    assert 'href="/accounts/" aria-current="page"' in html


def test_profile_shows_each_attribute_with_its_source_level_and_time(app, client, make_account):
    make_account(PIN, email="an@example.vn", phone="0912345678", gender="male")
    # VNeID-like proof of name and birth date through the (mock) source, at substantial.
    log_in_with_source(client, PIN, full_name="Nguyễn Văn Test", birthdate="1990-01-01")
    html = client.get("/accounts/profile", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "•••••••••201" in html and PIN not in html
    rows = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>(.*?)</dd>", html, re.S))
    assert "Nguyễn Văn Test" in rows["Full name"]
    assert re.search(r"Confirmed by Test source \(level: substantial\) on \d\d/\d\d/\d{4} \d\d:\d\d", rows["Full name"])
    assert "Declared by you on" in rows["Full name"]  # the self-declared value at registration, listed after
    assert rows["Full name"].index("Confirmed by") < rows["Full name"].index("Declared by you")
    assert "01/01/1990" in rows["Date of birth"] and "Confirmed by Test source" in rows["Date of birth"]
    assert "an@example.vn" in rows["E-mail address"] and "Declared by you" in rows["E-mail address"]
    assert "Confirmed by" not in rows["E-mail address"]
    assert "Male" in rows["Sex"]
    assert "Not on file" in rows["Street address"]


def test_sources_list_level_and_dates_and_unlink_a_second_source(app, client, make_account):
    make_account(PIN)
    log_in_with_source(client, PIN, level="substantial")
    log_in_with_source(client, PIN, level="low", verifier_id="mock_b", next_url="/accounts/sources")
    page = client.get("/accounts/sources", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert "Test source" in html and "Second source" in html
    assert re.search(r"<td>Second source</td>\s*<td>low</td>\s*<td><time", html)
    with app.app_context():
        links = {link.source: link.id for link in linked_sources(find_account(PIN))}
    sent = len(outbox(app))
    response = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": links["mock_b"]})
    assert response.status_code == 303 and response.location == "/accounts/sources?removed=1"
    with app.app_context():
        assert [link.source for link in linked_sources(find_account(PIN))] == ["mock"]
        account_id = find_account(PIN).id
    assert [e.data["source"] for e in events(app, "link.removed", account_id)] == ["mock_b"]
    assert len(outbox(app)) == sent + 1  # the owner is told (the generic security-change text)


def test_the_only_verified_source_and_the_last_way_to_log_in_stay(app, client):
    # An account created by a source, without a password: the source is its only way in.
    log_in_with_source(client, NO_PASSWORD_PIN, level="low", full_name="Lê Văn Nguồn")
    html = client.get("/accounts/sources", headers={"Accept-Language": "en"}).get_data(as_text=True)
    link_id = re.search(r'name="link_id" value="(\d+)"', html).group(1)
    refused = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": link_id},
                          headers={"Accept-Language": "en"})
    assert refused.status_code == 400
    assert "only way you can log in" in refused.get_data(as_text=True)
    with app.app_context():
        assert len(linked_sources(find_account(NO_PASSWORD_PIN))) == 1
        assert events(app, "link.removed") == []


def test_unlinking_needs_a_recent_login_and_a_csrf_token(app, client, make_account):
    make_account(PIN)
    log_in_with_source(client, PIN, level="substantial")
    log_in_with_source(client, PIN, level="low", verifier_id="mock_b")
    with app.app_context():
        link_id = next(link.id for link in linked_sources(find_account(PIN)) if link.source == "mock_b")
    html = client.get("/accounts/sources").get_data(as_text=True)
    assert client.post("/accounts/sources", data={"link_id": link_id}).status_code == 400  # no CSRF token
    with later(900):  # 15 minutes: the session lives on, the login is no longer recent
        stale = client.get("/accounts/sources", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'name="link_id"' not in stale and "Confirm it is you" in stale
        response = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": link_id})
        assert response.status_code == 303 and urlsplit(response.location).path == "/auth/login"
        assert query_of(response.location)["next"] == "/accounts/sources"
    with app.app_context():
        assert len(linked_sources(find_account(PIN))) == 2


@pytest.mark.parametrize("link_id", ["abc", "-1", "9" * 40, "", "１２"])
def test_malformed_or_unknown_link_ids_are_a_clear_404(app, client, make_account, link_id):
    make_account(PIN)
    log_in(client, PIN)
    html = client.get("/accounts/sources").get_data(as_text=True)
    response = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": link_id},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "This linked source does not exist." in response.get_data(as_text=True)


def test_someone_elses_link_cannot_be_removed(app, client, make_account):
    make_account(PIN)
    other = app.test_client()
    log_in_with_source(other, NO_PASSWORD_PIN, level="substantial", full_name="Người Khác")
    log_in(client, PIN)
    with app.app_context():
        foreign = linked_sources(find_account(NO_PASSWORD_PIN))[0].id
    html = client.get("/accounts/sources").get_data(as_text=True)
    response = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": str(foreign)})
    assert response.status_code == 404
    with app.app_context():
        assert len(linked_sources(find_account(NO_PASSWORD_PIN))) == 1


def test_oversized_input_is_refused_before_any_page(client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    html = client.get("/accounts/sources").get_data(as_text=True)
    response = client.post("/accounts/sources", data={"csrf_token": csrf_from(html), "link_id": "1" * 5000})
    assert response.status_code == 400
    assert client.post("/accounts/sources", data="x" * 100_000,
                       content_type="application/x-www-form-urlencoded").status_code == 413


def test_a_business_account_sees_its_tax_code_masked(app, client, make_account):
    make_account("0100233488", kind="business", full_name="Công ty Thử nghiệm")
    log_in(client, "0100233488")
    html = client.get("/accounts/profile", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Tax code" in html and "•••••••488" in html and "0100233488" not in html
    with app.app_context():
        assert db.session.execute(select(Account.kind)).scalar() == "business"
