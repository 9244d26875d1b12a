"""Issue 6, data export (Decree 13/2023/ND-CP right of access): everything held about the person as a
JSON attachment, after a recent login, POST with CSRF, audited; never a secret."""

from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.service import find_account
from idp.auth.mfa import recovery
from idp.auth.mfa import totp
from idp.auth.mfa.recovery import RecoveryCode
from idp.extensions import db
from idp.oidc.models import Client
from tests.accounts.console_support import events
from tests.accounts.console_support import form_token
from tests.accounts.console_support import later
from tests.accounts.console_support import log_in
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from

PIN = "001090066401"


@pytest.fixture
def person(app, client, make_account, make_client):  # noqa: ANN001, ANN201
    """A person who used a portal (consent, grant, tokens), with an authenticator app and recovery codes;
    returns every secret that must never appear in the export."""
    make_account(PIN, full_name="Phạm Thị Xuất", email="xuat@example.vn")
    client_id, client_secret = make_client(name="Cổng Bảo hiểm", agency="Bảo hiểm xã hội", trusted=False)
    flow = BrowserFlow(client)
    params = flow.code_for(PIN, client_id, scope="openid profile email offline_access", prompt="consent")
    tokens = flow.exchange(params["code"], client_id, client_secret).get_json()
    with app.app_context():
        account = find_account(PIN)
        row = totp.pending_enrolment(account)
        seed = row.secret()
        totp.activate(row, "Điện thoại của Xuất", pyotp.TOTP(seed).now(), "urn:vn:gov:sso:loa:low")
        codes = recovery.generate(account)
        db.session.commit()
        code_rows = db.session.execute(select(RecoveryCode)).scalars().all()
        secrets = {
            "password hash": account.password_hash, "TOTP seed": seed, "sealed TOTP seed": row.secret_sealed,
            "client secret": client_secret,
            "client secret hash": db.session.get(Client, client_id).client_secret_hash,
            "access token": tokens["access_token"], "refresh token": tokens["refresh_token"],
            **{f"recovery code {n}": code for n, code in enumerate(codes)},
            **{f"recovery code {n} (typed)": recovery.normalise(code) for n, code in enumerate(codes)},
            **{f"recovery code hash {r.id}": r.code_hash for r in code_rows},
        }
    return {"client_id": client_id, "secrets": secrets}


def _download(client):  # noqa: ANN001, ANN202
    page = client.get("/accounts/export").get_data(as_text=True)
    return client.post("/accounts/export", data={"csrf_token": form_token(page, "/accounts/export")})


def test_export_is_a_json_attachment_of_everything_held(app, client, person):
    response = _download(client)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="account-')
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["format"] == "national-sso-account-export/1"
    assert data["account"]["identifier"] == PIN and data["account"]["full_name"] == "Phạm Thị Xuất"
    assert {v["attribute"] for v in data["verifications"]} >= {"full_name", "email", "birthdate"}
    assert all(v["source"] == "self" for v in data["verifications"])
    factors = data["second_factors"]
    assert [a["name"] for a in factors["authenticator_apps"]] == ["Điện thoại của Xuất"]
    assert factors["recovery_codes"]["total"] == recovery.COUNT and factors["has_password"] is True
    [consent] = data["consents"]
    assert consent["portal"] == "Cổng Bảo hiểm" and "email" in consent["scopes"]
    [grant] = data["grants"]
    assert (grant["portal"], grant["agency"], grant["revoked_at"]) == ("Cổng Bảo hiểm", "Bảo hiểm xã hội", None)
    assert "offline_access" in grant["scopes"]
    assert len(data["sessions"]) == 1 and data["sessions"][0]["ended_at"] is None
    assert [(r["client_id"], r["source"]) for r in data["login_history"]] == [(person["client_id"], "password")]
    assert {"login.succeeded", "consent.granted", "token.issued"} <= {e["event"] for e in data["audit_events"]}
    assert data["known_devices"] and data["deletion_requests"] == []
    with app.app_context():
        assert len(events(app, "account.exported", find_account(PIN).id)) == 1


def test_export_never_contains_a_secret(client, person):
    body = _download(client).get_data(as_text=True)
    json.loads(body)
    leaked = [name for name, secret in person["secrets"].items() if secret and secret in body]
    assert leaked == []
    for column in ("password_hash", "secret_sealed", "code_hash", "client_secret", "token_hash", "public_key"):
        assert column not in body


def test_export_needs_a_recent_login_and_a_csrf_token(app, client, person):
    page = client.get("/accounts/export").get_data(as_text=True)
    assert client.post("/accounts/export").status_code == 400  # no CSRF token
    assert client.post("/accounts/export", data={"csrf_token": "forged"}).status_code == 400
    with later(900):
        stale = client.get("/accounts/export", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert "Download my data" not in stale and "Confirm it is you" in stale
        response = client.post("/accounts/export", data={"csrf_token": form_token(page, "/accounts/export")})
        # The account has an authenticator app: confirming it is you is a second-factor step-up.
        assert response.status_code == 303 and response.location.startswith("/auth/mfa?next=")
    with app.app_context():
        assert events(app, "account.exported") == []


def test_export_of_a_fresh_account_without_portals(app, client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    html = client.get("/accounts/export", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Decree 13/2023" in html
    response = client.post("/accounts/export", data={"csrf_token": csrf_from(html)})
    data = response.get_json()
    assert data["consents"] == [] and data["grants"] == [] and data["linked_sources"] == []
    assert data["second_factors"]["authenticator_apps"] == [] and data["login_history"][0]["source"] == "password"
