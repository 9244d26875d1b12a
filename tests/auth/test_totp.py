"""Authenticator apps (TOTP, RFC 6238): enrolment on /accounts/security, login through /auth/mfa, the
±1 time-step window, replay, sealing at rest, and the removal rules (docs/authentication.md)."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import quote

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.auth.assurance import ACR_LOW
from idp.auth.assurance import ACR_SUBSTANTIAL
from idp.auth.mfa import totp
from idp.crypto import seal
from idp.crypto import unseal
from idp.extensions import db
from idp.outbox import OutboxMessage
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import hidden_fields
from tests.conftest import query_of

PIN = "001090077701"
# 15 s into a time step: one step either side is a whole step away, never a boundary.
START = datetime(2026, 12, 1, 9, 0, 15, tzinfo=UTC)
STEP = totp.PERIOD


def english_client(app):  # noqa: ANN001, ANN201
    """A test client reading the pages in English."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def frozen_clock() -> Iterator[time_machine.Traveller]:
    """Frozen time (the app reads time.time and datetime.now), moved by hand with `clock.shift(s)`."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201 - the conftest client, in English
    return english_client(app)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    yield from frozen_clock()


# --- helpers shared with test_recovery_codes.py ----------------------------------------------------

def code_at(secret: str, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (+ offset time steps)."""
    return pyotp.TOTP(secret).at(datetime.now(UTC).timestamp() + offset_steps * STEP)


def add_authenticator(app, account_id: int, name: str = "Điện thoại của tôi", acr: str = ACR_LOW) -> tuple[int, str]:  # noqa: ANN001
    """An active authenticator stored as enrolment leaves it; return (id, secret)."""
    secret = pyotp.random_base32()
    with app.app_context():
        row = totp.TotpAuthenticator(account_id=account_id, name=name, added_acr=acr,
                                     secret_sealed=seal(secret.encode(), "totp"), activated_at=datetime.now(UTC))
        db.session.add(row)
        db.session.commit()
        return row.id, secret


def answer(client, kind: str, code: str, next_url: str | None = None):  # noqa: ANN001, ANN201
    """Post one kind's form of the /auth/mfa page (the page's CSRF token and `next`)."""
    page = client.get("/auth/mfa" + (f"?next={quote(next_url, safe='')}" if next_url else ""))
    assert page.status_code == 200, page.location
    html = page.get_data(as_text=True)
    assert f'action="/auth/mfa/{kind}"' in html, f"the {kind} form is not offered"
    return client.post(f"/auth/mfa/{kind}", data={**hidden_fields(html), "code": code})


def log_in(browser, client, pin: str, secret: str | None = None, next_url: str = "/accounts/security"):  # noqa: ANN001, ANN201
    """Password (then the authenticator's current code when the account has one); return the last response."""
    first = browser.login(pin, next_url=next_url)
    if secret is None:
        assert first.status_code == 303 and first.location == next_url
        return first
    assert first.location.endswith("/auth/mfa")
    return answer(client, "totp", code_at(secret))


def session_row(app) -> LoginSession:  # noqa: ANN001
    with app.app_context():
        [row] = db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()
        return row


def set_session(app, **values) -> None:  # noqa: ANN001, ANN003
    with app.app_context():
        for row in db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars():
            for key, value in values.items():
                setattr(row, key, value)
        db.session.commit()


def verify_identity(app, account_id: int) -> None:  # noqa: ANN001
    """The account was proven at SUBSTANTIAL by a source (docs/assurance.md: the identity level)."""
    with app.app_context():
        db.session.add(LinkedIdentity(account_id=account_id, source="mock", subject=f"s-{account_id}", level=2))
        db.session.commit()


def audit_events(app) -> list[AuditEvent]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def notified(app, event: str) -> list[str]:  # noqa: ANN001
    """The owner's messages about `event` in the development outbox (idp/notify.py ends each with its Ref)."""
    with app.app_context():
        return [m.body for m in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
                if m.body.endswith(f"Ref: {event}")]


def authenticators(app, account_id: int) -> list[totp.TotpAuthenticator]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(totp.TotpAuthenticator).where(
            totp.TotpAuthenticator.account_id == account_id).order_by(totp.TotpAuthenticator.id)).scalars())


def assert_no_secrets_in_audit(app, *secrets: str) -> None:  # noqa: ANN001
    """Audit events carry ids only (idp/audit.py): no code, no seed, no personal ID."""
    trail = json.dumps([[e.event, e.data] for e in audit_events(app)], ensure_ascii=False)
    for secret in secrets:
        assert secret not in trail


def key_on(html: str) -> str:
    match = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', html)
    assert match, "no key for manual entry on the page"
    return match.group(1)


# --- enrolment ------------------------------------------------------------------------------------

def test_the_security_page_needs_a_login(client):
    response = client.get("/accounts/security")
    assert response.status_code == 303 and response.location == "/auth/login?next=/accounts/security"
    new = client.get("/accounts/security/totp/new")
    assert new.status_code == 303 and new.location == "/auth/login?next=/accounts/security/totp/new"


def test_enrolment_end_to_end(app, client, browser, make_account, clock, caplog):
    """QR page, a wrong first code refused, the right one activates the named authenticator; a second one."""
    caplog.set_level(logging.DEBUG)
    account_id = make_account(PIN, email="totp@example.vn")
    log_in(browser, client, PIN)
    listing = client.get("/accounts/security").get_data(as_text=True)
    assert "No authenticator app yet" in listing and 'href="/accounts/security/totp/new"' in listing

    page = client.get("/accounts/security/totp/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert '<svg aria-hidden="true"' in html  # the QR code; the text beside it is its alternative
    assert "If you cannot scan it, enter the key below by hand" in html
    key = key_on(html)
    assert re.fullmatch(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}", key)  # 160 bits in groups of four
    secret = key.replace(" ", "")
    [uri] = re.findall(r'href="(otpauth://[^"]+)"', html)
    parsed = pyotp.parse_uri(uri.replace("&amp;", "&"))
    assert parsed.secret == secret and parsed.issuer == "Đăng nhập một lần quốc gia"
    assert parsed.name == "•••••••••701" and PIN not in html  # the label masks the personal ID
    assert parsed.digits == 6 and parsed.interval == 30 and parsed.digest().name == "sha1"
    assert client.get("/accounts/security/totp/new").get_data(as_text=True).count(key) == 1  # same key on reload

    wrong = client.post("/accounts/security/totp/new", data={**hidden_fields(html), "name": "Điện thoại của tôi",
                                                            "code": str((int(code_at(secret)) + 1) % 10**6).zfill(6)})
    assert wrong.status_code == 400 and "The code is not correct" in wrong.get_data(as_text=True)
    assert key_on(wrong.get_data(as_text=True)) == key  # try again with the same key
    assert not any(row.is_active for row in authenticators(app, account_id))

    clock.shift(STEP)  # the next code of the app
    right = client.post("/accounts/security/totp/new",
                        data={**hidden_fields(html), "name": "Điện thoại của tôi", "code": code_at(secret)})
    assert right.status_code == 303 and right.location == "/accounts/security?added=1"
    [row] = authenticators(app, account_id)
    assert row.is_active and row.name == "Điện thoại của tôi" and row.added_acr == ACR_LOW
    listing = client.get(right.location).get_data(as_text=True)
    assert "Điện thoại của tôi" in listing and "The authenticator app is ready" in listing

    second = client.get("/accounts/security/totp/new").get_data(as_text=True)
    second_secret = key_on(second).replace(" ", "")
    assert second_secret != secret
    done = client.post("/accounts/security/totp/new",
                       data={**hidden_fields(second), "name": "Máy tính bảng", "code": code_at(second_secret)})
    assert done.status_code == 303
    assert [(r.name, r.is_active) for r in authenticators(app, account_id)] == [
        ("Điện thoại của tôi", True), ("Máy tính bảng", True)]
    listing = client.get("/accounts/security").get_data(as_text=True)
    assert "Điện thoại của tôi" in listing and "Máy tính bảng" in listing

    added = [e for e in audit_events(app) if e.event == "mfa.added"]
    assert [(e.account_id, e.data["kind"]) for e in added] == [(account_id, "totp"), (account_id, "totp")]
    assert len(notified(app, "mfa.added")) == 2
    assert [e.data["reason"] for e in audit_events(app) if e.event == "mfa.activation_failed"] == ["totp_wrong"]
    assert_no_secrets_in_audit(app, secret, second_secret, PIN)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged and second_secret not in logged  # never logged


def test_the_activation_code_cannot_log_in_again(app, client, browser, make_account, clock):
    """RFC 6238 §5.2: the code that activated the authenticator was accepted once already."""
    make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    secret = key_on(html).replace(" ", "")
    code = code_at(secret)
    client.post("/accounts/security/totp/new", data={**hidden_fields(html), "name": "A", "code": code})
    client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/auth/logout").get_data(as_text=True))})
    browser.login(PIN, next_url="/accounts/security")
    refused = answer(client, "totp", code)
    assert refused.status_code == 401 and "This code has already been used" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"name": ""}, "Give the authenticator a name"),
    ({"name": "x" * 65}, "The name is too long"),
    ({"name": "Phone\u202e"}, "The name may contain letters, digits, spaces and punctuation only."),
    ({"name": "Phone\x00"}, "The name may contain letters, digits, spaces and punctuation only."),
    ({"code": ""}, "Enter the code your authenticator app shows."),
    ({"code": "١٢٣٤٥٦"}, "Enter the 6 digits shown in your authenticator app (digits 0 to 9 only)."),
    ({"code": "12345"}, "Enter the 6 digits shown in your authenticator app"),
    ({"code": "9" * 200}, "Enter the 6 digits shown in your authenticator app"),
    ({"code": "abcdef"}, "Enter the 6 digits shown in your authenticator app"),
])
def test_hostile_enrolment_input_is_refused_clearly(app, client, browser, make_account, clock, fields, message):
    account_id = make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    secret = key_on(html).replace(" ", "")
    response = client.post("/accounts/security/totp/new",
                           data={**hidden_fields(html), "name": "Phone", "code": code_at(secret), **fields})
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert not any(row.is_active for row in authenticators(app, account_id))


def test_enrolment_accepts_spaced_and_full_width_digits(app, client, browser, make_account, clock):
    """What people paste: "123 456", full-width digits (NFKC folds them to ASCII)."""
    account_id = make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    code = code_at(key_on(html).replace(" ", ""))
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    typed = f" {full_width[:3]} {full_width[3:]} "
    response = client.post("/accounts/security/totp/new",
                           data={**hidden_fields(html), "name": "  Phone  ", "code": typed})
    assert response.status_code == 303
    assert [r.name for r in authenticators(app, account_id)] == ["Phone"]


def test_enrolment_needs_a_recent_login_and_csrf(app, client, browser, make_account, clock):
    make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    no_csrf = client.post("/accounts/security/totp/new", data={"name": "A", "code": "123456"})
    assert no_csrf.status_code == 400 and "This form has expired" in no_csrf.get_data(as_text=True)
    clock.shift(11 * 60)
    stale = client.post("/accounts/security/totp/new",
                        data={**hidden_fields(html), "name": "A", "code": code_at(key_on(html).replace(" ", ""))})
    assert stale.status_code == 303
    assert stale.location == "/auth/login?next=/accounts/security/totp/new"  # no factor yet: the password
    assert client.get("/accounts/security/totp/new").location == stale.location


def test_an_expired_enrolment_shows_a_new_key(app, client, browser, make_account, clock):
    """A key shown more than 30 minutes ago is discarded; its codes do not activate anything."""
    account_id = make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    old = key_on(html).replace(" ", "")
    clock.shift(31 * 60)
    log_in(browser, client, PIN)  # a fresh login (and a new CSRF token)
    fresh = csrf_from(client.get("/auth/logout").get_data(as_text=True))
    response = client.post("/accounts/security/totp/new",
                           data={**hidden_fields(html), "csrf_token": fresh, "name": "A", "code": code_at(old)})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "This set-up page has expired" in body
    assert key_on(body).replace(" ", "") != old
    assert not any(row.is_active for row in authenticators(app, account_id))
    assert len(authenticators(app, account_id)) == 1  # the stale pending one was deleted


def test_at_most_ten_authenticators(app, client, browser, make_account, clock):
    account_id = make_account(PIN)
    secrets = [add_authenticator(app, account_id, name=f"App {n}")[1] for n in range(totp.MAX_AUTHENTICATORS)]
    log_in(browser, client, PIN, secrets[0])
    response = client.get("/accounts/security/totp/new")
    assert response.status_code == 400 and "already has 10 authenticator apps" in response.get_data(as_text=True)


# --- login ----------------------------------------------------------------------------------------

def test_password_and_totp_log_in_to_a_portal(app, client, browser, make_account, make_client, clock):
    """A verified account with password + TOTP reaches SUBSTANTIAL; the ID token's amr is pwd, otp, mfa."""
    account_id = make_account(PIN)
    verify_identity(app, account_id)
    authenticator_id, secret = add_authenticator(app, account_id)
    client_id, client_secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-totp",
                              acr_values=ACR_SUBSTANTIAL)
    next_url = query_of(start.location)["next"]
    first = browser.login(PIN, next_url=next_url)
    assert first.status_code == 303 and first.location.endswith("/auth/mfa")
    page = client.get("/auth/mfa").get_data(as_text=True)
    assert "Authenticator app" in page and "Điện thoại của tôi" in page  # the hint names the apps
    done = answer(client, "totp", code_at(secret))
    assert done.status_code == 303 and done.location == next_url
    final = client.get(done.location)
    code = query_of(final.location)["code"]
    claims = decode_with_jwks(client, browser.exchange(code, client_id, client_secret).get_json()["id_token"])[1]
    assert claims["acr"] == ACR_SUBSTANTIAL and set(claims["amr"]) == {"pwd", "otp", "mfa"}
    [row] = authenticators(app, account_id)
    assert row.last_used_at is not None and row.last_time_step == int(START.timestamp()) // STEP


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (0, True), (1, True), (2, False)])
def test_one_time_step_either_side_is_accepted(app, client, browser, make_account, clock, offset, accepted):
    """RFC 6238 §5.2 (and §6 resynchronisation): ±1 step of clock drift is accepted, ±2 is not."""
    account_id = make_account(PIN)
    _id, secret = add_authenticator(app, account_id)
    browser.login(PIN, next_url="/accounts/security")
    response = answer(client, "totp", code_at(secret, offset))
    if accepted:
        assert response.status_code == 303 and response.location == "/accounts/security"
        assert sorted(session_row(app).amr) == ["mfa", "otp", "pwd"]
    else:
        assert response.status_code == 401 and "The code is not correct" in response.get_data(as_text=True)


def test_an_accepted_code_is_refused_the_second_time(app, client, browser, make_account, clock):
    """RFC 6238 §5.2: the verifier MUST NOT accept the second attempt of an OTP after a successful validation;
    an older step than the last accepted is refused too, a later one is accepted."""
    account_id = make_account(PIN)
    _id, secret = add_authenticator(app, account_id)
    code = code_at(secret)
    assert log_in(browser, client, PIN, secret).status_code == 303
    other = english_client(app)  # an attacker who saw the code, in another browser, within the same step
    from tests.conftest import BrowserFlow

    BrowserFlow(other).login(PIN, next_url="/accounts/security")
    replay = answer(other, "totp", code)
    assert replay.status_code == 401 and "This code has already been used" in replay.get_data(as_text=True)
    older = answer(other, "totp", code_at(secret, -1))
    assert older.status_code == 401 and "This code has already been used" in older.get_data(as_text=True)
    clock.shift(STEP)
    assert answer(other, "totp", code_at(secret)).status_code == 303
    failed = [e for e in audit_events(app) if e.event == "login.failed"]
    assert [(e.account_id, e.data["method"]) for e in failed] == [(account_id, "totp")] * 2
    assert_no_secrets_in_audit(app, secret, code)


def test_any_of_several_authenticators_logs_in(app, client, browser, make_account, clock):
    account_id = make_account(PIN)
    add_authenticator(app, account_id, name="A")
    _id, tablet = add_authenticator(app, account_id, name="B")
    assert log_in(browser, client, PIN, tablet).status_code == 303


@pytest.mark.parametrize(("typed", "message"), [
    ("9" * 200, "Enter the 6 digits shown in your authenticator app"),
    ("١٢٣٤٥٦", "Enter the 6 digits shown in your authenticator app"),
    ("12345a", "Enter the 6 digits shown in your authenticator app"),
    ("", "Enter the 6 digits shown in your authenticator app"),
    ("1234567", "Enter the 6 digits shown in your authenticator app"),
])
def test_hostile_codes_at_login_get_clear_errors(app, client, browser, make_account, clock, typed, message):
    """Malformed input is a failure with its own message (counted like a wrong code), never a 500."""
    account_id = make_account(PIN)
    _id, secret = add_authenticator(app, account_id)
    browser.login(PIN, next_url="/accounts/security")
    response = answer(client, "totp", typed)
    assert response.status_code == 401 and message in response.get_data(as_text=True)
    spaced = code_at(secret)
    assert answer(client, "totp", f"{spaced[:3]} {spaced[3:]}").status_code == 303  # spaces are fine


def test_the_secret_is_sealed_at_rest(app, client, browser, make_account, clock):
    account_id = make_account(PIN)
    log_in(browser, client, PIN)
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    secret = key_on(html).replace(" ", "")
    [row] = authenticators(app, account_id)
    assert row.secret_sealed.startswith("v1.") and secret not in row.secret_sealed and secret not in repr(row)
    with app.app_context():
        assert unseal(row.secret_sealed, "totp").decode() == secret
        with pytest.raises(ValueError):
            unseal(row.secret_sealed, "other-purpose")  # sealed for TOTP only


# --- removal --------------------------------------------------------------------------------------

def remove(client, authenticator_id: int):  # noqa: ANN001, ANN201
    html = client.get("/accounts/security").get_data(as_text=True)
    return client.post(f"/accounts/security/totp/{authenticator_id}/remove", data={"csrf_token": csrf_from(html)})


def test_removing_one_of_several_authenticators(app, client, browser, make_account, clock):
    account_id = make_account(PIN, email="rm@example.vn")
    first_id, secret = add_authenticator(app, account_id, name="A")
    second_id, _secret = add_authenticator(app, account_id, name="B")
    log_in(browser, client, PIN, secret)
    no_csrf = client.post(f"/accounts/security/totp/{second_id}/remove")
    assert no_csrf.status_code == 400 and len(authenticators(app, account_id)) == 2
    response = remove(client, second_id)
    assert response.status_code == 303 and response.location == "/accounts/security"
    assert [r.name for r in authenticators(app, account_id)] == ["A"]
    [event] = [e for e in audit_events(app) if e.event == "mfa.removed"]
    assert event.account_id == account_id and event.data == {"kind": "totp", "factor_id": second_id, "last": False}
    assert len(notified(app, "mfa.removed")) == 1
    again = remove(client, second_id)
    assert again.status_code == 404 and "does not exist" in again.get_data(as_text=True)


def test_another_accounts_authenticator_cannot_be_removed(app, client, browser, make_account, clock):
    mine = make_account(PIN)
    theirs = make_account("001090077702", email="other@example.vn")
    _id, secret = add_authenticator(app, mine)
    their_id, _secret = add_authenticator(app, theirs)
    log_in(browser, client, PIN, secret)
    assert remove(client, their_id).status_code == 404
    assert len(authenticators(app, theirs)) == 1


def test_removing_a_factor_needs_a_recent_login(app, client, browser, make_account, clock):
    """An old session (more than 10 minutes since the last authentication) confirms it is the person first."""
    account_id = make_account(PIN)
    _a, secret = add_authenticator(app, account_id, name="A")
    b_id, _b = add_authenticator(app, account_id, name="B")
    log_in(browser, client, PIN, secret)
    clock.shift(11 * 60)
    response = remove(client, b_id)
    assert response.status_code == 303 and response.location == "/auth/mfa?next=/accounts/security"
    assert len(authenticators(app, account_id)) == 2
    back = answer(client, "totp", code_at(secret), next_url="/accounts/security")  # step-up: auth_time is now
    assert back.status_code == 303 and back.location == "/accounts/security"
    assert remove(client, b_id).status_code == 303
    assert [r.name for r in authenticators(app, account_id)] == ["A"]


def test_removing_the_last_factor_needs_the_level_that_added_it(app, client, browser, make_account, clock):
    """Issue 4 §7: removing the last second factor requires re-authentication at the level that added it."""
    from idp.auth.mfa import recovery

    account_id = make_account(PIN)
    verify_identity(app, account_id)
    log_in(browser, client, PIN)
    set_session(app, acr=ACR_SUBSTANTIAL)  # e.g. stepped up with a source before enrolling
    html = client.get("/accounts/security/totp/new").get_data(as_text=True)
    secret = key_on(html).replace(" ", "")
    client.post("/accounts/security/totp/new", data={**hidden_fields(html), "name": "A", "code": code_at(secret)})
    [row] = authenticators(app, account_id)
    assert row.added_acr == ACR_SUBSTANTIAL
    with app.test_request_context():
        recovery.generate(db.session.get(Account, account_id))
        db.session.commit()

    set_session(app, acr=ACR_LOW)  # a recent session, but weaker than the one that added the factor
    response = remove(client, row.id)
    assert response.status_code == 303
    assert response.location == "/auth/login?acr=urn:vn:gov:sso:loa:substantial&next=/accounts/security"
    assert len(authenticators(app, account_id)) == 1
    login_page = client.get(response.location).get_data(as_text=True)
    assert "/auth/mfa?next=" in login_page  # the account's factor reaches the level

    clock.shift(STEP)
    assert answer(client, "totp", code_at(secret), next_url="/accounts/security").status_code == 303
    assert session_row(app).acr == ACR_SUBSTANTIAL
    assert remove(client, row.id).status_code == 303
    assert authenticators(app, account_id) == []
    with app.app_context():  # the backup codes of the last factor went with it
        assert not recovery.has_codes(db.session.get(Account, account_id))
    removed = [e.data for e in audit_events(app) if e.event == "mfa.removed"]
    assert removed == [{"kind": "totp", "factor_id": row.id, "last": True}, {"kind": "recovery", "count": 10}]
    assert browser.login(PIN, next_url="/accounts/security").location == "/accounts/security"  # password alone now


def test_removing_the_last_factor_with_a_stale_login_at_low(app, client, browser, make_account, clock):
    account_id = make_account(PIN)
    row_id, secret = add_authenticator(app, account_id)
    log_in(browser, client, PIN, secret)
    set_session(app, auth_time=datetime.now(UTC) - timedelta(minutes=30))
    response = remove(client, row_id)
    assert response.location == "/auth/mfa?next=/accounts/security"
    assert len(authenticators(app, account_id)) == 1


# --- units ----------------------------------------------------------------------------------------

def test_time_steps_follow_rfc_6238():
    """RFC 6238 Appendix B: T = floor(unix time / 30); test vector 59 s -> 94287082 (8 digits, SHA-1)."""
    assert totp.current_step(59) == 1 and totp.current_step(1111111109) == 37037036
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert pyotp.TOTP(secret, digits=8).generate_otp(totp.current_step(59)) == "94287082"
    assert totp.grouped("ABCDEFGHIJKL") == "ABCD EFGH IJKL"


class KeyFactor:
    """A stand-in for another kind (a security key), enrolled for every account."""

    kind = "testkey"
    label = "Test keys"
    manage_endpoint = "accounts.sources"

    def is_enrolled(self, account) -> bool:  # noqa: ANN001
        return True

    def challenge(self, account):  # noqa: ANN001, ANN201
        return {"template": "mfa/code_challenge.html", "title": "Key", "label": "Key"}

    def verify(self, account, form):  # noqa: ANN001, ANN201
        raise AssertionError("not used")


def test_an_authenticator_is_not_the_last_factor_beside_another_kind(app, client, browser, make_account, clock):
    """The "last second factor" rule counts every kind: with a security key left, the session level does not matter."""
    account_id = make_account(PIN)
    verify_identity(app, account_id)
    row_id, secret = add_authenticator(app, account_id, acr=ACR_SUBSTANTIAL)
    log_in(browser, client, PIN, secret)
    set_session(app, acr=ACR_LOW)
    app.extensions["idp.factors"] = {**app.extensions["idp.factors"], "testkey": KeyFactor()}
    page = client.get("/accounts/security").get_data(as_text=True)
    assert "Test keys" in page and 'href="/accounts/sources"' in page
    assert remove(client, row_id).status_code == 303 and authenticators(app, account_id) == []
    assert [e.data["last"] for e in audit_events(app) if e.event == "mfa.removed"] == [False]
