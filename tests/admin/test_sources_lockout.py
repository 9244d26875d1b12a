"""Turning identity sources off never locks every national administrator out of the console
(idp.admin.source_lockout): the console needs a high-level session, or a second factor on top of a
verified identity (idp.admin.access.strong_enough), and the sources are how staff get one. Turning
off the last source that gives some national administrator such a login is refused (page and API),
audited, and stores nothing."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from idp.accounts.models import Account
from idp.accounts.models import AccountStatus
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import grant_role
from idp.accounts.service import find_account
from idp.extensions import db
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import SOURCES
from tests.admin.sources_support import audit_events
from tests.admin.sources_support import bearer
from tests.admin.sources_support import post_page
from tests.auth.test_totp import add_authenticator
from tests.conftest import press_source
from tests.conftest import submit_form

# `mock` (high) logs the staff fixture in; `backup` is another high source; `spare` stops at substantial.
BACKUP = {"kind": "mock", "names": {"vi": "Nguồn thứ hai", "en": "Second source"}}
REFUSAL = "This source cannot be turned off: it is the last way for a national administrator"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ADMIN_SETTINGS, "verifiers": {**SOURCES, "backup": BACKUP}}


def person_through(app, verifier_id: str, pin: str, level: str, role: str | None = NATIONAL_ADMIN) -> int:  # noqa: ANN001
    """A person who logged in once through `verifier_id` at `level` (linking it to their account), with `role`."""
    browser = app.test_client()
    done = submit_form(browser, press_source(browser, verifier_id), personal_id=pin, full_name="Lê Thị Dự Phòng",
                       birthdate="1988-03-04", level=level)
    assert done.status_code in (200, 302, 303), done.status_code
    with app.app_context():
        account = find_account(pin)
        if role is not None:
            grant_role(account.id, role)
        db.session.commit()
        return account.id


def disable_on_page(browser: FlaskClient, verifier_id: str) -> Any:
    html = browser.get(f"/admin/sources/{verifier_id}?lang=en").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    return post_page(browser, f"/admin/sources/{verifier_id}/disable", page=f"/admin/sources/{verifier_id}",
                     version=version)


def is_on(browser: FlaskClient, verifier_id: str) -> bool:
    html = browser.get("/auth/login").get_data(as_text=True)
    return f'action="/auth/sources/{verifier_id}/start"' in html


def test_the_last_usable_source_cannot_be_turned_off_on_the_page(app, staff, client):
    admin = staff(NATIONAL_ADMIN)  # linked to `mock` at the high level: their only way in
    admin.get("/auth/language/en")
    refused = disable_on_page(admin, "mock")
    assert refused.status_code == 409
    assert REFUSAL in refused.get_data(as_text=True)
    assert is_on(client, "mock") and audit_events(app, "admin.source.disabled") == []
    [event] = audit_events(app, "admin.source.refused")
    assert event.account_id == admin.account_id
    assert (event.data["verifier_id"], event.data["action"], event.data["reason"]) == (
        "mock", "switch", "would_lock_out_admins")
    # Another source, which no national administrator needs, goes off.
    assert disable_on_page(admin, "backup").status_code == 303 and not is_on(client, "backup")
    # Once a second national administrator has another usable source, the first one's may go.
    turn_on = post_page(admin, "/admin/sources/backup/enable", page="/admin/sources/backup", version="1")
    assert turn_on.status_code == 303
    person_through(app, "backup", "001188900001", "high")
    assert disable_on_page(admin, "mock").status_code == 303 and not is_on(client, "mock")
    # ... and now `backup` is the last one.
    assert disable_on_page(admin, "backup").status_code == 409 and is_on(client, "backup")


def test_a_substantial_source_counts_with_a_second_factor_only(app, staff, client):
    admin = staff(NATIONAL_ADMIN)
    other = person_through(app, "spare", "001188900002", "substantial")  # spare stops at substantial
    assert disable_on_page(admin, "mock").status_code == 409
    auditor = person_through(app, "spare", "001188900003", "substantial", role=AUDITOR)
    add_authenticator(app, auditor)  # a second factor, but not a national administrator
    assert disable_on_page(admin, "mock").status_code == 409
    add_authenticator(app, other)
    assert disable_on_page(admin, "mock").status_code == 303 and not is_on(client, "mock")
    assert disable_on_page(admin, "spare").status_code == 409 and is_on(client, "spare")


def test_only_active_accounts_and_national_administrators_count(app, staff, client, api_token):
    staff(NATIONAL_ADMIN)
    backup_admin = person_through(app, "backup", "001188900004", "high")
    person_through(app, "backup", "001188900005", "high", role=AUDITOR)
    with app.app_context():
        db.session.get(Account, backup_admin).status = AccountStatus.LOCKED
        db.session.commit()
    token = api_token("admin:national")
    # `backup` is nobody's usable way in (the locked account cannot log in), so it may go;
    # `mock` stays the last one.
    assert client.post("/admin/api/sources/backup/disable", headers=bearer(token)).status_code == 200
    refused = client.post("/admin/api/sources/mock/disable", headers=bearer(token))
    assert refused.status_code == 409 and is_on(client, "mock")


def test_the_api_refuses_with_an_rfc_style_error(app, staff, client, api_token):
    admin = staff(NATIONAL_ADMIN)
    token = api_token("admin:national")
    refused = client.post("/admin/api/sources/mock/disable?version=0", headers=bearer(token))
    assert refused.status_code == 409 and refused.headers["Cache-Control"] == "no-store"
    body = refused.get_json()
    assert body["error"] == "would_lock_out_admins" and body["error_description"].startswith(REFUSAL)
    assert client.get("/admin/api/sources/mock", headers=bearer(token)).get_json()["version"] == 0  # nothing stored
    [event] = audit_events(app, "admin.source.refused")
    assert event.client_id.startswith("admin-") and event.data["reason"] == "would_lock_out_admins"
    assert client.post("/admin/api/sources/backup/disable", headers=bearer(token)).status_code == 200
    # A second national administrator with a usable source: now `mock` may go.
    client.post("/admin/api/sources/backup/enable", headers=bearer(token))
    person_through(app, "backup", "001188900006", "high")
    done = client.post("/admin/api/sources/mock/disable", headers=bearer(token))
    assert done.status_code == 200 and done.get_json()["enabled"] is False
    assert audit_events(app, "admin.source.disabled")[-1].data["target_id"] == "mock"
    assert admin.get("/admin/sources").status_code == 200  # the first admin's session is not ended by it


def test_no_national_administrator_with_a_way_in_is_not_a_lock_out_by_the_switch(app, client, api_token):
    """Nobody can reach the console through the sources before the change (e.g. the first national
    administrator granted on the command line, no source linked yet): the switch locks nobody out."""
    with app.app_context():
        from idp.accounts.service import NewAccount
        from idp.accounts.service import create_account

        account = create_account(NewAccount(kind="citizen", identifier="001188900007", full_name="Phạm Văn Đầu",
                                            birthdate=date(1988, 1, 2), password="a long enough pass"))
        grant_role(account.id, NATIONAL_ADMIN)
        db.session.commit()
    token = api_token("admin:national")
    assert client.post("/admin/api/sources/mock/disable", headers=bearer(token)).status_code == 200
