"""Testing an upstream's reachability from the admin console (the module's own health check, bounded in
time, shown and audited) and the usage of each source (logins over the last 30 days from login_event)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idp.accounts.history import LoginEvent
from idp.accounts.roles import NATIONAL_ADMIN
from idp.admin import source_reachability
from idp.dbtypes import utcnow
from idp.extensions import db
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import SOURCES
from tests.admin.sources_support import audit_events
from tests.admin.sources_support import bearer
from tests.admin.sources_support import post_page
from tests.verifiers.pki import StallingServer


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ADMIN_SETTINGS, "verifiers": {**SOURCES, "down": {"kind": "mock", "available": False},
                                            "off": {"kind": "mock", "enabled": False}}}


def check(client, token: str, verifier_id: str) -> dict:  # noqa: ANN001
    response = client.post(f"/admin/api/sources/{verifier_id}/check", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_outcomes_of_the_reachability_check(app, client, api_token):
    token = api_token("admin:national")
    assert check(client, token, "spare")["outcome"] == "reachable"
    assert check(client, token, "down")["outcome"] == "unreachable"
    upstream = check(client, token, "upstream")  # an OpenID provider on a closed loopback port
    assert upstream["outcome"] == "unreachable" and isinstance(upstream["elapsed_ms"], int)
    assert check(client, token, "off")["outcome"] == "reachable"  # a disabled source is built to be checked
    assert [e.data["outcome"] for e in audit_events(app, "admin.source.checked")] == [
        "reachable", "unreachable", "unreachable", "reachable"]
    assert all(e.data["verifier_id"] for e in audit_events(app, "admin.source.checked"))
    assert client.post("/admin/api/sources/nope/check", headers=bearer(token)).status_code == 404


def test_a_hanging_upstream_is_cut_off(app, client, api_token, monkeypatch):
    """The check is bounded: an upstream that accepts the connection and never answers is a timeout."""
    monkeypatch.setattr(source_reachability, "TIMEOUT_SECONDS", 0.2)
    with StallingServer("application/json") as server:
        token = api_token("admin:national")
        issuer = server.url.rsplit("/", 1)[0]
        changed = client.patch("/admin/api/sources/upstream/settings", headers=bearer(token),
                               json={"settings": {"issuer": issuer, "client_secret": "again"}})
        assert changed.status_code == 200, changed.get_json()
        assert check(client, token, "upstream")["outcome"] == "timeout"


def test_check_button_shows_the_result(staff):
    browser = staff(NATIONAL_ADMIN)
    response = post_page(browser, "/admin/sources/down/check")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'role="status"' in page and " ms)" in page


def test_a_source_whose_settings_would_not_start_is_reported_so(app, client, api_token):
    with app.app_context():
        from idp.verifiers.overrides import VerifierOverride
        from idp.verifiers.overrides import bump_revision

        # Stored settings that no longer build (as if written by an older release).
        db.session.add(VerifierOverride(verifier_id="off", settings={"max_level": "enormous"}, enabled=None,
                                        version=1, updated_by="account:1"))
        bump_revision()
        db.session.commit()
    result = check(client, api_token("admin:national"), "off")
    assert result["outcome"] == "not_built" and "verifiers.off.max_level" in result["detail"]


def test_logins_per_source_over_the_last_30_days(app, client, api_token, make_account):
    account_id = make_account()
    with app.app_context():
        now = utcnow()
        for days, source in ((1, "spare"), (2, "spare"), (29, "spare"), (31, "spare"), (3, "upstream"), (1, "sso")):
            db.session.add(LoginEvent(at=now - timedelta(days=days), account_id=account_id, source=source, level=2))
        db.session.commit()
    body = client.get("/admin/api/sources", headers=bearer(api_token("admin:auditor"))).get_json()
    usage = {source["id"]: source["logins_30_days"] for source in body["sources"]}
    assert usage["spare"] == 3 and usage["upstream"] == 1 and usage["down"] == 0
    assert client.get("/admin/api/sources/spare", headers=bearer(api_token("admin:auditor"))).get_json()[
        "logins_30_days"] == 3
