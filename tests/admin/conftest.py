"""Admin console fixtures: staff browsers logged in through the mock source at a chosen level, and
admin API tokens from the client_credentials grant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from idp.accounts.roles import grant_role
from idp.accounts.service import find_account
from idp.extensions import db
from tests.conftest import basic_auth
from tests.conftest import press_source
from tests.conftest import submit_form

STAFF_PINS = iter(f"001188{n:06d}" for n in range(1, 999999))


@pytest.fixture
def staff(app: Flask) -> Callable[..., FlaskClient]:
    """A new browser logged in (mock source, `level`) as an account holding `role` (scope: agency code)."""

    def make(role: str | None, scope: str | None = None, level: str = "high") -> FlaskClient:
        browser = app.test_client()
        pin = next(STAFF_PINS)
        page = press_source(browser)
        done = submit_form(browser, page, personal_id=pin, full_name="Trần Thị Quản Trị", birthdate="1988-05-05",
                           level=level)
        assert done.status_code in (200, 302, 303), done.status_code
        with app.app_context():
            account = find_account(pin)
            assert account is not None
            if role is not None:
                grant_role(account.id, role, scope)
            db.session.commit()
            browser.account_id = account.id  # type: ignore[attr-defined]
        return browser

    return make


@pytest.fixture
def api_token(app: Flask, client: FlaskClient) -> Callable[..., str]:
    """An access token for the admin API carrying `scopes` (client_credentials)."""
    from idp.admin.api_clients import create_api_client

    def make(*scopes: str, agency_code: str | None = None) -> str:
        with app.app_context():
            api_client, secret = create_api_client("Tự động hoá", list(scopes), agency_code)
            db.session.commit()
            client_id = api_client.client_id
        response = client.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": " ".join(scopes)},
                               headers=basic_auth(client_id, secret))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["access_token"]

    return make


@pytest.fixture
def settings_overrides() -> dict:
    # Shorter than the login idle lifetime (1800 s), so the admin limits are what a time jump tests.
    return {"admin": {"session_lifetime": 600, "reauth_seconds": 120}}
