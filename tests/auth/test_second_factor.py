"""The second step of a login (idp/auth/mfa): after the password, a second factor; failures count
against the account; a live session steps up with the same `sid`. A test-only kind stands in for
TOTP, security keys and recovery codes, which have their own tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.auth.mfa import FactorResult
from idp.errors import VerificationFailed
from idp.extensions import db
from idp.i18n import N_
from idp.outbox import OutboxMessage
from idp.verifiers.base import Level
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import query_of
from tests.conftest import submit_form

PIN = "001090066601"


class CodeFactor:
    """Enrolled for every account whose e-mail starts with "mfa"; the right answer is 246810."""

    kind = "testcode"

    def is_enrolled(self, account: Account) -> bool:
        return (account.email or "").startswith("mfa")

    def challenge(self, account: Account) -> Mapping[str, Any]:
        return {"template": "mfa/code_challenge.html", "title": "Test code", "label": "Code", "inputmode": "numeric"}

    def verify(self, account: Account, form: Mapping[str, str]) -> FactorResult:
        if form.get("code") != "246810":
            raise VerificationFailed("code_wrong", N_("The code is not correct."))
        return FactorResult(amr=("otp",), level=Level.SUBSTANTIAL)


@pytest.fixture
def app(app):  # noqa: F811 - the conftest app, with the test-only kind
    app.extensions["idp.factors"] = {"testcode": CodeFactor()}
    return app


def _password(browser, identifier: str = PIN, next_url: str = "/auth/done"):  # noqa: ANN001, ANN202
    return browser.login(identifier, next_url=next_url)


def test_password_then_second_factor_opens_the_session(app, client, browser, make_account):
    """The password alone no longer logs in; the session starts after the second factor, amr pwd+otp+mfa."""
    make_account(PIN, email="mfa@example.vn")
    first = _password(browser)
    assert first.status_code == 303 and first.location.endswith("/auth/mfa")
    assert client.get("/auth/done").get_data(as_text=True).count("Log out") == 0  # not logged in yet
    page = client.get("/auth/mfa")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True)
    done = submit_form(client, page, code="246810")
    assert done.status_code == 303 and done.location == "/auth/done"
    with app.app_context():
        [row] = db.session.execute(select(LoginSession)).scalars().all()
        assert sorted(row.amr) == ["mfa", "otp", "pwd"]
        # An unverified account stays LOW whatever the factors (the identity level caps the session).
        assert row.acr == "urn:vn:gov:sso:loa:low"


def test_a_verified_account_reaches_substantial_with_the_second_factor(app, client, browser, make_account,
                                                                       make_client):
    """docs/assurance.md: the lower of identity (a substantial source) and authentication (password + OTP)."""
    from idp.accounts.linking import apply_assertion
    from tests.verifiers.test_framework import assertion

    make_account(PIN, email="mfa@example.vn")
    with app.app_context():
        apply_assertion(assertion("mock-1", personal_id=PIN), None)
        db.session.commit()
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-mfa",
                              acr_values="urn:vn:gov:sso:loa:substantial")
    login_url = start.location
    assert query_of(login_url)["acr"] == "urn:vn:gov:sso:loa:substantial"
    _password(browser, next_url=query_of(login_url)["next"])  # the password form is hidden but the POST is valid
    done = submit_form(client, client.get("/auth/mfa"), code="246810")
    final = client.get(done.location)
    code = query_of(final.location)["code"]
    claims = decode_with_jwks(client, browser.exchange(code, client_id, secret).get_json()["id_token"])[1]
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and set(claims["amr"]) == {"pwd", "otp", "mfa"}


def test_wrong_codes_count_against_the_account_then_lock_and_notify(app, client, browser, make_account):
    make_account(PIN, email="mfa@example.vn")
    _password(browser)
    page = client.get("/auth/mfa")
    for _ in range(5):
        page = submit_form(client, page, code="000000")
        assert page.status_code == 401 and 'role="alert"' in page.get_data(as_text=True)
    locked = submit_form(client, page, code="246810")  # even the right code waits now
    assert locked.status_code == 429
    with app.app_context():
        events = [e.event for e in db.session.execute(select(AuditEvent)).scalars()]
        assert events.count("login.failed") == 5 and "login.locked_out" in events
        [message] = db.session.execute(select(OutboxMessage)).scalars().all()
        assert message.recipient == "mfa@example.vn" and "login.locked_out" in message.body
        assert db.session.execute(select(LoginSession)).first() is None


def test_the_pending_login_expires_and_is_bound_to_this_browser(app, client, browser, make_account):
    make_account(PIN, email="mfa@example.vn")
    _password(browser)
    stranger = app.test_client()
    assert stranger.get("/auth/mfa").status_code == 303  # another browser has no pending login
    with time_machine.travel(time.time() + 301, tick=False):
        page = client.get("/auth/mfa")
        assert page.status_code == 303 and page.location.endswith("/auth/login")


def test_csrf_and_unknown_kinds_are_refused(app, client, browser, make_account):
    make_account(PIN, email="mfa@example.vn")
    _password(browser)
    html = client.get("/auth/mfa").get_data(as_text=True)
    assert client.post("/auth/mfa/testcode", data={"code": "246810"}).status_code == 400
    assert client.post("/auth/mfa/nope", data={"csrf_token": csrf_from(html), "code": "1"}).status_code == 404


def test_accounts_without_a_second_factor_log_in_with_the_password(app, client, browser, make_account):
    make_account(PIN, email="plain@example.vn")
    assert _password(browser).location == "/auth/done"


def test_a_live_session_steps_up_with_its_second_factor(app, client, browser, make_account, make_client):
    """Same sid, higher acr: the login page offers the account's factors to a session that is too weak."""
    from idp.accounts.linking import apply_assertion
    from tests.verifiers.test_framework import assertion

    make_account(PIN, email="mfa@example.vn")
    with app.app_context():
        apply_assertion(assertion("mock-2", personal_id=PIN), None)
        db.session.commit()
    _password(browser)
    submit_form(client, client.get("/auth/mfa"), code="246810")
    with app.app_context():
        [row] = db.session.execute(select(LoginSession)).scalars().all()
        sid, row.acr, row.amr = row.sid, "urn:vn:gov:sso:loa:low", ["pwd"]  # an older, weaker session
        db.session.commit()
    client_id, _secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-up",
                              acr_values="urn:vn:gov:sso:loa:substantial")
    page = client.get(start.location).get_data(as_text=True)
    assert "/auth/mfa?next=" in page
    mfa = client.get("/auth/mfa?next=" + query_of(start.location)["next"].replace("&", "%26").replace("?", "%3F"))
    done = submit_form(client, mfa, code="246810")
    assert done.status_code == 303
    with app.app_context():
        [row] = db.session.execute(select(LoginSession)).scalars().all()
        assert row.sid == sid and row.acr == "urn:vn:gov:sso:loa:substantial" and "otp" in row.amr
