"""Helpers of the portal admin tests (tests/admin/test_clients*.py): pending registration requests made
through the real web form and the real RFC 7591 endpoint, admin page forms, outbox messages."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.registration_models import RegistrationRequest
from idp.outbox import OutboxMessage
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from

SUBMITTER_PINS = iter(f"0010909{n:05d}" for n in range(1, 99999))
CONTACT = "cntt@bacninh.gov.vn"


def web_request(app: Flask, make_account: Any, contact: str = CONTACT, name: str = "Cổng Sở Tư pháp Bắc Ninh") -> str:
    """A pending registration request sent through /clients/register by a new logged-in account."""
    browser = app.test_client()
    pin = next(SUBMITTER_PINS)
    make_account(pin)
    assert BrowserFlow(browser).login(pin).status_code == 303
    page = browser.get("/clients/register").get_data(as_text=True)
    response = browser.post("/clients/register", data={
        "csrf_token": csrf_from(page), "portal_name": name, "agency": "UBND tỉnh Bắc Ninh", "contact_email": contact,
        "redirect_uris": "https://tuphap.bacninh.gov.vn/callback", "post_logout_redirect_uris": "",
        "scope_profile": "y", "auth_method": "client_secret_basic"})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    with app.app_context():
        return db.session.execute(select(RegistrationRequest.client_id).order_by(
            RegistrationRequest.created_at.desc())).scalars().first()


def api_request(client: FlaskClient, runner: Any) -> dict:
    """A pending registration request sent through POST /oauth2/register (RFC 7591) with a CLI token."""
    result = runner.invoke(args=["clients", "initial-access-token"])
    token = json.loads(result.output)["initial_access_token"]
    response = client.post("/oauth2/register", headers={"Authorization": f"Bearer {token}"}, json={
        "client_name": "Cổng Sở Xây dựng", "redirect_uris": ["https://xaydung.example.vn/cb"], "scope": "openid"})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_form(browser: FlaskClient, path: str, page: str | None = None, **fields: str) -> Any:
    """POST to an admin page with the session's CSRF token (read from `page`, default any form page)."""
    html = browser.get(page or "/clients/register").get_data(as_text=True)
    return browser.post(path, data={"csrf_token": csrf_from(html), **fields})


def outbox(app: Flask, recipient: str) -> list[str]:
    with app.app_context():
        return list(db.session.execute(select(OutboxMessage.body).where(OutboxMessage.recipient == recipient)
                                       .order_by(OutboxMessage.id)).scalars())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shown_secret(html: str) -> str:
    found = re.search(r'<code id="client-secret">([^<]+)</code>', html)
    assert found, "no secret on the page"
    return found.group(1)
