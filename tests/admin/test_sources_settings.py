"""Identity sources in the admin console (issue 6 "Identity providers"): the list, and editing a source's
settings with validation — nothing saved that would not start, secrets never shown and kept when left
empty, every change audited with before and after (secrets redacted)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from idp.accounts.roles import AUDITOR
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.verifiers.overrides import VerifierOverride
from idp.verifiers.overrides import read_revision
from idp.verifiers.registry import verifiers
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import SOURCES
from tests.admin.sources_support import audit_events
from tests.admin.sources_support import bearer
from tests.admin.sources_support import post_page
from tests.admin.sources_support import submit_settings


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**ADMIN_SETTINGS, "verifiers": SOURCES}


def stored(app, verifier_id: str) -> VerifierOverride | None:  # noqa: ANN001
    with app.app_context():
        row = db.session.get(VerifierOverride, verifier_id)
        if row is not None:
            db.session.expunge(row)
        return row


def running(app, verifier_id: str):  # noqa: ANN001, ANN201
    with app.test_request_context():
        return verifiers().get(verifier_id)


# --- the list ----------------------------------------------------------------------------------------

def test_list_shows_each_configured_source_and_installed_kinds_not_configured(staff):
    page = staff(NATIONAL_ADMIN).get("/admin/sources").get_data(as_text=True)
    for verifier_id in ("mock", "spare", "upstream"):
        assert f'href="/admin/sources/{verifier_id}"' in page
    assert "Nguồn dự phòng" in page and "substantial" in page
    assert "<caption>" in page and 'scope="col"' in page
    # Installed through entry points but not configured here.
    for kind in ("certificate", "telecom", "postal_counter", "postal_letter"):
        assert f"<code>{kind}</code>" in page


def test_api_list_matches_the_page(client, api_token):
    body = client.get("/admin/api/sources", headers=bearer(api_token("admin:auditor"))).get_json()
    by_id = {source["id"]: source for source in body["sources"]}
    assert set(by_id) == {"mock", "spare", "upstream"}
    assert by_id["spare"]["names"]["en"] == "Spare source" and by_id["spare"]["max_level"] == "substantial"
    assert by_id["spare"]["enabled"] is True and by_id["spare"]["enabled_set_in"] == "file"
    assert by_id["spare"]["health"] == "up" and by_id["spare"]["version"] == 0
    assert by_id["upstream"]["kind"] == "vneid" and by_id["upstream"]["health"] in ("up", "down")
    assert "certificate" in body["installed_kinds_not_configured"]
    assert "mock" not in body["installed_kinds_not_configured"]


def test_unknown_source_is_404_on_both_doors(staff, client, api_token):
    assert staff(NATIONAL_ADMIN).get("/admin/sources/nope").status_code == 404
    response = client.get("/admin/api/sources/nope", headers=bearer(api_token("admin:national")))
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


# --- editing -------------------------------------------------------------------------------------------

def test_edit_through_the_page_is_stored_applied_and_audited(app, staff):
    browser = staff(NATIONAL_ADMIN)
    response = submit_settings(browser, "spare", max_level="high")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=saved")
    row = stored(app, "spare")
    assert row.settings == {"max_level": "high"} and row.version == 1
    assert row.updated_by == f"account:{browser.account_id}"
    assert running(app, "spare").info.max_level.name == "HIGH"  # this worker at once
    event = audit_events(app, "admin.source.settings_changed")[-1]
    assert event.account_id == browser.account_id and event.data["target_id"] == "spare"
    assert event.data["before"] == {"max_level": "substantial"} and event.data["after"] == {"max_level": "high"}
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "set in the admin console" in page or "đặt trong bảng quản trị" in page


def test_untouched_form_changes_nothing(app, staff):
    response = submit_settings(staff(NATIONAL_ADMIN), "spare")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=unchanged")
    assert stored(app, "spare") is None
    assert audit_events(app, "admin.source.settings_changed") == []


def test_a_setting_that_would_not_start_is_refused_with_the_key_and_nothing_stored(app, staff):
    """Issue 6: nothing saved that would not start; the module's message names the key."""
    browser = staff(NATIONAL_ADMIN)
    with app.app_context():
        revision = read_revision(db.session)
    response = submit_settings(browser, "spare", max_level="enormous")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "verifiers.spare.max_level" in page and 'role="alert"' in page
    assert 'aria-invalid="true"' in page and 'value="enormous"' in page  # what was typed is kept
    assert stored(app, "spare") is None
    with app.app_context():
        assert read_revision(db.session) == revision
    refused = audit_events(app, "admin.source.refused")[-1]
    assert refused.data["key"] == "verifiers.spare.max_level" and "enormous" not in json.dumps(refused.data)


def test_unknown_setting_added_is_refused_by_the_module(app, staff):
    response = submit_settings(staff(NATIONAL_ADMIN), "spare", new_key="colour", new_value="red")
    assert response.status_code == 400 and "verifiers.spare.colour" in response.get_data(as_text=True)
    assert stored(app, "spare") is None


def test_malformed_json_and_bad_names_are_400_not_500(app, staff):
    browser = staff(NATIONAL_ADMIN)
    response = submit_settings(browser, "spare", names='{"vi": "x"')
    assert response.status_code == 400 and "JSON" in response.get_data(as_text=True)
    response = submit_settings(browser, "spare", new_key="Bad Name!", new_value="1")
    assert response.status_code == 400
    response = submit_settings(browser, "spare", names="[" * 5000 + "]" * 5000)
    assert response.status_code == 400
    assert stored(app, "spare") is None


def test_reset_goes_back_to_the_file(app, staff):
    browser = staff(NATIONAL_ADMIN)
    assert submit_settings(browser, "spare", max_level="low").status_code == 303
    response = post_page(browser, "/admin/sources/spare/reset", version="1")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=reset")
    assert stored(app, "spare").settings == {}
    assert running(app, "spare").info.max_level.name == "SUBSTANTIAL"
    assert audit_events(app, "admin.source.settings_reset")[-1].data["before"] == {"max_level": "low"}


def test_one_key_back_to_the_file_value(app, staff):
    browser = staff(NATIONAL_ADMIN)
    assert submit_settings(browser, "spare", max_level="low").status_code == 303
    assert submit_settings(browser, "spare", **{"reset-max_level": "1"}).status_code == 303
    assert stored(app, "spare").settings == {}


def test_stale_version_is_a_conflict(app, client, api_token):
    token = api_token("admin:national")
    first = client.patch("/admin/api/sources/spare/settings", headers=bearer(token),
                         json={"settings": {"max_level": "low"}, "version": 0})
    assert first.status_code == 200 and first.get_json()["version"] == 1
    stale = client.patch("/admin/api/sources/spare/settings", headers=bearer(token),
                         json={"settings": {"max_level": "high"}, "version": 0})
    assert stale.status_code == 409 and stale.get_json()["error"] == "conflict"
    assert stored(app, "spare").settings == {"max_level": "low"}


def test_api_edit_refusal_names_the_key(app, client, api_token):
    response = client.patch("/admin/api/sources/spare/settings", headers=bearer(api_token("admin:national")),
                            json={"settings": {"available": "yes", "max_level": "ultra"}})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert "verifiers.spare.max_level" in response.get_json()["error_description"]
    assert stored(app, "spare") is None


@pytest.mark.parametrize("body", [
    {"settings": {"kind": "telecom"}},
    {"settings": {"enabled": False}},
    {"settings": {"Bad": 1}},
    {"settings": {}, "extra": 1},
    {"settings": "max_level=high"},
    {},
])
def test_api_malformed_bodies_are_400(client, api_token, body):
    response = client.patch("/admin/api/sources/spare/settings", headers=bearer(api_token("admin:national")),
                            json=body)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"


def test_auditor_sees_settings_read_only(staff):
    page = staff(AUDITOR).get("/admin/sources/upstream").get_data(as_text=True)
    assert "/admin/sources/upstream/settings" not in page and "<pre>" in page
    assert "file-secret-value" not in page and "[redacted]" in page


# --- secrets ---------------------------------------------------------------------------------------------

def test_secrets_are_never_shown_and_kept_when_left_empty(app, staff, client, api_token):
    browser = staff(NATIONAL_ADMIN)
    page = browser.get("/admin/sources/upstream").get_data(as_text=True)
    assert "file-secret-value" not in page
    assert 'type="password" id="setting-client_secret" name="setting-client_secret"' in page
    detail = client.get("/admin/api/sources/upstream", headers=bearer(api_token("admin:auditor"))).get_json()
    assert detail["settings"]["client_secret"] == "[redacted]" and "file-secret-value" not in json.dumps(detail)
    # Another setting changed, the secret left empty: the file's secret stays in use.
    assert submit_settings(browser, "upstream", client_id="national-sso-2").status_code == 303
    assert stored(app, "upstream").settings == {"client_id": "national-sso-2"}
    assert running(app, "upstream").config.client_secret == "file-secret-value"


def test_new_secret_is_sealed_at_rest_and_redacted_in_the_audit(app, staff):
    browser = staff(NATIONAL_ADMIN)
    assert submit_settings(browser, "upstream", client_secret="brand-new-secret-42").status_code == 303
    row = stored(app, "upstream")
    assert row.settings["client_secret"].startswith("sealed:") and "brand-new" not in json.dumps(row.settings)
    assert running(app, "upstream").config.client_secret == "brand-new-secret-42"
    event = audit_events(app, "admin.source.settings_changed")[-1]
    assert event.data["after"] == {"client_secret": "[redacted]"}
    assert "brand-new" not in json.dumps(event.data)
    assert "brand-new" not in browser.get("/admin/sources/upstream").get_data(as_text=True)


def test_secret_as_an_environment_reference(app, client, api_token, monkeypatch):
    monkeypatch.setenv("IDP_UPSTREAM_SECRET", "from-the-environment")
    token = api_token("admin:national")
    response = client.patch("/admin/api/sources/upstream/settings", headers=bearer(token),
                            json={"settings": {"client_secret": "env:IDP_UPSTREAM_SECRET"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["settings"]["client_secret"] == "env:IDP_UPSTREAM_SECRET"  # a name, not a secret
    assert running(app, "upstream").config.client_secret == "from-the-environment"
    unset = client.patch("/admin/api/sources/upstream/settings", headers=bearer(token),
                         json={"settings": {"client_secret": "env:IDP_NOT_SET_ANYWHERE"}})
    assert unset.status_code == 400 and "IDP_NOT_SET_ANYWHERE" in unset.get_json()["error_description"]


@pytest.mark.parametrize(("settings", "words"), [
    ({"client_secret": "env:IDP_SECRET_KEY"}, "not allowed"),  # a core setting's own variable
    ({"client_secret": "env:HOME"}, "not allowed"),
    ({"client_id": "env:IDP_UPSTREAM_SECRET"}, "secret settings only"),
    ({"client_secret": "file:/etc/passwd"}, "configuration file"),
])
def test_references_that_could_leak_are_refused(app, client, api_token, monkeypatch, settings, words):
    monkeypatch.setenv("IDP_UPSTREAM_SECRET", "x")
    response = client.patch("/admin/api/sources/upstream/settings", headers=bearer(api_token("admin:national")),
                            json={"settings": settings})
    assert response.status_code == 400 and words in response.get_json()["error_description"]
    assert stored(app, "upstream") is None


def test_a_kept_secret_does_not_follow_a_changed_address(app, staff, client, api_token):
    """The stored secret must not be sent to a new issuer unless it is entered again."""
    response = submit_settings(staff(NATIONAL_ADMIN), "upstream", issuer="http://127.0.0.1:9/other")
    assert response.status_code == 400 and "verifiers.upstream.client_secret" in response.get_data(as_text=True)
    assert stored(app, "upstream") is None
    token = api_token("admin:national")
    both = client.patch("/admin/api/sources/upstream/settings", headers=bearer(token),
                        json={"settings": {"issuer": "http://127.0.0.1:9/other", "client_secret": "again"}})
    assert both.status_code == 200, both.get_json()
    with app.app_context():
        assert db.session.execute(select(VerifierOverride.settings)).scalar()["issuer"] == "http://127.0.0.1:9/other"


def test_hostile_values_are_refused_not_500(app, client, api_token):
    token = api_token("admin:national")
    deep = '{"settings": {"names": ' + "[" * 20000 + "]" * 20000 + "}}"
    response = client.patch("/admin/api/sources/spare/settings", headers=bearer(token), data=deep,
                            content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
    nested = client.patch("/admin/api/sources/spare/settings", headers=bearer(token),
                          json={"settings": {"names": [[[[[[[[[["x"]]]]]]]]]]}})
    assert nested.status_code == 400 and "nested too deeply" in nested.get_json()["error_description"]
    # The mock module does not check the type of `names`: it fails with a ValueError, as it would at start-up.
    ill_typed = client.patch("/admin/api/sources/spare/settings", headers=bearer(token),
                             json={"settings": {"names": [["x"]]}})
    assert ill_typed.status_code == 400 and "ValueError" in ill_typed.get_json()["error_description"]
    assert stored(app, "spare") is None
