"""Issue 6, Accounts: lock, unlock, end all sessions. Issue 5 §2: "Logout by an admin ... does the same":
ending an account's sessions sends a back-channel logout token to every portal of every session
(OIDC Back-Channel Logout 1.0 §2.4-2.5) and revokes the token families, so refresh tokens stop (RFC 6749 §6)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from idp.accounts.lockout import is_locked
from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.oidc.logout import BACKCHANNEL_EVENT
from idp.oidc.logout import LogoutDelivery
from tests.admin.accounts_support import REASON
from tests.admin.accounts_support import all_audit_text
from tests.admin.accounts_support import api
from tests.admin.accounts_support import english
from tests.admin.accounts_support import events
from tests.admin.accounts_support import is_logged_in
from tests.admin.accounts_support import launched  # noqa: F401 - fixture
from tests.admin.accounts_support import log_in_to_portals
from tests.admin.accounts_support import post_page
from tests.admin.accounts_support import refresh
from tests.conftest import PASSWORD
from tests.conftest import BrowserFlow
from tests.conftest import decode_with_jwks

PIN = "001090051234"
PORTALS = ("Cổng Thuế", "Cổng Đất đai", "Cổng Bảo hiểm xã hội")


@pytest.fixture
def person(app, make_account, make_client, launched):  # noqa: ANN001, ANN201, F811
    """One person logged in to three portals, each from its own browser (three sessions)."""
    account_id = make_account(PIN)
    return account_id, log_in_to_portals(app, PIN, make_client, PORTALS)


def _status(app, account_id: int) -> str:  # noqa: ANN001
    with app.app_context():
        return db.session.get(Account, account_id).status


def _deliveries(app) -> list[LogoutDelivery]:  # noqa: ANN001
    with app.app_context():
        rows = list(db.session.execute(select(LogoutDelivery).order_by(LogoutDelivery.id)).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def _live_sessions(app, account_id: int) -> int:  # noqa: ANN001
    with app.app_context():
        return len(db.session.execute(select(LoginSession).where(
            LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))).all())


def _assert_logged_out_everywhere(app, client, account_id, portals) -> None:  # noqa: ANN001
    """Every session ended; a logout token per portal waits in the outbox; refresh tokens are refused."""
    assert _live_sessions(app, account_id) == 0
    deliveries = _deliveries(app)
    assert sorted(row.client_id for row in deliveries) == sorted(p.client_id for p in portals)
    with app.app_context():
        sids = {row.sid for row in db.session.execute(select(LoginSession)).scalars()}
    for row in deliveries:
        header, claims = decode_with_jwks(client, row.token)
        assert header["typ"] == "logout+jwt" and claims["aud"] == row.client_id
        assert BACKCHANNEL_EVENT in claims["events"] and claims["sid"] == row.sid and "nonce" not in claims
        assert row.sid in sids
    assert len({row.sid for row in deliveries}) == len(portals)  # one session each
    for portal in portals:
        response = refresh(client, portal)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
        assert not is_logged_in(portal.browser)


# --- end all sessions ----------------------------------------------------------------------------------

def test_ending_all_sessions_is_single_logout_to_every_portal(app, client, staff, person, launched):  # noqa: F811
    account_id, portals = person
    for portal in portals:  # working before (and rotated)
        used = refresh(client, portal)
        assert used.status_code == 200
        portal.refresh_token = used.get_json()["refresh_token"]
    admin = staff(NATIONAL_ADMIN)
    response = post_page(admin, f"/admin/accounts/{account_id}/sessions/end", prefix="end", reason=REASON)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/admin/accounts/{account_id}?done=sessions_ended"
    response.close()
    assert len(launched) == 1  # delivery starts after the response, never before it
    _assert_logged_out_everywhere(app, client, account_id, portals)
    assert _status(app, account_id) == "active"  # the person may log in again
    assert BrowserFlow(app.test_client()).login(PIN).status_code == 303
    [event] = events(app, "admin.account.sessions_ended")
    assert event.account_id == admin.account_id and event.data["target_id"] == str(account_id)
    assert event.data["reason"] == REASON and event.data["sessions_ended"] == 3 and event.data["grants_revoked"] == 3
    assert [e.data["reason"] for e in events(app, "logout")] == ["admin"]
    assert is_logged_in(admin)  # the admin's own session goes on
    page = english(admin).get(response.headers["Location"]).get_data(as_text=True)
    assert "All sessions of the account ended" in page


def test_the_api_ends_sessions_the_same_way(app, client, api_token, person):
    account_id, portals = person
    response = api(client, api_token("admin:national"), "POST", f"/admin/api/accounts/{account_id}/sessions/end",
                   {"reason": REASON})
    assert response.status_code == 200
    assert response.get_json() == {"status": "active", "sessions_ended": 3, "grants_revoked": 3,
                                   "login_budget_cleared": False}
    _assert_logged_out_everywhere(app, client, account_id, portals)
    [event] = events(app, "admin.account.sessions_ended")
    assert event.account_id is None and event.data["actor_client"].startswith("admin-")


def test_a_reason_is_required_and_nothing_ends_without_one(app, client, staff, api_token, person):
    account_id, portals = person
    admin = english(staff(NATIONAL_ADMIN))
    for reason, message in (("", "Give a reason"), ("  ", "Give a reason"), ("ab", "3 to 500 characters")):
        response = post_page(admin, f"/admin/accounts/{account_id}/sessions/end", prefix="end", reason=reason)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    token = api_token("admin:national")
    for body in ({}, {"reason": 5}, {"reason": "x" * 501}, {"reason": "ok!", "extra": 1}, {"reason": "a\x00b\x01c"},
                 {"reason": "\u200b\u200b\u200b"}):
        response = api(client, token, "POST", f"/admin/api/accounts/{account_id}/sessions/end", body)
        assert response.status_code == 400, body
        assert set(response.get_json()) == {"error", "error_description"}
    not_json = client.post(f"/admin/api/accounts/{account_id}/sessions/end", data="reason=x",
                           headers={"Authorization": f"Bearer {token}"})
    assert not_json.status_code == 400
    assert _live_sessions(app, account_id) == 3 and _deliveries(app) == []
    assert all(refresh(client, p).status_code == 200 for p in portals)
    assert events(app, "admin.account.sessions_ended") == []


# --- lock and unlock -------------------------------------------------------------------------------------

def test_locking_stops_logins_and_logs_out_everywhere(app, client, staff, person):
    account_id, portals = person
    admin = staff(NATIONAL_ADMIN)
    response = post_page(admin, f"/admin/accounts/{account_id}/lock", prefix="lock", reason=REASON)
    assert response.status_code == 303 and response.headers["Location"].endswith("?done=locked")
    assert _status(app, account_id) == "locked"
    _assert_logged_out_everywhere(app, client, account_id, portals)
    assert BrowserFlow(app.test_client()).login(PIN).status_code != 303
    [event] = events(app, "admin.account.locked")
    assert event.data["before"] == {"status": "active"} and event.data["after"] == {"status": "locked"}
    assert event.data["reason"] == REASON and event.data["sessions_ended"] == 3
    # Locking twice is refused, and said so.
    again = post_page(english(admin), f"/admin/accounts/{account_id}/lock", prefix="lock", reason=REASON)
    assert again.status_code == 409 and "Only an active account can be locked" in again.get_data(as_text=True)


def test_the_helpdesk_unlocks_but_never_locks(app, client, staff, api_token, person):
    account_id, _portals = person
    helpdesk = staff(HELPDESK)
    assert post_page(helpdesk, f"/admin/accounts/{account_id}/lock", prefix="lock", reason=REASON).status_code == 403
    refused = api(client, api_token("admin:helpdesk"), "POST", f"/admin/api/accounts/{account_id}/lock",
                  {"reason": REASON})
    assert refused.status_code == 403 and refused.get_json()["error"] == "insufficient_scope"
    assert _status(app, account_id) == "active"
    page = helpdesk.get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert f"/admin/accounts/{account_id}/lock" not in page and "/sessions/end" not in page
    api(client, api_token("admin:national"), "POST", f"/admin/api/accounts/{account_id}/lock", {"reason": REASON})
    assert f"/admin/accounts/{account_id}/unlock" in helpdesk.get(f"/admin/accounts/{account_id}").get_data(
        as_text=True)
    response = post_page(helpdesk, f"/admin/accounts/{account_id}/unlock", prefix="unlock", reason=REASON)
    assert response.status_code == 303 and _status(app, account_id) == "active"
    assert BrowserFlow(app.test_client()).login(PIN).status_code == 303
    [event] = events(app, "admin.account.unlocked")
    assert event.account_id == helpdesk.account_id
    assert event.data["before"] == {"status": "locked"} and event.data["after"] == {"status": "active"}


def test_unlocking_gives_back_the_failed_login_budget(app, client, staff, api_token, person):
    account_id, _portals = person
    flow = BrowserFlow(app.test_client())
    for _ in range(5):
        flow.login(PIN, password="wrong password here")
    assert flow.login(PIN).status_code != 303  # the right password is refused while the budget is spent
    with app.app_context():
        assert is_locked(PIN)
    page = english(staff(HELPDESK)).get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert "Blocked for a while after too many failed attempts" in page and "Unlock the account" in page
    response = api(client, api_token("admin:helpdesk"), "POST", f"/admin/api/accounts/{account_id}/unlock",
                   {"reason": REASON})
    assert response.status_code == 200
    assert response.get_json() == {"status": "active", "sessions_ended": 0, "grants_revoked": 0,
                                   "login_budget_cleared": True}
    assert BrowserFlow(app.test_client()).login(PIN, password=PASSWORD).status_code == 303
    [event] = events(app, "admin.account.unlocked")
    assert event.data["before"] == {"login_throttled": True} and event.data["after"] == {"login_throttled": False}
    assert PIN not in all_audit_text(app)


def test_nothing_to_unlock_is_a_conflict(app, client, staff, api_token, person):
    account_id, _portals = person
    response = post_page(english(staff(HELPDESK)), f"/admin/accounts/{account_id}/unlock", prefix="unlock",
                         reason=REASON)
    assert response.status_code == 409 and "This account is not locked" in response.get_data(as_text=True)
    refused = api(client, api_token("admin:national"), "POST", f"/admin/api/accounts/{account_id}/unlock",
                  {"reason": REASON})
    assert refused.status_code == 409 and refused.get_json()["error"] == "account_not_locked"
    assert events(app, "admin.account.unlocked") == []


def test_destructive_actions_need_a_very_recent_login_unlock_does_not(app, staff, person):
    account_id, _portals = person
    admin = staff(NATIONAL_ADMIN)
    reauth = app.extensions["idp.settings"].admin.reauth_seconds
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=reauth + 30), tick=False):
        for action, prefix in (("lock", "lock"), ("sessions/end", "end")):
            response = post_page(admin, f"/admin/accounts/{account_id}/{action}", prefix=prefix, reason=REASON)
            assert response.status_code == 303 and "/auth/login" in response.headers["Location"], action
        assert _status(app, account_id) == "active" and _live_sessions(app, account_id) == 3
        fresh = post_page(staff(NATIONAL_ADMIN), f"/admin/accounts/{account_id}/lock", prefix="lock", reason=REASON)
        assert fresh.status_code == 303 and _status(app, account_id) == "locked"  # a fresh login may
        unlocked = post_page(admin, f"/admin/accounts/{account_id}/unlock", prefix="unlock", reason=REASON)
        assert unlocked.status_code == 303 and _status(app, account_id) == "active"


def test_actions_on_missing_accounts_and_without_csrf(app, staff, client, api_token, person):
    account_id, _portals = person
    admin = staff(NATIONAL_ADMIN)
    for number in ("424242", "99999999999999999999"):
        assert post_page(admin, f"/admin/accounts/{number}/lock", prefix="lock", reason=REASON).status_code == 404
        response = api(client, api_token("admin:national"), "POST", f"/admin/api/accounts/{number}/lock",
                       {"reason": REASON})
        assert response.status_code == 404
    assert admin.post(f"/admin/accounts/{account_id}/lock", data={"lock-reason": REASON}).status_code == 400
    assert _status(app, account_id) == "active"


def test_auditors_only_look(app, staff, person):
    account_id, _portals = person
    auditor = staff(AUDITOR)
    page = auditor.get(f"/admin/accounts/{account_id}").get_data(as_text=True)
    assert "/lock" not in page and "/unlock" not in page and "/sessions/end" not in page
    for action, prefix in (("lock", "lock"), ("unlock", "unlock"), ("sessions/end", "end")):
        assert post_page(auditor, f"/admin/accounts/{account_id}/{action}", prefix=prefix,
                         reason=REASON).status_code == 403


def test_nobody_locks_their_own_account(app, staff):
    admin = english(staff(NATIONAL_ADMIN))
    response = post_page(admin, f"/admin/accounts/{admin.account_id}/lock", prefix="lock", reason=REASON)
    assert response.status_code == 409 and "You cannot lock your own account" in response.get_data(as_text=True)
    assert _status(app, admin.account_id) == "active" and is_logged_in(admin)
