"""The `idp` console commands used by operators and docs."""

from __future__ import annotations

import json

from tests.conftest import basic_auth


def test_accounts_create_and_clients_add_then_token(runner, client):
    created = runner.invoke(args=["accounts", "create", "--personal-id", "001090001501", "--password",
                                  "a long enough pass", "--name", "Lê Văn Cường", "--birthdate", "1990-02-03"])
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["kind"] == "citizen"
    added = runner.invoke(args=["clients", "add", "--name", "Cổng Sở Tư pháp", "--redirect-uri",
                                "https://tuphap.example.vn/cb", "--post-logout-redirect-uri",
                                "https://tuphap.example.vn/", "--scope", "openid profile", "--trusted"])
    assert added.exit_code == 0, added.output
    info = json.loads(added.output)
    assert info["client_id"] and info["client_secret"]
    token = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                        headers=basic_auth(info["client_id"], info["client_secret"]))
    assert token.status_code == 200
    listed = [json.loads(line) for line in runner.invoke(args=["clients", "list"]).output.splitlines()]
    assert [c["client_id"] for c in listed] == [info["client_id"]]
    assert "client_secret" not in listed[0]


def test_bad_input_gives_clear_error_and_exit_code(runner):
    bad_pin = runner.invoke(args=["accounts", "create", "--personal-id", "12", "--password", "x" * 12,
                                  "--name", "A"])
    assert bad_pin.exit_code == 2 and "personal_id_format" in bad_pin.output
    bad_uri = runner.invoke(args=["clients", "add", "--name", "X", "--redirect-uri", "http://portal.example.vn/cb"])
    assert bad_uri.exit_code == 2 and "invalid_redirect_uri" in bad_uri.output and "https" in bad_uri.output
    wildcard = runner.invoke(args=["clients", "add", "--name", "X", "--redirect-uri", "https://*.example.vn/cb"])
    assert wildcard.exit_code == 2 and "wildcard" in wildcard.output
    fragment = runner.invoke(args=["clients", "add", "--name", "X", "--redirect-uri", "https://a.example.vn/cb#x"])
    assert fragment.exit_code == 2 and "fragment" in fragment.output


def test_demo_is_idempotent_and_prints_credentials(runner):
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert {p["client_id"] for p in data["portals"]} >= {"demo-national-portal", "demo-ministry-finance"}
    assert "mock" in data["sandboxes"] and data["postal_clerk"]["page"] == "/postal/clerk"
    assert runner.invoke(args=["demo"]).exit_code == 0


def test_audit_verify_reports_intact_and_broken_chain(app, runner, make_account):
    from sqlalchemy import update

    from idp.audit import AuditEvent
    from idp.extensions import db

    make_account("001090001502")
    make_account("001090001503")
    assert runner.invoke(args=["audit", "verify"]).output.startswith("audit chain intact\n")
    with app.app_context():
        first_id = db.session.execute(db.select(AuditEvent.id).order_by(AuditEvent.id)).scalars().first()
        db.session.execute(update(AuditEvent).where(AuditEvent.id == first_id).values(event="tampered"))
        db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and f"event {first_id}" in broken.output


def test_business_names_its_legal_representative(app, runner, make_account):
    from idp.accounts.service import find_account
    from idp.accounts.service import representatives_of

    make_account("001090001601")
    make_account("0100109106", kind="business", full_name="Công ty Thử nghiệm")
    added = runner.invoke(args=["accounts", "add-representative", "--tax-code", "0100109106",
                                "--personal-id", "001090001601"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(args=["accounts", "add-representative", "--tax-code", "0100109106",
                                "--personal-id", "001090001601"])
    assert again.exit_code == 2 and "representative_exists" in again.output
    wrong = runner.invoke(args=["accounts", "add-representative", "--tax-code", "001090001601",
                                "--personal-id", "001090001601"])
    assert wrong.exit_code == 2 and "wrong_account_kind" in wrong.output
    with app.app_context():
        reps = representatives_of(find_account("0100109106"))
        assert [r.identifier for r in reps] == ["001090001601"]


def test_purge_removes_only_what_has_expired(app, runner, browser, make_account, make_client):
    import time

    import time_machine

    make_account("001090001603")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090001603", client_id)
    assert browser.exchange(params["code"], client_id, secret).status_code == 200
    now = json.loads(runner.invoke(args=["purge"]).output)
    # Today's login is not rolled up: the day has not ended.
    assert now == {"authorization_codes": 0, "refresh_tokens": 0, "revoked_access_tokens": 0,
                   "used_assertions": 0, "login_sessions": 0, "login_events": 0, "login_days_rolled_up": 0,
                   "reviews_minimised": 0, "accounts_deleted": 0}
    with time_machine.travel(time.time() + 31 * 24 * 3600, tick=False):
        later = json.loads(runner.invoke(args=["purge", "--retention-days", "1"]).output)
    assert later["authorization_codes"] == 1 and later["refresh_tokens"] == 1 and later["login_sessions"] == 1
    assert later["login_days_rolled_up"] in (30, 31)  # from the login's day to the last settled one


def test_clients_add_with_minimum_acr(runner):
    ok = runner.invoke(args=["clients", "add", "--name", "Thuế", "--redirect-uri", "https://thue.example.vn/cb",
                             "--minimum-acr", "urn:vn:gov:sso:loa:substantial"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(args=["clients", "add", "--name", "Thuế", "--redirect-uri", "https://thue.example.vn/cb",
                              "--minimum-acr", "very-high"])
    assert bad.exit_code == 2 and "minimum_acr" in bad.output
