"""Turning identity sources on and off from the admin console, applied without a restart in every worker
(issue 6 "Identity providers": enable/disable each): a disabled source leaves the login page and its
start and callback endpoints refuse with a clear message; another application on the same database
picks the change up within overrides.REFRESH_SECONDS, without a query per request meanwhile."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import event

from idp import create_app
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.verifiers.overrides import REFRESH_SECONDS
from idp.verifiers.overrides import VerifierOverride
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import SOURCES
from tests.admin.sources_support import audit_events
from tests.admin.sources_support import bearer
from tests.admin.sources_support import post_page
from tests.conftest import base_settings
from tests.conftest import csrf_from
from tests.conftest import dispose

BROKEN = {"kind": "mock", "enabled": False, "max_level": "enormous"}
OFF = {"kind": "mock", "enabled": False, "names": {"vi": "Nguồn tắt", "en": "Off source"}}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ADMIN_SETTINGS, "verifiers": {**SOURCES, "broken": BROKEN, "off": OFF}}


def offered(browser) -> set[str]:  # noqa: ANN001
    return set(re.findall(r'action="/auth/sources/([^/"]+)/start"', browser.get("/auth/login").get_data(as_text=True)))


def start(browser, verifier_id: str):  # noqa: ANN001, ANN201
    token = csrf_from(browser.get("/auth/login").get_data(as_text=True))
    return browser.post(f"/auth/sources/{verifier_id}/start?lang=en", data={"csrf_token": token, "next": ""})


def test_disable_on_the_page_removes_the_source_from_the_login_page_at_once(app, staff, client):
    assert "spare" in offered(client)
    browser = staff(NATIONAL_ADMIN)
    response = post_page(browser, "/admin/sources/spare/disable", version="0")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=disabled")
    assert "spare" not in offered(client) and "mock" in offered(client)
    refused = start(client, "spare")
    assert refused.status_code == 403
    assert "turned this way of logging in off" in refused.get_data(as_text=True)
    callback = client.get("/auth/sources/spare/callback?state=anything")
    assert callback.status_code == 403
    assert start(client, "no-such-source").status_code == 404
    event_row = audit_events(app, "admin.source.disabled")[-1]
    assert event_row.data["before"] == {"enabled": True} and event_row.data["after"] == {"enabled": False}
    assert event_row.account_id == browser.account_id


def test_enable_again_and_a_source_disabled_in_the_file(app, client, api_token):
    token = api_token("admin:national")
    assert "off" not in offered(client)
    response = client.post("/admin/api/sources/off/enable", headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["enabled"] is True
    assert response.get_json()["enabled_set_in"] == "console"
    assert "off" in offered(client)
    assert client.post("/admin/api/sources/off/disable", headers=bearer(token)).get_json()["enabled"] is False
    assert "off" not in offered(client)
    assert [e.data["after"] for e in audit_events(app, "admin.source.enabled")] == [{"enabled": True}]


def test_a_source_that_would_not_start_cannot_be_turned_on(app, client, api_token, staff):
    page = staff(NATIONAL_ADMIN).get("/admin/sources").get_data(as_text=True)
    assert "/admin/sources/broken" in page
    response = client.post("/admin/api/sources/broken/enable", headers=bearer(api_token("admin:national")))
    assert response.status_code == 400 and "verifiers.broken.max_level" in response.get_json()["error_description"]
    with app.app_context():
        assert db.session.get(VerifierOverride, "broken") is None
    assert "broken" not in offered(client)


def test_switching_with_a_stale_version_is_a_conflict(client, api_token):
    token = api_token("admin:national")
    assert client.post("/admin/api/sources/spare/disable?version=0", headers=bearer(token)).status_code == 200
    stale = client.post("/admin/api/sources/spare/enable?version=0", headers=bearer(token))
    assert stale.status_code == 409 and stale.get_json()["error"] == "conflict"
    bad = client.post("/admin/api/sources/spare/enable?version=abc", headers=bearer(token))
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"


def test_disabling_needs_a_very_recent_login(staff):
    """Issue 6: admin sessions re-authenticate for destructive actions."""
    browser = staff(NATIONAL_ADMIN)
    page = browser.get("/admin/sources/spare").get_data(as_text=True)
    later = datetime.now(UTC) + timedelta(seconds=200)  # past reauth_seconds (120), within the session (600)
    with time_machine.travel(later, tick=False):
        response = browser.post("/admin/sources/spare/disable", data={"csrf_token": csrf_from(page), "version": "0"})
    assert response.status_code == 303 and "/auth/login" in response.headers["Location"]


def test_another_worker_picks_up_the_change_without_a_query_per_request(app, client, api_token, database_url,
                                                                         keys_dir, settings_overrides):
    other_app = create_app(base_settings(database_url, keys_dir, **settings_overrides))
    try:
        other = other_app.test_client()
        assert "spare" in offered(other)  # the other worker has looked at the stored revision
        statements: list[str] = []
        with other_app.app_context():
            event.listen(db.engine, "before_cursor_execute",
                         lambda conn, cursor, statement, *args: statements.append(statement))
        response = client.post("/admin/api/sources/spare/disable", headers=bearer(api_token("admin:national")))
        assert response.status_code == 200
        assert "spare" not in offered(client)  # the worker that made the change: at once
        for _ in range(5):
            assert "spare" in offered(other)  # within the interval: not looked at again
        assert not [s for s in statements if "verifier_revision" in s]
        with time_machine.travel(datetime.now(UTC) + timedelta(seconds=REFRESH_SECONDS + 1), tick=False):
            assert "spare" not in offered(other)
            assert start(other, "spare").status_code == 403
        assert len([s for s in statements if "verifier_revision" in s]) == 1
    finally:
        dispose(other_app)
