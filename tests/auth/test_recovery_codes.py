"""Recovery codes (NIST SP 800-63B §5.1.2 look-up secrets): 10 single-use codes shown once, stored as keyed
hashes, a new set invalidates the old one, each use audited and notified; the `recovery` factor backs up the
account's other second factors at /auth/mfa."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.auth.mfa import recovery
from idp.auth.mfa import totp
from idp.errors import VerificationFailed
from idp.extensions import db
from tests.auth.test_totp import add_authenticator
from tests.auth.test_totp import answer
from tests.auth.test_totp import assert_no_secrets_in_audit
from tests.auth.test_totp import audit_events
from tests.auth.test_totp import english_client
from tests.auth.test_totp import frozen_clock
from tests.auth.test_totp import log_in
from tests.auth.test_totp import notified
from tests.auth.test_totp import session_row
from tests.auth.test_totp import set_session
from tests.conftest import csrf_from

PIN = "001090088801"
CODE = re.compile(r"<li><code>([2-9A-HJ-NP-Z]{5}-[2-9A-HJ-NP-Z]{5})</code></li>")


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201 - the conftest client, in English
    return english_client(app)


@pytest.fixture
def clock():  # noqa: ANN201
    yield from frozen_clock()


def generate(client):  # noqa: ANN001, ANN201
    html = client.get("/accounts/security").get_data(as_text=True)
    return client.post("/accounts/security/recovery", data={"csrf_token": csrf_from(html)})


def codes_of(response) -> list[str]:  # noqa: ANN001
    return CODE.findall(response.get_data(as_text=True))


def stored(app, account_id: int) -> list[recovery.RecoveryCode]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(recovery.RecoveryCode).where(
            recovery.RecoveryCode.account_id == account_id)).scalars())


def fresh_login(browser, client) -> None:  # noqa: ANN001
    """Log out, then the password: the account's second step is pending."""
    client.post("/auth/logout", data={"csrf_token": csrf_from(client.get("/auth/logout").get_data(as_text=True))})
    first = browser.login(PIN, next_url="/accounts/security")
    assert first.location.endswith("/auth/mfa")


@pytest.fixture
def enrolled(app, client, browser, make_account, clock):
    """An account with an authenticator app, logged in with password + TOTP; returns (account id, secret)."""
    account_id = make_account(PIN, email="codes@example.vn")
    _id, secret = add_authenticator(app, account_id)
    assert log_in(browser, client, PIN, secret).status_code == 303
    return account_id, secret


def test_ten_codes_shown_once_and_stored_hashed(app, client, enrolled):
    account_id, _secret = enrolled
    page = client.get("/accounts/security").get_data(as_text=True)
    assert "Generate recovery codes" in page
    response = generate(client)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    codes = codes_of(response)
    html = response.get_data(as_text=True)
    assert len(codes) == 10 == len(set(codes)) and "this is the only time they are shown" in html
    assert "\r\n".join(codes) in html  # the plain-text copy
    assert 'download="recovery-codes.txt"' in html
    rows = stored(app, account_id)
    columns = " ".join(f"{r.salt} {r.code_hash}" for r in rows)
    assert len(rows) == 10 and all(len(r.code_hash) == 64 and r.used_at is None for r in rows)
    assert not any(code.replace("-", "") in columns or code in columns for code in codes)
    again = client.get("/accounts/security").get_data(as_text=True)
    assert not any(code in again for code in codes)  # never shown again
    assert "You have 10 of 10 recovery codes left." in again and "Generate new recovery codes" in again
    [event] = [e for e in audit_events(app) if e.event == "mfa.recovery_generated"]
    assert event.account_id == account_id and event.data == {"count": 10, "replaced": 0}
    assert len(notified(app, "mfa.recovery_generated")) == 1
    assert_no_secrets_in_audit(app, *codes, *(c.replace("-", "") for c in codes))


def test_a_code_logs_in_once_audited_and_notified(app, client, browser, enrolled):
    """NIST SP 800-63B §5.1.2.2: a look-up secret is used once; the owner is told and sees how many remain."""
    account_id, _secret = enrolled
    codes = codes_of(generate(client))
    fresh_login(browser, client)
    mfa = client.get("/auth/mfa").get_data(as_text=True)
    assert 'action="/auth/mfa/recovery"' in mfa and "you have 10 left" in mfa
    done = answer(client, "recovery", codes[0].lower())  # any case
    # Logged in; a notice page says how many codes remain before going on.
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "9 codes are left" in page and 'href="/accounts/security"' in page
    assert sorted(session_row(app).amr) == ["mfa", "otp", "pwd"]
    [event] = [e for e in audit_events(app) if e.event == "mfa.recovery_used"]
    assert event.account_id == account_id and event.data["remaining"] == 9 and set(event.data) == {"code_id",
                                                                                                    "remaining"}
    [message] = notified(app, "mfa.recovery_used")
    assert "9" in message and codes[0] not in message
    assert "You have 9 of 10 recovery codes left." in client.get("/accounts/security").get_data(as_text=True)

    fresh_login(browser, client)
    reused = answer(client, "recovery", codes[0])
    assert reused.status_code == 401 and "This recovery code has already been used" in reused.get_data(as_text=True)
    assert used(answer(client, "recovery", codes[1].replace("-", " ")))
    assert [e.data["remaining"] for e in audit_events(app) if e.event == "mfa.recovery_used"] == [9, 8]
    assert_no_secrets_in_audit(app, *codes, *(c.replace("-", "") for c in codes))


def test_a_new_set_invalidates_the_old_one(app, client, browser, enrolled):
    account_id, _secret = enrolled
    old = codes_of(generate(client))
    new = codes_of(generate(client))
    assert len(new) == 10 and not set(old) & set(new)
    assert len(stored(app, account_id)) == 10
    events = [e.data for e in audit_events(app) if e.event == "mfa.recovery_generated"]
    assert events == [{"count": 10, "replaced": 0}, {"count": 10, "replaced": 10}]
    assert len(notified(app, "mfa.recovery_generated")) == 2
    fresh_login(browser, client)
    refused = answer(client, "recovery", old[0])
    assert refused.status_code == 401 and "This recovery code is not correct" in refused.get_data(as_text=True)
    assert used(answer(client, "recovery", new[0]))


@pytest.mark.parametrize(("typed", "message"), [
    ("A" * 200, "A recovery code has 10 letters and digits"),
    ("١٢٣٤٥٦٧٨٩٢", "A recovery code has 10 letters and digits"),
    ("ABCDE-FGH2O", "A recovery code has 10 letters and digits"),  # O and 0 are not in the alphabet
    ("", "A recovery code has 10 letters and digits"),
    ("ABCDE-FGH23", "This recovery code is not correct"),
])
def test_hostile_recovery_input_gets_clear_errors(app, client, browser, enrolled, typed, message):
    codes = codes_of(generate(client))
    fresh_login(browser, client)
    response = answer(client, "recovery", typed)
    assert response.status_code == 401 and message in response.get_data(as_text=True)
    assert all(r.used_at is None for r in stored(app, enrolled[0]))
    assert used(answer(client, "recovery", f"  {codes[3]}  "))


def test_codes_are_only_a_backup_of_another_factor(app, client, browser, make_account, clock):
    """Decision (docs): without an authenticator app or security key there are no codes to make or use."""
    account_id = make_account(PIN, email="codes@example.vn")
    log_in(browser, client, PIN)
    page = client.get("/accounts/security").get_data(as_text=True)
    assert "recovery codes are their backup" in page and "/accounts/security/recovery" not in page
    html = client.get("/auth/logout").get_data(as_text=True)
    refused = client.post("/accounts/security/recovery", data={"csrf_token": csrf_from(html)})
    assert refused.status_code == 400 and stored(app, account_id) == []
    # Codes left over from a removed factor are not offered on their own.
    with app.test_request_context():
        account = db.session.get(Account, account_id)
        recovery.generate(account)
        db.session.commit()
        assert recovery.remaining(account) == 10 and not recovery.FACTOR.is_enrolled(account)
    assert browser.login(PIN, next_url="/accounts/security").location == "/accounts/security"


def test_generating_needs_a_recent_login_and_csrf(app, client, browser, enrolled, clock):
    account_id, secret = enrolled
    assert client.post("/accounts/security/recovery").status_code == 400
    clock.shift(11 * 60)
    response = generate(client)
    assert response.status_code == 303 and response.location == "/auth/mfa?next=/accounts/security"
    assert stored(app, account_id) == []
    clock.shift(totp.PERIOD)
    from tests.auth.test_totp import code_at

    assert answer(client, "totp", code_at(secret), next_url="/accounts/security").status_code == 303
    assert len(codes_of(generate(client))) == 10


def test_codes_of_another_account_do_not_work(app, client, browser, make_account, enrolled):
    other_id = make_account("001090088802", email="other@example.vn")
    add_authenticator(app, other_id)
    with app.test_request_context():
        theirs = recovery.generate(db.session.get(Account, other_id))
        db.session.commit()
    codes_of(generate(client))
    fresh_login(browser, client)
    refused = answer(client, "recovery", theirs[0])
    assert refused.status_code == 401 and "This recovery code is not correct" in refused.get_data(as_text=True)


def test_using_a_code_steps_up_a_live_session(app, client, browser, enrolled):
    """A recovery code also confirms a live session (e.g. before removing a lost phone's authenticator)."""
    codes = codes_of(generate(client))
    set_session(app, auth_time=session_row(app).auth_time.replace(year=2020))
    sid = session_row(app).sid
    assert used(answer(client, "recovery", codes[0], next_url="/accounts/security"))
    assert session_row(app).sid == sid


def test_normalisation_and_display_units():
    assert recovery.display("ABCDEFGH23") == "ABCDE-FGH23"
    assert recovery.normalise(" abcde-fgh23 ") == "ABCDEFGH23"
    assert recovery.normalise("ＡＢＣＤＥ ＦＧＨ２３") == "ABCDEFGH23"  # full-width, folded by NFKC
    for bad in ("ABCDEFGH2", "ABCDEFGH234", "ABCDEFGHI3", "ABCDEFGH1 3", "A" * 33, "ABCDEFGH2\u0663"):
        with pytest.raises(VerificationFailed) as info:
            recovery.normalise(bad)
        assert info.value.code == "recovery_malformed"


def used(response) -> bool:  # noqa: ANN001
    """A code was accepted: the notice page with the remaining count and the way on."""
    return response.status_code == 200 and "left" in response.get_data(as_text=True) and 'class="button"' in \
        response.get_data(as_text=True)
