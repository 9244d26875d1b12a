"""Passkeys and security keys (idp/auth/mfa/webauthn.py, idp/auth/passkeys.py, idp/accounts/passkeys.py),
end to end through the test client with a software authenticator (tests/auth/soft_authenticator.py):
registration (W3C WebAuthn §7.1), the second factor after the password and passwordless login with a
discoverable credential (§7.2), and every check a relying party must make."""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.auth.mfa.webauthn import WebAuthnChallenge
from idp.auth.mfa.webauthn import WebAuthnCredential
from idp.auth.mfa.webauthn import WebAuthnUser
from idp.extensions import db
from idp.outbox import OutboxMessage
from idp.verifiers.base import Level
from tests.auth.soft_authenticator import InvalidStateError
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.auth.soft_authenticator import from_b64url
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import query_of
from tests.conftest import submit_form

PIN = "001090077701"
OTHER_PIN = "001090077702"
EMAIL = "key@example.vn"
ACR_HIGH = "urn:vn:gov:sso:loa:high"
ACR_LOW = "urn:vn:gov:sso:loa:low"


# --- helpers ----------------------------------------------------------------------------------------
def post_json(client: FlaskClient, url: str, body: Any, token: str | None):  # noqa: ANN201
    headers = {"X-CSRFToken": token} if token else {}
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def page_token(client: FlaskClient, path: str = "/accounts/passkeys") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def register(client: FlaskClient, authenticator: SoftAuthenticator, name: str = "Blue key", **bend: Any):  # noqa: ANN201
    """The account page's two calls: options, then the attestation made by `authenticator`."""
    token = page_token(client)
    options = post_json(client, "/accounts/passkeys/options", {"name": name}, token)
    assert options.status_code == 200, options.get_json()
    credential = authenticator.create(options.get_json(), **bend)
    return post_json(client, "/accounts/passkeys", {"name": name, "credential": credential}, token)


def passkey_login(client: FlaskClient, authenticator: SoftAuthenticator, next_url: str = "/auth/done",
                  **bend: Any):  # noqa: ANN201
    """The login page's passkey button: options, then the assertion of a discoverable credential."""
    token = page_token(client, "/auth/login")
    options = post_json(client, "/auth/passkeys/options", {}, token)
    assert options.status_code == 200, options.get_json()
    credential = authenticator.get(options.get_json(), **bend)
    return post_json(client, "/auth/passkeys/login", {"credential": credential, "next": next_url}, token)


def mfa_options(page) -> dict[str, Any]:  # noqa: ANN001
    match = re.search(r'data-options="([^"]+)"', page.get_data(as_text=True))
    assert match, "no WebAuthn options on the second-step page"
    return json.loads(html.unescape(match.group(1)))


def second_factor(client: FlaskClient, authenticator: SoftAuthenticator, **bend: Any):  # noqa: ANN201
    """On /auth/mfa: what webauthn.js does, i.e. get() with the page's options, then submit the form."""
    page = client.get("/auth/mfa")
    assert page.status_code == 200
    credential = authenticator.get(mfa_options(page), **bend)
    return submit_form(client, page, credential=json.dumps(credential))


def logout(client: FlaskClient) -> None:
    token = page_token(client, "/auth/logout")
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 200


def verify_high(app, identifier: str = PIN) -> None:  # noqa: ANN001
    """Link a HIGH identity source: the identity level no longer caps what a key proves."""
    from idp.accounts.linking import apply_assertion
    from tests.verifiers.test_framework import assertion

    with app.app_context():
        apply_assertion(assertion(f"mock-{identifier}", level=Level.HIGH, personal_id=identifier), None)
        db.session.commit()


def events(app, name: str | None = None) -> list[AuditEvent]:  # noqa: ANN001
    with app.app_context():
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        return [row for row in rows if name is None or row.event == name]


def messages_to(app, recipient: str = EMAIL) -> int:  # noqa: ANN001
    with app.app_context():
        return len(db.session.execute(select(OutboxMessage).where(OutboxMessage.recipient == recipient)).all())


def keys(app) -> list[WebAuthnCredential]:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(WebAuthnCredential).order_by(WebAuthnCredential.id)).scalars().all()


def login_rows(app) -> list[LoginSession]:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()


@pytest.fixture
def client(app) -> FlaskClient:  # noqa: ANN001 - the conftest client, reading the pages in English
    english = app.test_client()
    english.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return english


@pytest.fixture
def account(make_account, browser) -> int:  # noqa: ANN001
    """An account logged in with its password (no second factor yet)."""
    account_id = make_account(PIN, email=EMAIL)
    assert browser.login(PIN).status_code == 303
    return account_id


# --- registration -------------------------------------------------------------------------------------
def test_register_a_key_stores_the_public_key_and_tells_the_owner(app, client, account):
    """§7.1: a verified "none" attestation stores credential id, COSE key, counter, AAGUID, flags; audited, notified."""
    authenticator = SoftAuthenticator(aaguid=bytes(range(16)), backup_eligible=True, backed_up=True)
    before = messages_to(app)
    done = register(client, authenticator, name="  Khóa xanh  ")
    assert done.status_code == 201 and done.get_json()["redirect"] == "/accounts/passkeys"
    [key] = keys(app)
    [(credential_id, soft)] = authenticator.credentials.items()
    assert key.account_id == account and key.name == "Khóa xanh" and key.credential_id == credential_id
    assert key.public_key == soft.cose_key() and key.sign_count == 0
    assert key.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert key.transports == ["usb", "internal"] and key.discoverable is True
    assert key.backup_eligible and key.backed_up and key.user_verified and key.added_acr == ACR_LOW
    assert key.created_at is not None and key.last_used_at is None
    [added] = events(app, "mfa.added")
    assert added.account_id == account and added.data == {"kind": "webauthn", "credential": key.id}
    assert messages_to(app) == before + 1
    listing = client.get("/accounts/passkeys").get_data(as_text=True)
    assert "Khóa xanh" in listing and f"/accounts/passkeys/{key.id}/remove" in listing


def test_the_user_handle_is_random_and_the_personal_id_stays_out_of_it(app, client, account):
    """§14.6.1: user.id is an opaque random handle (never the personal ID), the same for every key."""
    token = page_token(client)
    first = post_json(client, "/accounts/passkeys/options", {}, token).get_json()
    second = post_json(client, "/accounts/passkeys/options", {}, token).get_json()
    handle = from_b64url(first["user"]["id"])
    assert len(handle) == 32 and PIN.encode() not in handle and handle == from_b64url(second["user"]["id"])
    assert first["user"]["name"] == "•••••••••701" and PIN not in json.dumps(first)
    assert first["rp"]["id"] == "localhost" and first["attestation"] == "none"
    assert first["authenticatorSelection"]["residentKey"] == "preferred"
    assert first["challenge"] != second["challenge"] and len(from_b64url(first["challenge"])) == 32
    with app.app_context():
        assert db.session.get(WebAuthnUser, account).user_handle == handle


def test_several_keys_per_account_and_registered_ones_are_excluded(app, client, account):
    """§5.4 excludeCredentials lists the account's keys; the same authenticator cannot register twice."""
    phone, usb = SoftAuthenticator(), SoftAuthenticator()
    assert register(client, phone, name="Phone").status_code == 201
    with pytest.raises(InvalidStateError):
        register(client, phone, name="Phone again")
    assert register(client, usb, name="USB key").status_code == 201
    assert [k.name for k in keys(app)] == ["Phone", "USB key"]
    options = post_json(client, "/accounts/passkeys/options", {}, page_token(client)).get_json()
    assert {from_b64url(c["id"]) for c in options["excludeCredentials"]} == {k.credential_id for k in keys(app)}


def test_a_credential_id_registered_anywhere_is_refused(app, client, browser, make_account, account):
    """§7.1 step 26: a credential id already registered (here: to another account) is refused."""
    first = SoftAuthenticator()
    assert register(client, first).status_code == 201
    stolen_id = keys(app)[0].credential_id
    logout(client)
    make_account(OTHER_PIN, email="other@example.vn")
    browser.login(OTHER_PIN)
    again = register(client, SoftAuthenticator(), credential_id=stolen_id)
    assert again.status_code == 400 and again.get_json()["error"] == "already_registered"
    assert len(keys(app)) == 1


@pytest.mark.parametrize(("bend", "error"), [
    ({"origin": "https://evil.example"}, "wrong_origin"),
    ({"origin": "http://localhost:8080"}, "wrong_origin"),
    ({"rp_id": "evil.example"}, "wrong_rp_id"),
    ({"up": False}, "user_not_present"),
    ({"client_type": "webauthn.get"}, "wrong_type"),
    ({"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "challenge_mismatch"),
    ({"cross_origin": True}, "cross_origin"),
])
def test_a_registration_that_fails_a_check_stores_nothing(app, client, account, bend, error):
    """§7.1 steps 8-15: type, challenge, origin, RP ID hash and user presence are all checked."""
    refused = register(client, SoftAuthenticator(), **bend)
    assert refused.status_code == 400 and refused.get_json()["error"] == error
    assert refused.get_json()["error_description"]
    assert keys(app) == [] and events(app, "mfa.added") == []


def test_registration_needs_a_login_and_a_recent_one(app, client, make_account, browser):
    """Adding a key changes how the account logs in: a live login of at most 10 minutes is needed."""
    assert client.get("/accounts/passkeys").location.startswith("/auth/login?next=")
    token = page_token(client, "/auth/login")
    anonymous = post_json(client, "/accounts/passkeys/options", {}, token)
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "login_required"
    make_account(PIN, email=EMAIL)
    browser.login(PIN)
    token = page_token(client)
    with time_machine.travel(time.time() + 601, tick=False):
        stale = post_json(client, "/accounts/passkeys/options", {}, token)
        assert stale.status_code == 403 and stale.get_json()["error"] == "reauthentication_required"
        assert stale.get_json()["redirect"].startswith("/auth/login?next=")
        assert "Log in again" in client.get("/accounts/passkeys").get_data(as_text=True)


def test_a_registration_challenge_works_once_and_for_five_minutes(app, client, account):
    """§13.4.3: challenges are single use; ours also expire after 5 minutes."""
    token = page_token(client)
    authenticator = SoftAuthenticator()
    options = post_json(client, "/accounts/passkeys/options", {}, token).get_json()
    credential = authenticator.create(options)
    assert post_json(client, "/accounts/passkeys", {"name": "On time", "credential": credential},
                     token).status_code == 201
    again = post_json(client, "/accounts/passkeys", {"name": "Twice", "credential": credential}, token)
    assert again.status_code == 400 and again.get_json()["error"] == "challenge_expired"
    options = post_json(client, "/accounts/passkeys/options", {}, token).get_json()
    credential = SoftAuthenticator().create(options)
    with time_machine.travel(time.time() + 301, tick=False):
        late = post_json(client, "/accounts/passkeys", {"name": "Late", "credential": credential}, token)
        assert late.status_code == 400 and late.get_json()["error"] == "challenge_expired"
        post_json(client, "/accounts/passkeys/options", {}, token)  # a new challenge purges the expired ones
    assert len(keys(app)) == 1
    with app.app_context():
        assert db.session.execute(select(WebAuthnChallenge)).scalars().all()[0].purpose == "register"
        assert len(db.session.execute(select(WebAuthnChallenge)).all()) == 1


# --- second factor after the password -----------------------------------------------------------------
def test_password_then_security_key_logs_in_at_high(app, client, browser, account, make_client):
    """A key with UV after the password: amr pwd+hwk+pin+mfa; a HIGH-verified account gets acr high in the
    ID token (docs/assurance.md; RFC 8176)."""
    verify_high(app)
    authenticator = SoftAuthenticator()
    assert register(client, authenticator).status_code == 201
    logout(client)
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-key", acr_values=ACR_HIGH)
    next_url = query_of(start.location)["next"]
    first = browser.login(PIN, next_url=next_url)
    assert first.status_code == 303 and first.location.endswith("/auth/mfa")
    page = client.get("/auth/mfa")
    options = mfa_options(page)
    assert [from_b64url(c["id"]) for c in options["allowCredentials"]] == [keys(app)[0].credential_id]
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"
    done = submit_form(client, page, credential=json.dumps(authenticator.get(options)))
    assert done.status_code == 303 and done.location == next_url
    final = client.get(done.location)
    claims = decode_with_jwks(client, browser.exchange(query_of(final.location)["code"], client_id,
                                                       secret).get_json()["id_token"])[1]
    assert claims["acr"] == ACR_HIGH and set(claims["amr"]) == {"pwd", "hwk", "pin", "mfa"}
    [key] = keys(app)
    assert key.sign_count == 1 and key.last_used_at is not None


def test_a_key_without_user_verification_proves_hwk_only(app, client, browser, account):
    """UV flag clear (a touch, no PIN): amr has hwk but not pin."""
    authenticator = SoftAuthenticator(uv=False)
    register(client, authenticator)
    logout(client)
    browser.login(PIN)
    assert second_factor(client, authenticator).status_code == 303
    [row] = login_rows(app)
    assert sorted(row.amr) == ["hwk", "mfa", "pwd"]


def test_a_key_of_another_account_is_refused_as_second_factor(app, client, browser, make_account, account):
    """§7.2 step 5: the credential must be one the account registered."""
    mine = SoftAuthenticator()
    register(client, mine)
    logout(client)
    make_account(OTHER_PIN, email="other@example.vn")
    browser.login(OTHER_PIN)
    theirs = SoftAuthenticator()
    register(client, theirs)
    logout(client)
    browser.login(PIN)
    [their_id] = theirs.credentials
    refused = second_factor(client, theirs, credential_id=their_id)
    assert refused.status_code == 401 and 'role="alert"' in refused.get_data(as_text=True)
    assert login_rows(app) == []
    assert events(app, "login.failed")[-1].data == {"method": "webauthn"}


@pytest.mark.parametrize(("bend", "message"), [
    ({"origin": "https://evil.example"}, "another website"),
    ({"rp_id": "evil.example"}, "another website"),
    ({"tamper": True}, "could not be verified"),
    ({"up": False}, "Touch your security key"),
])
def test_a_bad_assertion_on_the_second_step_is_refused(app, client, browser, account, bend, message):
    """§7.2 steps 13-21 on the second step: origin, RP ID hash, UP, signature; the failure counts."""
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    browser.login(PIN)
    refused = second_factor(client, authenticator, **bend)
    assert refused.status_code == 401 and message in refused.get_data(as_text=True)
    assert login_rows(app) == [] and keys(app)[0].sign_count == 0
    assert second_factor(client, authenticator).status_code == 303  # a fresh challenge on the re-shown page


def test_a_cloned_key_on_the_second_step_is_refused_audited_and_notified(app, client, browser, account):
    """§6.1.1 / §7.2 step 22: a counter that does not grow signals a clone: refuse, audit, notify."""
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    copy = authenticator.clone()
    logout(client)
    browser.login(PIN)
    assert second_factor(client, authenticator).status_code == 303  # counter 1
    logout(client)
    browser.login(PIN)
    before = messages_to(app)
    refused = second_factor(client, copy)  # the copy also says 1
    assert refused.status_code == 401 and "copied" in refused.get_data(as_text=True)
    [clone] = events(app, "mfa.clone_suspected")
    assert clone.account_id == account and clone.data == {"kind": "webauthn", "credential": keys(app)[0].id}
    assert messages_to(app) == before + 1 and keys(app)[0].sign_count == 1 and login_rows(app) == []


def test_the_second_step_refuses_garbage_without_a_500(app, client, browser, account):
    register(client, SoftAuthenticator())
    logout(client)
    browser.login(PIN)
    for junk in ["", "not json", "[]", json.dumps({"type": "public-key", "id": "x", "rawId": "x"}), "\u0000"]:
        refused = submit_form(client, client.get("/auth/mfa"), credential=junk)
        assert refused.status_code == 401, junk


# --- passwordless -----------------------------------------------------------------------------------
def test_passwordless_login_with_a_discoverable_credential(app, client, browser, account, make_client):
    """No password: the discoverable credential's userHandle names the account; UV required; HIGH, hwk+pin."""
    verify_high(app)
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", nonce="n-pk", acr_values=ACR_HIGH)
    next_url = query_of(start.location)["next"]
    token = page_token(client, start.location)
    options = post_json(client, "/auth/passkeys/options", {}, token).get_json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    done = post_json(client, "/auth/passkeys/login", {"credential": authenticator.get(options), "next": next_url},
                     token)
    assert done.status_code == 200 and done.get_json() == {"redirect": next_url}
    final = client.get(next_url)
    claims = decode_with_jwks(client, browser.exchange(query_of(final.location)["code"], client_id,
                                                       secret).get_json()["id_token"])[1]
    assert claims["acr"] == ACR_HIGH and set(claims["amr"]) == {"hwk", "pin"}
    assert [e.data for e in events(app, "login.succeeded")][-1]["amr"] == ["hwk", "pin"]


def test_passwordless_goes_only_to_a_local_next(app, client, account):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    done = passkey_login(client, authenticator, next_url="https://evil.example/")
    assert done.get_json() == {"redirect": "/auth/done"}


def test_passwordless_needs_user_verification(app, client, account):
    """§7.2 step 17 with userVerification=required: UV clear is refused."""
    authenticator = SoftAuthenticator(uv=False)
    register(client, authenticator)
    logout(client)
    refused = passkey_login(client, authenticator)
    assert refused.status_code == 401 and refused.get_json()["error"] == "user_verification_required"
    assert login_rows(app) == []
    assert events(app, "login.failed")[-1].data == {"method": "webauthn", "reason": "user_verification_required"}


@pytest.mark.parametrize(("bend", "error"), [
    ({"origin": "https://evil.example"}, "wrong_origin"),
    ({"rp_id": "evil.example"}, "wrong_rp_id"),
    ({"tamper": True}, "signature_invalid"),
    ({"client_type": "webauthn.create"}, "wrong_type"),
    ({"user_handle": b"\x00" * 32}, "unknown_credential"),
    ({"up": False}, "user_not_present"),
    ({"cross_origin": True}, "cross_origin"),
])
def test_passwordless_refuses_every_bent_assertion(app, client, account, bend, error):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    refused = passkey_login(client, authenticator, **bend)
    assert refused.status_code == 401 and refused.get_json()["error"] == error
    assert login_rows(app) == [] and keys(app)[0].sign_count == 0


def test_passwordless_refuses_an_unknown_credential(app, client, account):
    """§7.2 step 5/6: a credential nobody registered names no account."""
    register(client, SoftAuthenticator())
    logout(client)
    stranger = SoftAuthenticator()  # a discoverable key this site never saw
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA",
                     "authenticatorSelection": {"residentKey": "required"}})
    refused = passkey_login(client, stranger)
    assert refused.status_code == 401 and refused.get_json()["error"] == "unknown_credential"
    assert events(app, "login.failed")[-1].account_id is None


def test_a_cloned_passkey_is_refused_audited_and_notified(app, client, account):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    copy = authenticator.clone()
    logout(client)
    assert passkey_login(client, authenticator).status_code == 200
    assert passkey_login(client, authenticator).status_code == 200  # counter 2
    logout(client)
    before = messages_to(app)
    refused = passkey_login(client, copy)  # counter 1
    assert refused.status_code == 401 and refused.get_json()["error"] == "clone_suspected"
    assert len(events(app, "mfa.clone_suspected")) == 1 and messages_to(app) == before + 1
    refused = passkey_login(client, copy, sign_count=2)  # equal is not "grown" either
    assert refused.get_json()["error"] == "clone_suspected"
    assert keys(app)[0].sign_count == 2 and login_rows(app) == []


def test_an_authenticator_without_a_counter_keeps_working(app, client, account):
    """§6.1.1: a counter that stays 0 (synced passkeys) is not a clone signal."""
    authenticator = SoftAuthenticator(counter=False, backup_eligible=True, backed_up=True)
    register(client, authenticator)
    logout(client)
    for _ in range(3):
        assert passkey_login(client, authenticator).status_code == 200
        logout(client)
    assert keys(app)[0].sign_count == 0


def test_a_replayed_assertion_is_refused(app, client, account):
    """§13.4.3: the challenge is used once, even when the old session cookie is sent again."""
    authenticator = SoftAuthenticator(counter=False)
    register(client, authenticator)
    logout(client)
    token = page_token(client, "/auth/login")
    options = post_json(client, "/auth/passkeys/options", {}, token).get_json()
    credential = authenticator.get(options)
    cookie = client.get_cookie("idp_session").value
    assert post_json(client, "/auth/passkeys/login", {"credential": credential}, token).status_code == 200
    logout(client)
    again = post_json(client, "/auth/passkeys/login", {"credential": credential}, page_token(client, "/auth/login"))
    assert again.status_code == 401 and again.get_json()["error"] == "challenge_expired"
    client.set_cookie("idp_session", cookie)  # the cookie that still names the challenge
    again = post_json(client, "/auth/passkeys/login", {"credential": credential}, token)
    assert again.status_code == 401 and again.get_json()["error"] == "challenge_expired"
    assert login_rows(app) == []


def test_a_challenge_belongs_to_the_browser_that_asked(app, client, account):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    options = post_json(client, "/auth/passkeys/options", {}, page_token(client, "/auth/login")).get_json()
    credential = authenticator.get(options)
    thief = app.test_client()
    token = page_token(thief, "/auth/login")
    stolen = post_json(thief, "/auth/passkeys/login", {"credential": credential}, token)
    assert stolen.status_code == 401 and stolen.get_json()["error"] == "challenge_expired"


def test_failed_passkey_logins_lock_the_account_and_notify(app, client, account):
    """The per-account budget of the password and second step (5 failures, then a lockout)."""
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    for _ in range(5):
        assert passkey_login(client, authenticator, tamper=True).status_code == 401
    before = messages_to(app)
    locked = passkey_login(client, authenticator)
    assert locked.status_code == 429 and locked.get_json()["error"] == "login_locked"
    assert events(app, "login.locked_out") and messages_to(app) >= before
    assert login_rows(app) == []


def test_a_locked_account_cannot_log_in_with_a_passkey(app, client, account):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    with app.app_context():
        db.session.get(Account, account).status = "locked"
        db.session.commit()
    refused = passkey_login(client, authenticator)
    assert refused.status_code == 403 and refused.get_json()["error"] == "account_not_active"
    assert login_rows(app) == []


# --- removal -------------------------------------------------------------------------------------
def _remove(client: FlaskClient, key_id: int, token: str | None = None):  # noqa: ANN202
    return client.post(f"/accounts/passkeys/{key_id}/remove", data={"csrf_token": token or page_token(client)})


def test_remove_a_key_is_audited_and_notified(app, client, account):
    register(client, SoftAuthenticator(), name="Old key")
    register(client, SoftAuthenticator(), name="New key")
    old = keys(app)[0]
    before = messages_to(app)
    assert client.post(f"/accounts/passkeys/{old.id}/remove", data={}).status_code == 400  # CSRF
    done = _remove(client, old.id)
    assert done.status_code == 303 and done.location == "/accounts/passkeys"
    assert [k.name for k in keys(app)] == ["New key"]
    [removed] = events(app, "mfa.removed")
    assert removed.account_id == account and removed.data == {"kind": "webauthn", "credential": old.id, "last": False}
    assert messages_to(app) == before + 1


def test_removal_needs_a_recent_login_and_the_owner(app, client, browser, make_account, account):
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    [key] = keys(app)
    logout(client)
    make_account(OTHER_PIN, email="other@example.vn")
    browser.login(OTHER_PIN)
    assert _remove(client, key.id).status_code == 404 and len(keys(app)) == 1
    assert _remove(client, 999999).status_code == 404
    logout(client)
    browser.login(PIN)
    assert second_factor(client, authenticator).status_code == 303
    token = page_token(client)
    with time_machine.travel(time.time() + 601, tick=False):
        stale = _remove(client, key.id, token)
        assert stale.status_code == 303 and stale.location.startswith("/auth/login")
    assert len(keys(app)) == 1 and events(app, "mfa.removed") == []


def test_the_last_second_factor_goes_only_at_the_level_that_added_it(app, client, browser, account):
    """Issue 4 §7: removing the last second factor needs re-authentication at the level that added it."""
    verify_high(app)
    first = SoftAuthenticator()
    register(client, first, name="First")  # added by a password-only (low) session
    logout(client)
    browser.login(PIN)
    assert second_factor(client, first).status_code == 303  # now high
    register(client, SoftAuthenticator(), name="Second")  # added at high
    first_key, second_key = keys(app)
    assert first_key.added_acr == ACR_LOW and second_key.added_acr == ACR_HIGH
    assert _remove(client, first_key.id).status_code == 303  # not the last one
    with app.app_context():
        [row] = db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()
        row.acr = ACR_LOW  # a weaker session
        db.session.commit()
    refused = _remove(client, second_key.id)
    assert refused.status_code == 403 and "last second factor" in refused.get_data(as_text=True)
    assert len(keys(app)) == 1
    with app.app_context():
        [row] = db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()
        row.acr = ACR_HIGH
        db.session.commit()
    assert _remove(client, second_key.id).status_code == 303 and keys(app) == []


def test_the_login_page_partial_carries_what_webauthn_js_needs(app):
    """accounts/passkeys_login_button.html (included by auth/login.html): endpoints, CSRF token, next."""
    from flask import render_template
    from flask_wtf import FlaskForm

    from idp.auth.forms import LoginForm

    with app.test_request_context("/auth/login"):
        form = LoginForm()
        form.next.data = "/oauth2/authorize?x=1"
        page = render_template("accounts/passkeys_login_button.html", form=form, source_form=FlaskForm())
    assert 'action="/auth/passkeys/login" data-webauthn="login"' in page
    assert 'data-options-url="/auth/passkeys/options"' in page and 'name="csrf_token"' in page
    assert 'name="next" value="/oauth2/authorize?x=1"' in page and "data-webauthn-section hidden" in page
    assert 'src="/static/webauthn.js"' in page


@pytest.mark.parametrize("path", ["/accounts/passkeys", "/auth/login", "/auth/mfa"])
def test_the_content_security_policy_lets_webauthn_js_reach_its_json_endpoints(app, client, account, path):
    """webauthn.js calls the ceremony endpoints with fetch(): CSP connect-src must allow 'self'
    (default-src 'none' alone blocks it; checked in Chromium with a virtual authenticator)."""
    register(client, SoftAuthenticator())
    csp = client.get(path).headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp


def test_recovery_codes_do_not_make_the_last_key_not_the_last(app, client, browser, account):
    """Recovery codes only back up the other factors: the last key is still the last one (level rule),
    and the codes go with it."""
    from idp.auth.mfa.recovery import RecoveryCode

    verify_high(app)
    browser.login(PIN)
    register(client, SoftAuthenticator(), name="Only key")
    security = client.get("/accounts/security").get_data(as_text=True)
    made = client.post("/accounts/security/recovery", data={"csrf_token": csrf_from(security)})
    assert made.status_code == 200
    [key] = keys(app)
    with app.app_context():
        [row] = db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()
        row.acr = ACR_LOW
        db.session.commit()
    if key.added_acr != ACR_LOW:
        refused = _remove(client, key.id)
        assert refused.status_code == 403 and "last second factor" in refused.get_data(as_text=True)
        with app.app_context():
            [row] = db.session.execute(select(LoginSession).where(LoginSession.ended_at.is_(None))).scalars().all()
            row.acr = key.added_acr
            db.session.commit()
    assert _remove(client, key.id).status_code == 303 and keys(app) == []
    with app.app_context():
        assert db.session.execute(select(RecoveryCode)).first() is None
