"""Login from a new device (idp/auth/devices.py): a long-lived device cookie, an HMAC of it per
account, an audit event and a notification when an account logs in from a browser it never used."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.accounts.models import Account
from idp.audit import AuditEvent
from idp.auth.devices import COOKIE
from idp.auth.devices import KnownDevice
from idp.auth.devices import remember_device
from idp.extensions import db
from idp.outbox import OutboxMessage
from tests.conftest import PASSWORD
from tests.conftest import BrowserFlow
from tests.conftest import dispose

PIN = "001090044401"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _login(client, identifier: str = PIN, user_agent: str = FIREFOX):  # noqa: ANN001, ANN202
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    return BrowserFlow(client).login(identifier, PASSWORD)


def _device_cookie(response) -> str:  # noqa: ANN001
    [header] = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{COOKIE}=")]
    return header


def _rows(app) -> list[KnownDevice]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(KnownDevice)).scalars())


def _messages(app) -> list[OutboxMessage]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(OutboxMessage)).scalars())


def test_the_device_cookie_is_long_lived_httponly_and_lax(client, make_account):
    make_account(PIN)
    header = _device_cookie(_login(client))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Max-Age=34560000" in header  # 400 days
    assert "Secure" not in header  # http issuer in tests; https gets Secure (below)


def test_the_first_device_is_remembered_quietly_and_a_second_one_is_notified(app, make_account):
    make_account(PIN, email="an@example.vn")
    home = app.test_client()
    assert _login(home).status_code == 303
    assert len(_rows(app)) == 1 and _messages(app) == []  # the account's first device: nothing to compare with
    assert _login(home).status_code == 303  # the same browser again
    assert len(_rows(app)) == 1 and _messages(app) == []
    cafe = app.test_client()
    assert _login(cafe, user_agent="Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 "
                                   "Mobile Safari/537.36").status_code == 303
    [message] = _messages(app)
    assert message.recipient == "an@example.vn" and "login.new_device" in message.body
    assert "Chrome · Android" in message.body
    with app.app_context():
        events = [e for e in db.session.execute(select(AuditEvent)).scalars() if e.event == "login.new_device"]
    assert [e.data["first"] for e in events] == [True, False]


def test_only_an_hmac_of_the_device_id_is_stored(app, client, make_account):
    make_account(PIN)
    value = re.match(rf"{COOKIE}=([^;]+)", _device_cookie(_login(client))).group(1)
    [row] = _rows(app)
    assert len(value) == 43 and value not in row.device_hash and len(row.device_hash) == 64


def test_a_forged_or_malformed_cookie_is_replaced(app, client, make_account):
    make_account(PIN)
    client.set_cookie(COOKIE, "not-a-device-id", domain="localhost")
    header = _device_cookie(_login(client))
    assert "not-a-device-id" not in header
    client.set_cookie(COOKIE, "A" * 3000 + "/../;%00", domain="localhost")
    assert _login(client).status_code == 303


def test_devices_are_per_account(app, client, make_account):
    """One shared browser is a new device for each account that logs in from it."""
    make_account(PIN)
    make_account("001090044402")
    _login(client)
    _login(client, "001090044402")
    assert sorted(r.account_id for r in _rows(app)) == [1, 2]


def test_a_cross_device_login_is_remembered_without_a_second_message(app, make_account):
    """The QR login (amr "mca") sends its own message; no duplicate "new device" one."""
    account_id = make_account(PIN, email="an@example.vn")
    with app.test_request_context("/"), app.app_context():
        account = db.session.get(Account, account_id)
        assert remember_device(account, ["pwd"]) is True  # the first device
        db.session.commit()
    with app.test_request_context("/"), app.app_context():
        assert remember_device(db.session.get(Account, account_id), ["mca"]) is True
        db.session.commit()
    assert len(_rows(app)) == 2 and _messages(app) == []


def test_https_deployments_mark_the_device_cookie_secure(database_url, keys_dir, make_account):
    from idp import create_app
    from tests.conftest import base_settings
    from tests.conftest import csrf_from

    app = create_app(base_settings(database_url, keys_dir, issuer="https://sso.example.vn", proxy_hops=1))
    make_account(PIN)
    client = app.test_client()
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sso.example.vn", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/auth/login", headers=proxy)
    response = client.post("/auth/login", headers={**proxy, "Referer": "https://sso.example.vn/auth/login"},
                           data={"csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": PIN,
                                 "password": PASSWORD})
    assert response.status_code == 303 and "Secure" in _device_cookie(response)
    dispose(app)
