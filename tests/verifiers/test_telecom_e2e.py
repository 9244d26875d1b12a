"""Logging in through the telecom source end to end, through the Flask test client: the login page,
the phone form, the SMS read back from the sandbox outbox (OutboxMessage), the code form, the
account linked by idp/accounts/linking.py and the ID token a portal receives (docs/assurance.md).
Also the application's real rate limiter, outages, and the development outbox page."""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func
from sqlalchemy import select

from idp import create_app
from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import Account
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LinkReview
from idp.accounts.service import find_account
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.outbox import OutboxMessage
from idp.verifiers.base import Level
from tests.conftest import base_settings
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import dispose
from tests.conftest import press_source
from tests.conftest import query_of
from tests.conftest import submit_form

NEW_PHONE, NEW_E164, NEW_PID = "070 123 4567", "+84701234567", "001099000123"
KNOWN_PHONE, KNOWN_PID = "0387654321", "001099000456"
SUBSCRIBERS = {NEW_PHONE: NEW_PID, KNOWN_PHONE: KNOWN_PID, "0912345671": "001099000789",
               "0912345672": "001099000789", "0912345673": "001099000789"}
TELECOM = {"kind": "telecom", "operator": {"kind": "sandbox", "subscribers": SUBSCRIBERS}}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"verifiers": {"telecom": TELECOM}}


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Pages in English: the assertions do not depend on the Vietnamese catalogue."""
    return english(app.test_client())


def english(client: FlaskClient) -> FlaskClient:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def custom_app(database_url, keys_dir) -> Iterator[Any]:  # noqa: ANN001
    """Build one app with other telecom settings (one app per test: the limiter is per app)."""
    built: list[Flask] = []

    def make(extra: dict[str, Any] | None = None, **overrides: Any) -> Flask:
        overrides.setdefault("verifiers", {"telecom": {**TELECOM, **(extra or {})}})
        app = create_app(base_settings(database_url, keys_dir, **overrides))
        built.append(app)
        return app

    yield make
    for app in built:
        dispose(app)


# --- helpers: a person at the browser -----------------------------------------------------------------
def start(client: FlaskClient, next_url: str = "", verifier_id: str = "telecom"):  # noqa: ANN201
    return press_source(client, verifier_id, next_url)


submit = submit_form


def sms_codes(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.channel == "sms")
                                  .order_by(OutboxMessage.id)).scalars()
        return [(row.recipient, re.search(r"\b(\d{6})\b", row.body).group(1)) for row in rows]


def log_in_by_telecom(client: FlaskClient, app: Flask, phone: str, personal_id: str, next_url: str = ""):  # noqa: ANN201
    code_page = submit(client, start(client, next_url), phone=phone, personal_id=personal_id)
    assert code_page.status_code == 200, code_page.get_data(as_text=True)
    assert 'name="code"' in code_page.get_data(as_text=True)
    return submit(client, code_page, code=sms_codes(app)[-1][1])


def id_token_for(browser, client: FlaskClient, client_id: str, secret: str, scope: str = "openid") -> dict:  # noqa: ANN001
    start_page = browser.authorize(response_type="code", client_id=client_id, scope=scope, nonce=secrets.token_hex(8),
                                   redirect_uri="https://portal.example.vn/callback")
    assert start_page.status_code == 302 and "code=" in start_page.location, start_page.location
    body = browser.exchange(query_of(start_page.location)["code"], client_id, secret).get_json()
    return decode_with_jwks(client, body["id_token"])[1]


# --- (1) a new citizen ------------------------------------------------------------------------------------
def test_new_citizen_by_subscriber_match_and_sms_code(app, browser, client, make_client):
    """Issue (1): account created at substantial; ID token acr substantial, amr has sms and mno."""
    client_id, secret = make_client(trusted=True)
    authorize = browser.authorize(response_type="code", client_id=client_id, scope="openid phone", nonce="n1",
                                  redirect_uri="https://portal.example.vn/callback")
    next_url = query_of(authorize.location)["next"]
    phone_page = start(client, next_url)
    html = phone_page.get_data(as_text=True)
    assert phone_page.status_code == 200 and 'for="phone"' in html and 'for="personal_id"' in html
    code_page = submit(client, phone_page, phone=NEW_PHONE, personal_id=NEW_PID)
    html = code_page.get_data(as_text=True)
    assert code_page.status_code == 200 and "0••• ••• 567" in html and "123 4567" not in html  # number masked
    assert 'href="/sandbox/outbox"' in html and "Development: read the SMS in the outbox" in html
    [(recipient, code)] = sms_codes(app)
    assert recipient == NEW_E164
    done = submit(client, code_page, code=code)
    assert done.status_code == 303 and done.location == next_url
    final = client.get(done.location)
    body = browser.exchange(query_of(final.location)["code"], client_id, secret).get_json()
    claims = decode_with_jwks(client, body["id_token"])[1]
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial"
    assert {"sms", "mno"} <= set(claims["amr"])
    with app.app_context():
        account = find_account(NEW_PID)
        assert account is not None and account.phone == NEW_E164
        assert identity_level(account) == Level.SUBSTANTIAL
        [link] = linked_sources(account)
        assert (link.source, link.level) == ("telecom", Level.SUBSTANTIAL)
        assert NEW_PID not in link.subject and "701234567" not in link.subject
        assert account.verification_of("phone").source == "telecom"


# --- (2) an existing account --------------------------------------------------------------------------------
def test_existing_account_from_another_source_logs_in_by_telecom_to_the_same_account(app, client, make_client):
    """Issue (2): an account made by another source at substantial, same personal ID, agreeing data."""
    from tests.conftest import BrowserFlow

    client_id, secret = make_client(trusted=True)
    first = submit(client, start(client, verifier_id="mock"), personal_id=KNOWN_PID, full_name="Lê Thị Hoa",
                   birthdate="1999-07-01", level="substantial")
    assert first.status_code == 303
    by_mock = id_token_for(BrowserFlow(client), client, client_id, secret)
    other = english(app.test_client())  # another browser, nobody logged in
    done = log_in_by_telecom(other, app, KNOWN_PHONE, KNOWN_PID, next_url="/auth/done")
    assert done.status_code == 303 and "You are logged in" in other.get(done.location).get_data(as_text=True)
    by_telecom = id_token_for(BrowserFlow(other), other, client_id, secret)
    assert by_telecom["sub"] == by_mock["sub"]  # the same account, as the portal sees it
    assert by_telecom["acr"] == "urn:vn:gov:sso:loa:substantial" and {"sms", "mno"} <= set(by_telecom["amr"])
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(Account)).scalar() == 1
        account = find_account(KNOWN_PID)
        assert sorted(link.source for link in linked_sources(account)) == ["mock", "telecom"]
        assert account.full_name == "Lê Thị Hoa" and account.phone == "+84387654321"
        assert db.session.execute(select(func.count()).select_from(LinkReview)).scalar() == 0


# --- (3) a logged-in person adds a phone ----------------------------------------------------------------------
def test_logged_in_person_adds_a_phone_with_the_sms_code_alone(app, browser, client, make_account, make_client):
    """Issue (3): no personal ID while logged in → code only, LOW, linked to that account only."""
    account_id = make_account("001090077001")
    client_id, secret = make_client(trusted=True)
    assert browser.login("001090077001").status_code == 303
    phone_page = start(client, "/auth/done")
    assert "leave this empty" in phone_page.get_data(as_text=True)  # the hint: leave the personal ID empty
    # 0981 234 567 is unknown to the sandbox operator: asking it would fail, so this proves no check.
    code_page = submit(client, phone_page, phone="0981 234 567", personal_id="")
    assert code_page.status_code == 200, code_page.get_data(as_text=True)
    done = submit(client, code_page, code=sms_codes(app)[-1][1])
    assert done.status_code == 303
    claims = id_token_for(browser, client, client_id, secret)
    assert claims["acr"] == "urn:vn:gov:sso:loa:low" and {"pwd", "sms"} <= set(claims["amr"])
    assert "mno" not in claims["amr"]
    with app.app_context():
        links = db.session.execute(select(LinkedIdentity).where(LinkedIdentity.source == "telecom")).scalars().all()
        assert [(link.account_id, link.level) for link in links] == [(account_id, Level.LOW)]
        assert db.session.execute(select(func.count()).select_from(Account)).scalar() == 1


# --- (4) nobody logged in cannot use the SMS alone ------------------------------------------------------------
def test_not_logged_in_person_cannot_use_the_sms_alone(app, client):
    """Issue (4): without a personal ID and without a login there is no code and no account."""
    phone_page = start(client)
    refused = submit(client, phone_page, phone="0981 234 567", personal_id="")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'name="phone"' in html and 'role="alert"' in html
    assert "Enter your personal ID number." in html
    assert sms_codes(app) == []
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(LinkedIdentity)).scalar() == 0


# --- failures through the pages --------------------------------------------------------------------------------
def test_operator_mismatch_sends_no_sms_and_keeps_what_was_typed(app, client):
    refused = submit(client, start(client), phone=NEW_PHONE, personal_id="001099000999")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "not registered to this personal ID number" in html
    assert 'value="070 123 4567"' in html and 'value="001099000999"' in html
    assert sms_codes(app) == []


def test_wrong_codes_then_locked(app, client):
    code_page = submit(client, start(client), phone=NEW_PHONE, personal_id=NEW_PID)
    right = sms_codes(app)[-1][1]
    bad = f"{(int(right) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        page = submit(client, code_page, code=bad)
        assert page.status_code == 400 and f"You have {left} tr" in page.get_data(as_text=True)
    locked = submit(client, code_page, code=bad)
    assert locked.status_code == 400 and 'name="code"' not in locked.get_data(as_text=True)
    again = submit(client, code_page, code=right)
    assert again.status_code == 400 and 'name="code"' not in again.get_data(as_text=True)
    with app.app_context():
        assert find_account(NEW_PID) is None


def test_expired_code_ends_the_attempt_and_resend_has_a_cool_down(app, client):
    with time_machine.travel(utcnow(), tick=False) as traveller:
        code_page = submit(client, start(client), phone=NEW_PHONE, personal_id=NEW_PID)
        too_soon = submit(client, code_page, action="resend")
        assert too_soon.status_code == 400 and len(sms_codes(app)) == 1
        traveller.shift(timedelta(seconds=61))
        resent = submit(client, code_page, action="resend")
        assert resent.status_code == 200 and len(sms_codes(app)) == 2
        traveller.shift(timedelta(minutes=5))
        expired = submit(client, code_page, code=sms_codes(app)[-1][1])
        html = expired.get_data(as_text=True)
        assert expired.status_code == 400 and "This code has expired." in html and 'name="code"' not in html
    with app.app_context():
        assert find_account(NEW_PID) is None


def test_rate_limit_per_number_through_the_application_limiter(custom_app):
    """Issue: codes per number are limited with the app's real limiter (services.hit), whatever the IP."""
    app = custom_app({"limits": {"sms_per_number": "2 per hour"}})
    client = english(app.test_client())
    for n, address in enumerate(("203.0.113.1", "203.0.113.2", "203.0.113.3")):
        phone_page = start(client)
        html = phone_page.get_data(as_text=True)
        action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
        page = client.post(action, data={"csrf_token": csrf_from(html), "phone": NEW_PHONE, "personal_id": NEW_PID},
                           environ_base={"REMOTE_ADDR": address})
        if n < 2:
            assert page.status_code == 200
        else:
            html = page.get_data(as_text=True)
            assert page.status_code == 429 and "Too many codes were sent to this phone number." in html
    assert len(sms_codes(app)) == 2


def test_rate_limit_per_ip_through_the_application_limiter(custom_app):
    """Issue: operator checks per client address are limited, whatever the number."""
    app = custom_app({"limits": {"checks_per_ip": "2 per hour"}})
    client = english(app.test_client())
    for n, phone in enumerate(("0912345671", "0912345672", "0912345673")):
        page = submit(client, start(client), phone=phone, personal_id="001099000789")
        assert page.status_code == (200 if n < 2 else 429)
    assert len(sms_codes(app)) == 2


def test_operator_down_shows_the_source_unavailable(custom_app):
    app = custom_app({"operator": {"kind": "http", "endpoint": "http://127.0.0.1:9/check", "api_key": "k" * 20,
                                   "timeout": 1}})
    client = english(app.test_client())
    page = submit(client, start(client), phone=NEW_PHONE, personal_id=NEW_PID)
    assert page.status_code == 503 and "operator cannot be reached right now" in page.get_data(as_text=True)
    assert sms_codes(app) == []


def test_sms_gateway_down_shows_the_source_unavailable(custom_app):
    app = custom_app({"sms": {"kind": "sandbox", "available": False}})
    client = english(app.test_client())
    # The login page no longer offers the source (HealthReporting); a page opened before the outage still posts.
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert "/auth/sources/telecom/start" not in login_page
    form = client.post("/auth/sources/telecom/start", data={"csrf_token": csrf_from(login_page)})
    page = submit(client, form, phone=NEW_PHONE, personal_id=NEW_PID)
    assert page.status_code == 503 and sms_codes(app) == []
    assert "cannot send text messages right now" in page.get_data(as_text=True)


def test_hostile_phone_form_input_is_answered_with_the_form(app, client):
    for phone, personal_id in (("<script>alert(1)</script>", NEW_PID), (NEW_PHONE, "'; DROP TABLE account; --"),
                               ("\u0660" * 10, NEW_PID), ("9" * 4000, NEW_PID)):
        page = submit(client, start(client), phone=phone, personal_id=personal_id)
        html = page.get_data(as_text=True)
        assert page.status_code == 400 and 'role="alert"' in html and "<script>alert(1)" not in html
    assert sms_codes(app) == []


# --- the development outbox page -------------------------------------------------------------------------------
def test_outbox_page_shows_the_latest_sms_in_development(app, client):
    submit(client, start(client), phone=NEW_PHONE, personal_id=NEW_PID)
    [(recipient, code)] = sms_codes(app)
    page = client.get("/sandbox/outbox")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and code in html and recipient in html
    assert page.headers["Cache-Control"] == "no-store"
    assert code not in client.get("/sandbox/outbox?channel=letter").get_data(as_text=True)
    assert code in client.get("/sandbox/outbox?channel=sms").get_data(as_text=True)


def test_outbox_page_does_not_exist_without_sandbox(custom_app):
    app = custom_app(features={"sandbox": False}, verifiers={"mock": {"kind": "mock"}})
    assert app.test_client().get("/sandbox/outbox").status_code == 404


def test_outbox_page_answers_404_if_settings_turn_to_production(app, client):
    """Belt and braces: the page checks the settings on every request, not only at registration."""
    settings = app.extensions["idp.settings"]
    app.extensions["idp.settings"] = dataclasses.replace(settings, env="production")
    assert client.get("/sandbox/outbox").status_code == 404
    app.extensions["idp.settings"] = dataclasses.replace(settings, features=dataclasses.replace(
        settings.features, sandbox=False))
    assert client.get("/sandbox/outbox").status_code == 404


def test_sandbox_is_allowed_only_outside_production():
    from idp.sandbox import sandbox_allowed
    from idp.settings import Features
    from idp.settings import Settings

    assert sandbox_allowed(Settings(env="development", features=Features(sandbox=True)))
    assert not sandbox_allowed(Settings(env="development", features=Features(sandbox=False)))
    assert not sandbox_allowed(Settings(env="production", features=Features(sandbox=True)))


def test_a_telecom_source_that_is_down_is_shown_unavailable_on_the_login_page(custom_app):
    """HealthReporting: the login page marks the source unavailable instead of offering it."""
    app = custom_app({"operator": {"kind": "sandbox", "subscribers": SUBSCRIBERS, "available": False}})
    page = english(app.test_client()).get("/auth/login").get_data(as_text=True)
    assert "/auth/sources/telecom/start" not in page and "temporarily unavailable" in page
    up = custom_app()
    assert "/auth/sources/telecom/start" in up.test_client().get("/auth/login").get_data(as_text=True)
