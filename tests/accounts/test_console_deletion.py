"""Issue 6, delete-account request: consequences explained, recent login, CSRF and a typed confirmation;
the request logs the person out everywhere (single logout) and is audited and notified; it can be
cancelled while pending; `idp purge` deletes the account and its personal data after the grace period
and keeps the audit trail (ids only)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp import create_app
from idp.accounts.deletion import DeletionRequest
from idp.accounts.deletion import DeletionStatus
from idp.accounts.deletion_page import is_confirmed
from idp.accounts.history import LoginEvent
from idp.accounts.models import Account
from idp.accounts.models import AttributeVerification
from idp.accounts.models import LinkedIdentity
from idp.accounts.models import LoginSession
from idp.accounts.service import find_account
from idp.audit import AuditEvent
from idp.audit import verify_chain
from idp.errors import ConfigError
from idp.extensions import db
from idp.oidc import logout
from idp.oidc.logout import LogoutDelivery
from idp.oidc.models import Consent
from idp.oidc.models import Grant
from tests.accounts.console_support import events
from tests.accounts.console_support import form_token
from tests.accounts.console_support import later
from tests.accounts.console_support import log_in
from tests.accounts.console_support import log_in_with_source
from tests.accounts.console_support import outbox
from tests.conftest import BrowserFlow
from tests.conftest import base_settings
from tests.conftest import csrf_from

PIN = "001090066501"
DAY = 24 * 3600


@pytest.fixture
def launched(monkeypatch):  # noqa: ANN001, ANN201
    """Capture after-response back-channel deliveries instead of starting threads."""
    work: list = []
    monkeypatch.setattr(logout, "launch", work.append)
    return work


def _ask(client, word: str = "DELETE", lang: str = "en"):  # noqa: ANN001, ANN202
    page = client.get("/accounts/delete", headers={"Accept-Language": lang}).get_data(as_text=True)
    return client.post("/accounts/delete", data={"csrf_token": form_token(page, "/accounts/delete"),
                                                 "confirmation": word}, headers={"Accept-Language": lang})


def _request(app) -> DeletionRequest | None:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(DeletionRequest).order_by(DeletionRequest.id.desc())).scalars().first()


def _count(app, model, **where) -> int:  # noqa: ANN001
    with app.app_context():
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.execute(query).scalar()


@pytest.fixture
def two_browsers(app, make_account, make_client, launched):  # noqa: ANN001, ANN201
    """One person logged in on two browsers, each into a portal with a back-channel logout URI."""
    account_id = make_account(PIN, email="xoa@example.vn")
    tax, _ = make_client(name="Cổng Thuế", trusted=True, backchannel_logout_uri="http://127.0.0.1:9/bc-tax")
    land, _ = make_client(name="Cổng Đất đai", trusted=True, backchannel_logout_uri="http://127.0.0.1:9/bc-land")
    first, second = BrowserFlow(app.test_client()), BrowserFlow(app.test_client())
    first.code_for(PIN, tax)
    second.code_for(PIN, land)
    return account_id, first.client, second.client, (tax, land)


def test_the_page_explains_the_consequences_and_asks_for_the_word(client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    html = client.get("/accounts/delete", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "you are logged out everywhere at once" in html and "after 30 days" in html
    assert "audit trail keeps a record" in html and "To confirm, type DELETE" in html
    assert 'name="confirmation"' in html and 'href="/accounts/export"' in html


def test_requesting_ends_every_session_with_single_logout_audits_and_notifies(app, two_browsers, launched):
    account_id, first, second, (tax, land) = two_browsers
    sent = len(outbox(app))
    response = _ask(first)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Your account will be deleted on" in html
    row = _request(app)
    assert (row.account_id, row.status) == (account_id, DeletionStatus.PENDING)
    assert row.scheduled_for - row.requested_at == timedelta(days=30)
    assert _count(app, LoginSession, account_id=account_id, ended_at=None) == 0
    assert first.get("/accounts/").status_code == 303 and second.get("/accounts/").status_code == 303
    with app.app_context():
        deliveries = {(r.client_id, r.status) for r in db.session.execute(select(LogoutDelivery)).scalars()}
        assert {client_id for client_id, _status in deliveries} == {tax, land}
        assert db.session.execute(select(Grant).where(Grant.revoked_at.is_(None))).first() is None
    [event] = events(app, "account.deletion_requested", account_id)
    assert event.data["deletion_id"] == row.id and "xoa@example.vn" not in json.dumps(event.data)
    assert len(outbox(app)) == sent + 1 and "xoa@example.vn" not in outbox(app)[-1]


def test_the_request_can_be_cancelled_while_pending(app, client, make_account):
    account_id = make_account(PIN)
    log_in(client, PIN)
    assert _ask(client).status_code == 200
    log_in(client, PIN)  # logging in still works during the grace period
    home = client.get("/accounts/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Your account will be deleted on" in home
    page = client.get("/accounts/delete", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Keep my account" in page and 'name="confirmation"' not in page
    assert client.post("/accounts/delete/cancel").status_code == 400  # no CSRF token
    response = client.post("/accounts/delete/cancel", data={"csrf_token": form_token(page, "/accounts/delete/cancel")})
    assert response.status_code == 303 and response.location == "/accounts/delete?cancelled=1"
    assert _request(app).status == DeletionStatus.CANCELLED and _request(app).cancelled_at is not None
    assert len(events(app, "account.deletion_cancelled", account_id)) == 1
    again = client.post("/accounts/delete/cancel", data={"csrf_token": form_token(page, "/accounts/delete/cancel")})
    assert again.status_code == 404  # nothing left to cancel
    with later(31 * DAY):
        assert json.loads(app.test_cli_runner().invoke(args=["purge"]).output)["accounts_deleted"] == 0
    assert _count(app, Account, id=account_id) == 1


@pytest.mark.parametrize(("word", "status"), [("", 400), ("delete it", 400), ("KEEP", 400), ("x" * 65, 400)])
def test_a_wrong_or_missing_confirmation_changes_nothing(app, client, make_account, word, status):
    make_account(PIN)
    log_in(client, PIN)
    response = _ask(client, word)
    assert response.status_code == status
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert _request(app) is None and client.get("/accounts/").status_code == 200


def test_csrf_recent_login_and_hostile_input_are_checked(app, client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    assert client.post("/accounts/delete", data={"confirmation": "DELETE"}).status_code == 400
    page = client.get("/accounts/delete").get_data(as_text=True)
    huge = client.post("/accounts/delete", data={"csrf_token": csrf_from(page), "confirmation": "D" * 5000})
    assert huge.status_code == 400
    with later(900):
        stale = client.get("/accounts/delete", headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'name="confirmation"' not in stale and "Confirm it is you" in stale
        response = client.post("/accounts/delete", data={"csrf_token": csrf_from(page), "confirmation": "DELETE"})
        assert response.status_code == 303 and response.location.startswith("/auth/login?next=")
    assert _request(app) is None


def test_business_accounts_are_closed_through_support(app, client, make_account):
    make_account("0100233488", kind="business", full_name="Công ty Thử")
    log_in(client, "0100233488")
    page = client.get("/accounts/delete", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "contact support" in page and 'name="confirmation"' not in page
    token = csrf_from(client.get("/accounts/sessions").get_data(as_text=True))  # a valid token of this session
    response = client.post("/accounts/delete", data={"csrf_token": token, "confirmation": "DELETE"})
    assert response.status_code == 403 and _request(app) is None


def test_purge_deletes_the_account_after_the_grace_period_and_keeps_the_audit_trail(app, client, make_account,
                                                                                  make_client, launched):
    make_account(PIN)
    portal, _ = make_client(trusted=True)
    BrowserFlow(client).code_for(PIN, portal)
    log_in_with_source(client, PIN, level="substantial")
    with app.app_context():
        account_id = find_account(PIN).id
    assert _count(app, LinkedIdentity, account_id=account_id) == 1
    assert _ask(client).status_code == 200
    runner = app.test_cli_runner()
    with later(29 * DAY):  # still within the grace period
        assert json.loads(runner.invoke(args=["purge"]).output)["accounts_deleted"] == 0
    assert _count(app, Account, id=account_id) == 1
    with later(30 * DAY + 60):
        result = runner.invoke(args=["purge"])
    assert result.exit_code == 0 and json.loads(result.output)["accounts_deleted"] == 1
    assert find_account_id(app, PIN) is None
    for model in (AttributeVerification, LinkedIdentity, LoginSession, LoginEvent, Consent, Grant):
        assert _count(app, model, account_id=account_id) == 0, model.__name__
    row = _request(app)
    assert row.status == DeletionStatus.COMPLETED and row.completed_at is not None
    with app.app_context():
        kept = db.session.execute(select(AuditEvent).where(AuditEvent.account_id == account_id)).scalars().all()
        assert {"login.succeeded", "account.deletion_requested", "account.deleted"} <= {e.event for e in kept}
        assert PIN not in json.dumps([e.data for e in kept], default=str)
        assert verify_chain() is None


def find_account_id(app, pin: str) -> int | None:  # noqa: ANN001
    with app.app_context():
        account = find_account(pin)
        return account.id if account else None


def test_a_second_request_while_pending_changes_nothing(app, client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    _ask(client)
    log_in(client, PIN)
    page = client.get("/accounts/delete").get_data(as_text=True)
    assert 'name="confirmation"' not in page
    response = client.post("/accounts/delete", data={"csrf_token": csrf_from(page), "confirmation": "DELETE"})
    assert response.status_code == 303
    assert _count(app, DeletionRequest) == 1


@pytest.mark.parametrize(("typed", "expected"), [("DELETE", True), (" delete ", True), ("Delete", True),
                                                 ("DELETED", False), ("", False), ("DEL ETE", False)])
def test_the_confirmation_word_ignores_case_and_spaces(app, typed, expected):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert is_confirmed(typed) is expected


def test_vietnamese_confirmation_ignores_accents(app, monkeypatch):
    from idp.accounts import deletion_page

    monkeypatch.setattr(deletion_page, "_", lambda text: "XÓA" if text == "DELETE" else text)
    with app.test_request_context():
        assert all(is_confirmed(word) for word in ("XÓA", "xoá", "xoa", "Xóa", "DELETE"))
        assert not is_confirmed("xo")


@pytest.mark.parametrize("key", ["deletion_grace_days", "login_history_days"])
def test_settings_refuse_zero_days(database_url, keys_dir, key):
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, accounts={key: 0}))
    assert info.value.code == f"accounts.{key}"
