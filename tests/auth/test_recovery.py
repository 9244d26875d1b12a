"""Account recovery (idp/accounts/recovery.py) and the brute-force budget (idp/accounts/lockout.py):
password reset by SMS code to a verified phone or by e-mail link to a verified address, with no
account enumeration; a reset ends every session and revokes refresh tokens; the change-password
page; e-mail verification; lockout shared by password and reset code, audited and notified."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.models import AttributeVerification
from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.extensions import db
from idp.notify import NoSender
from idp.oidc.models import Grant
from idp.outbox import OutboxMessage
from tests.conftest import PASSWORD
from tests.conftest import BrowserFlow
from tests.conftest import basic_auth
from tests.conftest import csrf_from
from tests.conftest import submit_form

PIN = "001090055501"
OTHER = "001090055502"
UNKNOWN = "001090055599"
NEW_PASSWORD = "sông Hồng chảy về biển 2026"
EN = {"Accept-Language": "en"}


@pytest.fixture
def settings_overrides() -> dict:
    # Three tries per code, below the shared budget of five failures, so both limits can be seen;
    # messages in English, like the pages these tests read.
    return {"recovery": {"code_attempts": 3}, "notifications": {"language": "en"}}


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201 - the conftest client, reading the pages in English
    english = app.test_client()
    english.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return english


def _verified_account(app, make_account, pin: str = PIN, phone: str | None = "0912345678",  # noqa: ANN001
                      email: str | None = None, verify: tuple[str, ...] = ("phone",)) -> int:
    account_id = make_account(pin, phone=phone, email=email)
    with app.app_context():
        account = db.session.get(Account, account_id)
        for attribute in verify:
            source = "viettel" if attribute == "phone" else "email_link"
            account.verifications.append(AttributeVerification(attribute=attribute, source=source, level=1))
        db.session.commit()
    return account_id


def _outbox(app, channel: str | None = None) -> list[OutboxMessage]:  # noqa: ANN001
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if channel:
            query = query.where(OutboxMessage.channel == channel)
        return list(db.session.execute(query).scalars())


def _events(app) -> list[str]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(AuditEvent.event).order_by(AuditEvent.id)).scalars())


def _forgot(client: FlaskClient, identifier: str, **headers: str):  # noqa: ANN202
    page = client.get("/accounts/password/forgot", headers={**EN, **headers})
    return client.post("/accounts/password/forgot", headers={**EN, **headers},
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": identifier})


def _code_from(app) -> str:  # noqa: ANN001
    return re.search(r"\b(\d{6})\b", _outbox(app, "sms")[-1].body).group(1)


def _enter_code(client: FlaskClient, code: str, password: str = NEW_PASSWORD, confirm: str | None = None):  # noqa: ANN202
    page = client.get("/accounts/password/code", headers=EN)
    return client.post("/accounts/password/code", headers=EN, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "code": code, "password": password,
        "confirm": password if confirm is None else confirm})


def _login(client: FlaskClient, identifier: str, password: str):  # noqa: ANN202
    return BrowserFlow(client).login(identifier, password)


def _strip(response) -> str:  # noqa: ANN001
    """The page without its CSRF tokens (they differ per browser)."""
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", response.get_data(as_text=True))


# --- no enumeration -------------------------------------------------------------------------------------
def test_forgot_password_answers_the_same_whoever_asks(app, make_account):
    """The answer (status, location, next page) is the same for an unknown identifier, an account
    without a verified channel and an account with one; only the last receives a message."""
    _verified_account(app, make_account, PIN)
    make_account(OTHER, phone="0987654321", email="self@example.vn")  # self-asserted: not verified
    answers = []
    for identifier in (UNKNOWN, OTHER, PIN):
        client = app.test_client()
        response = _forgot(client, identifier)
        answers.append((response.status_code, response.location, _strip(client.get(response.location,
                                                                                      headers=EN))))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (303, "/accounts/password/code")
    assert "If this account has a verified phone number or e-mail address" in answers[0][2]
    [sms] = _outbox(app)
    assert sms.channel == "sms" and sms.recipient == "0912345678"


def test_wrong_codes_look_the_same_for_unknown_and_known_identifiers(app, make_account):
    _verified_account(app, make_account, PIN)
    known, unknown = app.test_client(), app.test_client()
    _forgot(known, PIN)
    _forgot(unknown, UNKNOWN)
    a, b = _enter_code(known, "000000"), _enter_code(unknown, "000000")
    assert a.status_code == b.status_code == 401
    assert _strip(a) == _strip(b) and "The code is not correct or has expired." in _strip(a)


def test_a_locked_known_account_answers_like_an_unknown_one(app, make_account):
    """Lockout is per identifier typed, account or not: same status and page after the same failures."""
    make_account(PIN)
    known, unknown = app.test_client(), app.test_client()
    for _ in range(5):
        assert _login(known, PIN, "wrong password").status_code == 401
        assert _login(unknown, UNKNOWN, "wrong password").status_code == 401
    a, b = _login(known, PIN, PASSWORD), _login(unknown, UNKNOWN, PASSWORD)
    assert a.status_code == b.status_code == 429
    assert _strip(a).replace(PIN, "ID") == _strip(b).replace(UNKNOWN, "ID")  # the form keeps what was typed


# --- SMS code -------------------------------------------------------------------------------------------
def test_reset_by_sms_code_end_to_end(app, client, make_account):
    account_id = _verified_account(app, make_account, email="an@example.vn")
    _forgot(client, PIN)
    [sms] = _outbox(app, "sms")
    assert "password reset code" in sms.body and "valid 10 minutes" in sms.body  # language: vi default, en msgid
    code = _code_from(app)
    done = _enter_code(client, code)
    assert done.status_code == 303 and done.location == "/accounts/password/done"
    assert "Log in again with the new password" in client.get(done.location, headers=EN).get_data(as_text=True)
    assert _login(app.test_client(), PIN, PASSWORD).status_code == 401
    assert _login(app.test_client(), PIN, NEW_PASSWORD).status_code == 303
    events = _events(app)
    assert "password.reset_requested" in events and "password.reset" in events
    # Notified on the verified channel (the phone) rather than the self-asserted e-mail address.
    [changed] = [m for m in _outbox(app) if "password was changed" in m.body]
    assert changed.channel == "sms" and changed.recipient == "0912345678"
    with app.app_context():
        stored = db.session.get(Account, account_id).password_hash
        assert NEW_PASSWORD not in stored
        codes = [e.data for e in db.session.execute(select(AuditEvent)).scalars()]
        assert not any(code in str(data) for data in codes)  # audit events carry no code


def test_a_code_works_once(app, client, make_account):
    _verified_account(app, make_account)
    _forgot(client, PIN)
    code = _code_from(app)
    assert _enter_code(client, code).status_code == 303
    again = app.test_client()
    _forgot(again, PIN)  # a second request makes a new code; the old one stays burnt
    assert _enter_code(again, code, password="another long phrase 77").status_code == 401


def test_the_code_expires_after_ten_minutes(app, client, make_account):
    _verified_account(app, make_account)
    _forgot(client, PIN)
    code = _code_from(app)
    with time_machine.travel(time.time() + 601, tick=False):
        response = _enter_code(client, code)
    assert response.status_code == 401 and "not correct or has expired" in response.get_data(as_text=True)
    assert _login(app.test_client(), PIN, PASSWORD).status_code == 303


def test_a_code_allows_a_few_tries_then_dies(app, client, make_account):
    """recovery.code_attempts (3 here): after that many wrong codes even the right one is refused."""
    _verified_account(app, make_account)
    _forgot(client, PIN)
    code = _code_from(app)
    for _ in range(3):
        assert _enter_code(client, "000000" if code != "000000" else "111111").status_code == 401
    assert _enter_code(client, code).status_code == 401


def test_the_new_password_follows_the_policy_and_a_refusal_keeps_the_code(app, client, make_account):
    _verified_account(app, make_account)
    _forgot(client, PIN)
    code = _code_from(app)
    common = _enter_code(client, code, password="password123")
    assert common.status_code == 400 and "too common" in common.get_data(as_text=True)
    mine = _enter_code(client, code, password=f"id {PIN}")
    assert mine.status_code == 400 and "must not contain your personal ID" in mine.get_data(as_text=True)
    assert _enter_code(client, code, confirm="something else").status_code == 400
    assert _enter_code(client, code).status_code == 303


def test_an_sms_goes_only_to_a_verified_phone(app, client, make_account):
    make_account(PIN, phone="0912345678")  # typed at registration: self-asserted
    assert _forgot(client, PIN).status_code == 303
    assert _outbox(app) == []
    assert "password.reset_requested" in _events(app)  # audited with no channel


def test_no_reset_for_a_locked_account(app, client, make_account):
    account_id = _verified_account(app, make_account)
    with app.app_context():
        db.session.get(Account, account_id).status = "locked"
        db.session.commit()
    assert _forgot(client, PIN).status_code == 303
    assert _outbox(app) == []


def test_a_code_is_void_once_the_phone_on_file_changes(app, client, make_account):
    account_id = _verified_account(app, make_account)
    _forgot(client, PIN)
    code = _code_from(app)
    with app.app_context():
        db.session.get(Account, account_id).phone = "0900000000"
        db.session.commit()
    assert _enter_code(client, code).status_code == 401


def test_the_code_page_needs_a_request_first(client):
    assert client.get("/accounts/password/code").location == "/accounts/password/forgot"


# --- a reset ends everything the old password opened ---------------------------------------------------
def test_a_reset_ends_sessions_elsewhere_and_revokes_refresh_tokens(app, client, make_account, make_client):
    """A session in another browser stops working; a refresh token issued before the reset is
    invalid_grant at the token endpoint (RFC 6749 §5.2)."""
    _verified_account(app, make_account)
    client_id, secret = make_client(trusted=True)
    other = BrowserFlow(app.test_client())
    params = other.code_for(PIN, client_id)
    tokens = other.exchange(params["code"], client_id, secret).get_json()
    assert other.client.get("/accounts/password").status_code == 200  # logged in over there

    _forgot(client, PIN)
    assert _enter_code(client, _code_from(app)).status_code == 303

    assert other.client.get("/accounts/password").status_code == 303  # back to the login page
    refresh = client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400 and refresh.get_json()["error"] == "invalid_grant"
    userinfo = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    with app.app_context():
        assert all(row.ended_at is not None for row in db.session.execute(select(LoginSession)).scalars())
        assert all(g.revoked_at is not None for g in db.session.execute(select(Grant)).scalars())


def test_a_reset_lifts_the_lockout(app, client, make_account):
    """Proof of a verified channel gives the identifier its failure budget back."""
    _verified_account(app, make_account)
    for _ in range(5):
        _login(app.test_client(), PIN, "wrong password")
    assert _login(app.test_client(), PIN, PASSWORD).status_code == 429
    # The e-mail link needs no guessable secret, so it works while the identifier is locked.
    with app.app_context():
        account = db.session.execute(select(Account).where(Account.identifier == PIN)).scalar_one()
        account.email = "an@example.vn"
        account.verifications.append(AttributeVerification(attribute="email", source="email_link", level=1))
        db.session.commit()
    _forgot(client, PIN)
    link = re.search(r"http://localhost(/accounts/password/reset/\S+)", _outbox(app, "email")[-1].body).group(1)
    assert submit_form(client, client.get(link), password=NEW_PASSWORD, confirm=NEW_PASSWORD).status_code == 303
    assert _login(app.test_client(), PIN, NEW_PASSWORD).status_code == 303


# --- e-mail link ----------------------------------------------------------------------------------------
def _link_from(app) -> str:  # noqa: ANN001
    body = _outbox(app, "email")[-1].body
    return re.search(r"(\S+/accounts/password/reset/\S+)", body).group(1)


def test_reset_by_e_mail_link_end_to_end(app, client, make_account):
    _verified_account(app, make_account, phone=None, email="an@example.vn", verify=("email",))
    _forgot(client, PIN, Host="evil.example")  # a forged Host header never reaches the e-mail
    link = _link_from(app)
    assert link.startswith("http://localhost/accounts/password/reset/")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits
    path = link.removeprefix("http://localhost")
    page = client.get(path, headers=EN)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    assert client.get(path).status_code == 200  # opening it twice (a mail scanner) changes nothing
    done = submit_form(client, page, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 303 and done.location == "/accounts/password/done"
    assert client.get(path).status_code == 400  # single use
    assert _login(app.test_client(), PIN, NEW_PASSWORD).status_code == 303
    with app.app_context():
        stored = [row[0] for row in db.session.execute(select(AuditEvent.data)).all()]
        assert token not in str(stored)


def test_the_link_expires_after_thirty_minutes(app, client, make_account):
    _verified_account(app, make_account, phone=None, email="an@example.vn", verify=("email",))
    _forgot(client, PIN)
    path = _link_from(app).removeprefix("http://localhost")
    with time_machine.travel(time.time() + 1801, tick=False):
        assert client.get(path).status_code == 400


def test_only_the_latest_link_works(app, client, make_account):
    _verified_account(app, make_account, phone=None, email="an@example.vn", verify=("email",))
    _forgot(client, PIN)
    first = _link_from(app).removeprefix("http://localhost")
    _forgot(client, PIN)
    assert client.get(first).status_code == 400
    assert client.get(_link_from(app).removeprefix("http://localhost")).status_code == 200


@pytest.mark.parametrize("token", ["x", "A" * 43, "A" * 500, "..%2F..%2Fetc", "%00"])
def test_bad_tokens_are_refused_without_a_crash(client, token):
    assert client.get(f"/accounts/password/reset/{token}").status_code in (400, 404)
    assert client.post(f"/accounts/password/reset/{token}", data={}).status_code in (400, 404)


def test_both_verified_channels_get_their_message(app, client, make_account):
    _verified_account(app, make_account, email="an@example.vn", verify=("phone", "email"))
    _forgot(client, PIN)
    assert sorted(m.channel for m in _outbox(app)) == ["email", "sms"]


def test_no_e_mail_when_no_sender_is_configured(app, client, make_account):
    app.extensions["idp.notification_senders"] = {"email": NoSender("email"), "sms": NoSender("sms")}
    _verified_account(app, make_account, phone=None, email="an@example.vn", verify=("email",))
    assert _forgot(client, PIN).status_code == 303
    with app.app_context():
        [event] = [e for e in db.session.execute(select(AuditEvent)).scalars() if e.event.startswith("password.")]
        assert event.data["channels"] == []


def test_the_answer_never_waits_for_a_network_sender(app, make_account):
    """Timing says nothing: the SMS gateway is called after the response has been sent."""
    from tests.test_notify import RecordingSender

    gateway = RecordingSender()
    gateway.channel = "sms"
    app.extensions["idp.notification_senders"] = {"email": NoSender("email"), "sms": gateway}
    _verified_account(app, make_account)
    response = _forgot(app.test_client(), PIN)
    assert response.status_code == 303 and gateway.sent == []
    response.close()
    [message] = gateway.sent
    assert message.event == "password.reset_code" and message.recipient == "0912345678"


# --- limits ---------------------------------------------------------------------------------------------
def test_messages_per_identifier_are_limited_silently(app, make_account):
    """recovery.per_identifier (5 per hour): beyond it nothing is sent, and the page is the same."""
    _verified_account(app, make_account)
    for n in range(7):
        response = _forgot(app.test_client(), PIN, REMOTE_ADDR=f"198.51.100.{n}")
        assert response.status_code == 303
    assert len(_outbox(app, "sms")) == 5
    assert "password.reset_throttled" in _events(app)


def test_requests_per_address_are_limited(app, client):
    """recovery.per_ip (20 per hour) for any identifiers: a flood from one address gets 429."""
    statuses = [_forgot(client, f"00109007{n:04d}").status_code for n in range(21)]
    assert statuses[:20] == [303] * 20 and statuses[20] == 429


def test_password_and_reset_code_share_one_budget_and_the_lockout_is_notified_once(app, client, make_account):
    """Issue 4 §6: 2 wrong codes + 3 wrong passwords = the 5 failures that lock the identifier;
    the lockout is audited and the owner is told once per lockout window."""
    _verified_account(app, make_account, email="an@example.vn")
    _forgot(client, PIN)
    code = _code_from(app)
    for _ in range(2):
        assert _enter_code(client, "000000" if code != "000000" else "111111").status_code == 401
    for _ in range(3):
        assert _login(app.test_client(), PIN, "wrong password").status_code == 401
    assert _login(app.test_client(), PIN, PASSWORD).status_code == 429
    locked = _enter_code(client, code)  # the right code waits too
    assert locked.status_code == 429 and "Too many failed attempts" in locked.get_data(as_text=True)
    events = _events(app)
    assert events.count("login.failed") == 5 and events.count("login.locked_out") == 1
    notices = [m for m in _outbox(app) if "too many failed login attempts" in m.body]
    assert len(notices) == 1 and notices[0].recipient == "0912345678"  # the verified channel
    with time_machine.travel(time.time() + 901, tick=False):  # the window passes; a new lockout, a new notice
        for _ in range(5):
            _login(app.test_client(), PIN, "wrong password")
        assert len([m for m in _outbox(app) if "too many failed login attempts" in m.body]) == 2


def test_hostile_forgot_input_is_a_form_error(app, client):
    for identifier in ("", "abc", "1" * 40, "' OR 1=1 --", "<script>"):
        response = _forgot(client, identifier)
        assert response.status_code == 400, identifier
    assert client.post("/accounts/password/forgot", data={"identifier": PIN}).status_code == 400  # no CSRF
    assert _outbox(app) == []


# --- change password ------------------------------------------------------------------------------------
def test_change_password_needs_a_recent_login(app, client, make_account):
    make_account(PIN)
    assert client.get("/accounts/password").location.startswith("/auth/login?next=")
    _login(client, PIN, PASSWORD)
    assert client.get("/accounts/password").status_code == 200
    with time_machine.travel(time.time() + 901, tick=False):
        assert client.get("/accounts/password").location.startswith("/auth/login?next=")


def test_change_password_ends_other_sessions_and_their_tokens_but_keeps_this_one(app, client, make_account,
                                                                                    make_client):
    make_account(PIN, email="an@example.vn")
    client_id, secret = make_client(trusted=True)
    other = BrowserFlow(app.test_client())
    tokens = other.exchange(other.code_for(PIN, client_id)["code"], client_id, secret).get_json()
    _login(client, PIN, PASSWORD)
    page = client.get("/accounts/password", headers=EN)
    done = submit_form(client, page, current=PASSWORD, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert done.status_code == 200 and "Your other sessions have been logged out" in done.get_data(as_text=True)
    assert client.get("/accounts/password").status_code == 200  # this session stays
    assert other.client.get("/accounts/password").status_code == 303  # the other one ended
    refresh = client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.get_json()["error"] == "invalid_grant"
    assert _login(app.test_client(), PIN, NEW_PASSWORD).status_code == 303
    assert "password.changed" in _events(app)
    assert any("was changed" in m.body for m in _outbox(app, "email"))


def test_change_password_checks_the_current_one_against_the_shared_budget(app, client, make_account):
    make_account(PIN)
    _login(client, PIN, PASSWORD)
    page = client.get("/accounts/password", headers=EN)
    wrong = submit_form(client, page, current="not it", password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert wrong.status_code == 401 and "current password is not correct" in wrong.get_data(as_text=True)
    common = submit_form(client, page, current=PASSWORD, password="iloveyou", confirm="iloveyou")
    assert common.status_code == 400 and "too common" in common.get_data(as_text=True)
    for _ in range(4):
        submit_form(client, page, current="not it", password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    locked = submit_form(client, page, current=PASSWORD, password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    assert locked.status_code == 429
    assert _events(app).count("login.failed") == 5


def test_change_password_page_for_an_account_without_a_password(app, client, make_account):
    from idp.auth.session import start_login_session

    account_id = make_account(PIN)
    with app.app_context():
        db.session.get(Account, account_id).password_hash = None
        db.session.commit()

    @app.get("/_test/login")
    def test_login() -> str:
        start_login_session(db.session.get(Account, account_id), "urn:vn:gov:sso:loa:low", ["mock"])
        db.session.commit()
        return "ok"

    client.get("/_test/login")
    page = client.get("/accounts/password", headers=EN)
    assert page.status_code == 200 and "logs in without a password" in page.get_data(as_text=True)


# --- e-mail verification --------------------------------------------------------------------------------
def test_an_e_mail_address_is_verified_by_a_link_and_then_serves_recovery(app, client, make_account):
    make_account(PIN, email="an@example.vn")
    _login(client, PIN, PASSWORD)
    page = client.get("/accounts/email", headers=EN)
    assert "is not verified yet" in page.get_data(as_text=True)
    sent = submit_form(client, page)
    assert sent.status_code == 200 and "We sent a link" in sent.get_data(as_text=True)
    body = _outbox(app, "email")[-1].body
    path = re.search(r"http://localhost(/accounts/email/verify/\S+)", body).group(1)
    other = app.test_client()  # the mailbox may be read in another browser
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    confirm = other.get(path, headers=EN)
    assert confirm.status_code == 200
    assert "E-mail address confirmed" in submit_form(other, confirm).get_data(as_text=True)
    assert other.get(path).status_code == 400  # single use
    assert "email.verified" in _events(app)
    assert "is verified" in client.get("/accounts/email", headers=EN).get_data(as_text=True)
    _forgot(app.test_client(), PIN)
    assert "/accounts/password/reset/" in _outbox(app, "email")[-1].body


def test_an_e_mail_link_is_void_if_the_address_changed(app, client, make_account):
    account_id = make_account(PIN, email="an@example.vn")
    _login(client, PIN, PASSWORD)
    submit_form(client, client.get("/accounts/email"))
    path = re.search(r"http://localhost(/accounts/email/verify/\S+)", _outbox(app, "email")[-1].body).group(1)
    with app.app_context():
        db.session.get(Account, account_id).email = "new@example.vn"
        db.session.commit()
    assert client.get(path).status_code == 400


def test_the_e_mail_page_needs_a_login(client):
    assert client.get("/accounts/email").location.startswith("/auth/login?next=")


def test_a_moving_window_relock_is_audited_but_not_notified_again(app, make_account):
    """Once per lockout window: failures spread over time re-lock as the oldest expire; each lockout
    is audited, the owner hears about it once per `login.lockout_seconds`."""
    make_account(PIN, email="an@example.vn")
    start = time.time()
    with time_machine.travel(start, tick=False):
        _login(app.test_client(), PIN, "wrong password")
    with time_machine.travel(start + 400, tick=False):
        for _ in range(4):
            _login(app.test_client(), PIN, "wrong password")
    with time_machine.travel(start + 901, tick=False):  # the first failure left the window
        assert _login(app.test_client(), PIN, "wrong password").status_code == 401
        assert _login(app.test_client(), PIN, PASSWORD).status_code == 429
    assert _events(app).count("login.locked_out") == 2
    assert len([m for m in _outbox(app) if "temporarily locked" in m.body]) == 1


@pytest.mark.skipif(not __import__("os").environ.get("IDP_TEST_REDIS_URL"), reason="IDP_TEST_REDIS_URL not set")
def test_the_shared_budget_lives_in_redis_across_workers(database_url, keys_dir, make_account):
    """Production keeps counters in Redis: a wrong reset code at one worker and wrong passwords at
    another spend one budget; reset requests per identifier are counted there too."""
    import os

    import redis

    from idp import create_app
    from tests.conftest import base_settings
    from tests.conftest import dispose

    url = os.environ["IDP_TEST_REDIS_URL"]
    redis.Redis.from_url(url).flushdb()
    overrides = {"redis_url": url, "recovery": {"code_attempts": 3}}
    first, second = (create_app(base_settings(database_url, keys_dir, **overrides)) for _ in range(2))
    try:
        _verified_account(first, make_account)
        worker_one = first.test_client()
        _forgot(worker_one, PIN)
        with first.app_context():
            code = re.search(r"\b(\d{6})\b", db.session.execute(select(OutboxMessage.body)).scalar()).group(1)
        for _ in range(2):
            assert _enter_code(worker_one, "000000" if code != "000000" else "111111").status_code == 401
        for _ in range(3):
            assert _login(second.test_client(), PIN, "wrong password").status_code == 401
        assert _login(first.test_client(), PIN, PASSWORD).status_code == 429
        keys = {key.decode() for key in redis.Redis.from_url(url).keys("*")}
        assert any("login-failures" in key for key in keys) and any("reset-requests" in key for key in keys)
        assert not any(PIN in key for key in keys)  # HMAC keys: no identifier in the store
    finally:
        dispose(first)
        dispose(second)


def test_hostile_code_page_input_is_a_form_error(app, client, make_account):
    _verified_account(app, make_account)
    _forgot(client, PIN)
    for code in ("", "12345", "1234567", "abcdef", "1" * 5000, "12 34 56"):
        assert _enter_code(client, code).status_code == 400, code[:10]
    assert client.post("/accounts/password/code", data={"code": "123456", "password": NEW_PASSWORD,
                                                         "confirm": NEW_PASSWORD}).status_code == 400  # no CSRF
    assert "login.failed" not in _events(app)  # malformed input spends no budget


def test_the_pending_identifier_is_not_readable_in_the_cookie(app, client, make_account):
    import base64
    import zlib

    _forgot(client, PIN)
    cookie = client.get_cookie("idp_session").value
    payload = cookie.split(".")[1]  # itsdangerous: [.]payload.timestamp.signature, "." = zlib-compressed
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    text = zlib.decompress(raw) if cookie.startswith(".") else raw
    assert PIN.encode() not in text
    client.set_cookie("idp_session", "garbage", domain="localhost")
    assert client.get("/accounts/password/code").location == "/accounts/password/forgot"
