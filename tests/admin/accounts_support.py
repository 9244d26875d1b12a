"""Helpers of the account-area admin tests (tests/admin/test_accounts*.py, test_reviews*.py, test_roles*.py):
admin page forms with the session's CSRF token, admin API calls, a person logged in to several portals
with refresh tokens, linking reviews opened through the real login flow, audit events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.accounts.models import LinkReview
from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc import logout
from tests.conftest import BrowserFlow
from tests.conftest import basic_auth
from tests.conftest import csrf_from
from tests.conftest import press_source
from tests.conftest import submit_form

REASON = "Yêu cầu của người dân qua tổng đài 1900"


def csrf_token(browser: FlaskClient) -> str:
    """The CSRF token of this browser's session (read from a form any logged-in person can open)."""
    return csrf_from(browser.get("/accounts/sessions").get_data(as_text=True))


def post_page(browser: FlaskClient, path: str, prefix: str | None = None, **fields: str) -> Any:
    """POST an admin form; with `prefix`, the fields are the prefixed form's (lock-reason, ...)."""
    token = csrf_token(browser)
    data = {"csrf_token": token, **({f"{prefix}-csrf_token": token} if prefix else {})}
    data.update({(f"{prefix}-{name}" if prefix else name): value for name, value in fields.items()})
    return browser.post(path, data=data)


def english(browser: FlaskClient) -> FlaskClient:
    browser.get("/auth/language/en")
    return browser


def api(client: FlaskClient, token: str, method: str, path: str, body: Any = None) -> Any:
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}}
    if body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, **kwargs)


def events(app: Flask, name: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.execute(select(AuditEvent).where(AuditEvent.event == name)
                                       .order_by(AuditEvent.id)).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def all_audit_text(app: Flask) -> str:
    """Every audit event's data, as one string (to check that no personal data went in)."""
    with app.app_context():
        return " ".join(repr(row.data) for row in db.session.execute(select(AuditEvent)).scalars())


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list:
    """Capture after-response back-channel deliveries instead of starting threads (nothing is sent)."""
    work: list = []
    monkeypatch.setattr(logout, "launch", work.append)
    return work


@dataclass
class PortalLogin:
    client_id: str
    secret: str
    refresh_token: str
    browser: FlaskClient  # the person's browser that logged in to this portal


def log_in_to_portals(app: Flask, pin: str, make_client: Any, names: tuple[str, ...]) -> list[PortalLogin]:
    """The person with `pin` logs in to each portal from its own browser (one session each), consents, and each
    portal keeps a refresh token; every portal has a back-channel logout URI."""
    done = []
    for index, name in enumerate(names):
        client_id, secret = make_client(name=name,
                                        backchannel_logout_uri=f"http://127.0.0.1:9/bc-{index}")
        flow = BrowserFlow(app.test_client())
        params = flow.code_for(pin, client_id, scope="openid profile offline_access")
        tokens = flow.exchange(params["code"], client_id, secret).get_json()
        assert "refresh_token" in tokens, tokens
        done.append(PortalLogin(client_id, secret, tokens["refresh_token"], flow.client))
    return done


def mock_login(app: Flask, browser: FlaskClient | None = None, **fields: str) -> Any:
    """Log in (or, with a logged-in `browser`, add a source) through the mock source with these claims."""
    browser = browser or app.test_client()
    page = press_source(browser)
    fields.setdefault("level", "substantial")
    return submit_form(browser, page, **fields)


def open_reviews(app: Flask) -> list[LinkReview]:
    with app.app_context():
        rows = list(db.session.execute(select(LinkReview).where(LinkReview.status == "open")
                                       .order_by(LinkReview.id)).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def refresh(client: FlaskClient, portal: PortalLogin) -> Any:
    """The portal uses its refresh token (RFC 6749 §6)."""
    return client.post("/oauth2/token", headers=basic_auth(portal.client_id, portal.secret),
                       data={"grant_type": "refresh_token", "refresh_token": portal.refresh_token})


def is_logged_in(browser: FlaskClient) -> bool:
    return browser.get("/accounts/sessions").status_code == 200


def grant_id_of(app: Flask, account_id: int, role: str) -> int:
    """The id of the account's grant of `role`."""
    from idp.accounts.roles import AccountRole

    with app.app_context():
        return db.session.execute(select(AccountRole.id).where(
            AccountRole.account_id == account_id, AccountRole.role == role)).scalar_one()
