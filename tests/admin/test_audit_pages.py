"""Admin audit pages and API: who gets in (role matrix), filters, verification, export downloads."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import delete
from sqlalchemy import select

from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.audit import AuditEvent
from idp.audit import record
from idp.audit.chain import verify_database
from idp.audit.export import verify_export
from idp.extensions import db

PAGES = ["/admin/audit", "/admin/audit/verify", "/admin/audit/export?format=jsonl"]
APIS = ["/admin/api/audit/events", "/admin/api/audit/verify", "/admin/api/audit/export?format=csv"]
# role (scope) -> allowed on pages/API
MATRIX = [((NATIONAL_ADMIN, None), True), ((AUDITOR, None), True), ((AGENCY_ADMIN, "btc"), False),
          ((HELPDESK, None), False), ((None, None), False)]
SCOPES = {NATIONAL_ADMIN: "admin:national", AUDITOR: "admin:auditor", AGENCY_ADMIN: "admin:agency",
          HELPDESK: "admin:helpdesk"}


def _seed(app, n: int = 3) -> None:  # noqa: ANN001
    with app.app_context():
        for i in range(n):
            record("test.event", account_id=i + 1, client_id="portal-a", n=i)
            db.session.commit()


@pytest.mark.parametrize(("role", "allowed"), MATRIX)
def test_pages_role_matrix(staff, role, allowed):
    browser = staff(*role)
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == (200 if allowed else 403), (role, path)


@pytest.mark.parametrize(("role", "allowed"), [m for m in MATRIX if m[0][0] is not None])
def test_api_role_matrix(api_token, client, role, allowed):
    name, scope = role
    token = api_token(SCOPES[name], agency_code=scope)
    for path in APIS:
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        if allowed:
            assert response.status_code == 200, (role, path)
        else:
            assert response.status_code == 403 and response.get_json()["error"] == "insufficient_scope", (role, path)


def test_list_filters_and_hostile_input(app, staff):
    _seed(app)
    browser = staff(AUDITOR)
    page = browser.get("/admin/audit?event=test.&lang=en").get_data(as_text=True)
    assert page.count("<code>test.event</code>") == 3
    assert browser.get("/admin/audit?account_id=2&lang=en").get_data(as_text=True).count("test.event") == 1
    assert "No event matches." in browser.get("/admin/audit?client_id=nobody&lang=en").get_data(as_text=True)
    for query in ("since=2026-13-01", "event=<script>", "account_id=-1", "client_id=a%20b", "page=0",
                  "until=2026-01-01&since=2026-02-01", "event=" + "a" * 65):
        response = browser.get(f"/admin/audit?{query}&lang=en")
        assert response.status_code == 400, query
        assert "This filter cannot be used" in response.get_data(as_text=True)


def test_verify_page_reports_and_is_audited(app, staff):
    _seed(app, 4)
    browser = staff(NATIONAL_ADMIN)
    ok = browser.get("/admin/audit/verify?lang=en").get_data(as_text=True)
    assert "The audit chain is intact" in ok
    with app.app_context():
        head = verify_database().head
        target = db.session.execute(select(AuditEvent.id).where(AuditEvent.event == "test.event")
                                    .order_by(AuditEvent.id).offset(1).limit(1)).scalar_one()
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == target))
        db.session.commit()
    broken = browser.get("/admin/audit/verify?lang=en")
    text = broken.get_data(as_text=True)
    assert broken.status_code == 200 and "The audit chain is broken." in text
    assert f"Events were deleted before number {target + 1}." in text
    bad = browser.get("/admin/audit/verify?expect_head=nonsense&lang=en")
    assert bad.status_code == 400 and 'role="alert"' in bad.get_data(as_text=True)
    assert head  # the head printed before the deletion
    with app.app_context():
        verified = db.session.execute(select(AuditEvent).where(AuditEvent.event == "admin.audit.verified")
                                      .order_by(AuditEvent.id)).scalars().all()
        assert [e.data["ok"] for e in verified[:2]] == [True, False]
        assert verified[0].account_id == browser.account_id


def test_api_verify_with_expected_head(app, api_token, client, seed_count=3):
    _seed(app, seed_count)
    auth = {"Authorization": f"Bearer {api_token('admin:auditor')}"}
    first = client.get("/admin/api/audit/verify", headers=auth).get_json()
    assert first["ok"] is True and first["broken"] is None
    again = client.get("/admin/api/audit/verify", headers=auth, query_string={"expect_head": first["head"]})
    assert again.get_json()["ok"] is True
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id >= int(first["head"].split(":")[0])))
        db.session.commit()
    cut = client.get("/admin/api/audit/verify", headers=auth, query_string={"expect_head": first["head"]}).get_json()
    assert cut["ok"] is False and cut["broken"]["kind"] == "deleted"
    bad = client.get("/admin/api/audit/verify", headers=auth, query_string={"expect_head": "x"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"


def test_export_downloads_reverify_and_are_audited(app, staff):
    _seed(app)
    browser = staff(AUDITOR)
    jsonl = browser.get("/admin/audit/export?format=jsonl")
    assert jsonl.status_code == 200 and jsonl.headers["Content-Type"] == "application/x-ndjson"
    assert "attachment" in jsonl.headers["Content-Disposition"]
    assert verify_export(io.StringIO(jsonl.get_data(as_text=True)), "jsonl").ok
    csv = browser.get("/admin/audit/export?format=csv&event=test.")
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert verify_export(io.StringIO(csv.get_data(as_text=True), newline=""), "csv", links=False).checked == 3
    assert browser.get("/admin/audit/export?format=xml").status_code == 400
    assert browser.get("/admin/audit/export").status_code == 400
    with app.app_context():
        exported = db.session.execute(select(AuditEvent).where(AuditEvent.event == "admin.audit.exported")
                                      .order_by(AuditEvent.id)).scalars().all()
        assert [(e.data["format"], e.data["filters"]) for e in exported] == [("jsonl", {}),
                                                                             ("csv", {"event": "test."})]


def test_api_events_lists_newest_first(app, api_token, client):
    _seed(app)
    auth = {"Authorization": f"Bearer {api_token('admin:national')}"}
    body = client.get("/admin/api/audit/events", headers=auth, query_string={"event": "test."}).get_json()
    assert [e["data"]["n"] for e in body["events"]] == [2, 1, 0] and body["more"] is False
    assert set(body["events"][0]) == {"id", "at", "event", "account_id", "client_id", "request_id", "data",
                                      "prev_hash", "hash"}
    bad = client.get("/admin/api/audit/events", headers=auth, query_string={"since": "yesterday"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_request"
    export = client.get("/admin/api/audit/export", headers=auth, query_string={"format": "jsonl", "event": "test."})
    assert [json.loads(line)["event"] for line in export.get_data(as_text=True).splitlines()] == ["test.event"] * 3
