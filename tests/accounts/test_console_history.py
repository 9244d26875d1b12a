"""Issue 6, login history (/tmp schema LOGIN_EVENT, idp/accounts/history.py): a row per successful login,
step-up and single sign-on into a portal, with a device label and a masked network but never the raw
User-Agent or address; the page in Vietnam time; `idp purge` keeps `accounts.login_history_days`."""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.accounts.history import source_of
from idp.accounts.service import find_account
from idp.auth.agents import describe_agent
from idp.auth.agents import device_label
from idp.auth.agents import device_parts
from idp.auth.agents import mask_address
from idp.auth.agents import masked_network
from idp.auth.mfa import totp
from idp.dbtypes import utcnow
from idp.extensions import db
from tests.accounts.console_support import CHROME_ANDROID
from tests.accounts.console_support import FIREFOX_WINDOWS
from tests.accounts.console_support import later
from tests.accounts.console_support import log_in
from tests.accounts.console_support import log_in_with_source
from tests.conftest import PASSWORD
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from
from tests.conftest import submit_form

PIN = "001090066301"


def _rows(app) -> list[LoginEvent]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(LoginEvent).order_by(LoginEvent.id)).scalars())


def test_a_password_login_is_recorded_with_device_and_network_only(app, client, make_account):
    account_id = make_account(PIN)
    with app.app_context():
        account = find_account(PIN)
        account.province_code = "01"
        db.session.commit()
    client.environ_base.update(HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR="203.0.113.57")
    log_in(client, PIN)
    [row] = _rows(app)
    assert (row.account_id, row.client_id, row.source, row.level) == (account_id, None, "password", 1)
    assert (row.network, row.device, row.province_code) == ("203.0.113.0/24", "Firefox on Windows", "01")
    assert row.sid and row.at is not None
    stored = " ".join(str(getattr(row, c.name)) for c in LoginEvent.__table__.columns)
    assert "Mozilla" not in stored and "203.0.113.57" not in stored


def test_failed_logins_stay_in_the_audit_trail_only(app, client, make_account):
    make_account(PIN)
    BrowserFlow(client).login(PIN, password="wrong " + PASSWORD)
    assert _rows(app) == []


def test_ipv6_networks_are_masked_to_48_bits(app, client, make_account):
    make_account(PIN)
    client.environ_base.update(REMOTE_ADDR="2001:db8:1:2:3:4:5:6", HTTP_USER_AGENT=CHROME_ANDROID)
    log_in(client, PIN)
    [row] = _rows(app)
    assert (row.network, row.device) == ("2001:db8:1::/48", "Chrome on Android")


def test_a_portal_login_names_the_portal_and_single_sign_on_adds_a_row(app, client, make_account, make_client):
    make_account(PIN)
    tax, _ = make_client(name="Cổng Thuế", agency="Tổng cục Thuế", trusted=True)
    land, _ = make_client(name="Cổng Đất đai", trusted=True)
    flow = BrowserFlow(client)
    flow.code_for(PIN, tax)  # login page, then the code: one row, for the tax portal
    assert [(r.client_id, r.source) for r in _rows(app)] == [(tax, "password")]
    flow.code_for(PIN, land)  # the session is reused: a single sign-on row
    assert [(r.client_id, r.source) for r in _rows(app)] == [(tax, "password"), (land, "sso")]
    flow.code_for(PIN, tax)
    rows = _rows(app)
    assert [(r.client_id, r.source, r.level) for r in rows][-1] == (tax, "sso", 1)
    assert len({r.sid for r in rows}) == 1


def test_a_source_login_and_a_step_up_record_the_source_and_level(app, client, make_account):
    make_account(PIN)
    log_in(client, PIN)
    log_in_with_source(client, PIN, level="high")  # same person, same browser: the session steps up
    rows = _rows(app)
    assert [(r.source, r.level) for r in rows] == [("password", 1), ("mock", 3)]
    assert rows[0].sid == rows[1].sid


def test_second_factor_logins_and_factor_step_ups_are_recorded(app, client, make_account):
    """Password + authenticator app: one row, source "password"; confirming it is you later with the app
    alone (the step-up before a sensitive action): a row with source "totp". The level stays low: no
    source proved this account's identity (docs/assurance.md: the identity level caps the session's)."""
    make_account(PIN)
    with app.app_context():
        row = totp.pending_enrolment(find_account(PIN))
        seed = row.secret()
        totp.activate(row, "Phone", pyotp.TOTP(seed).now(), "urn:vn:gov:sso:loa:low")
        db.session.commit()
    with later(60):  # each code works once: the next ones come from later time steps
        second_step = BrowserFlow(client).login(PIN)
        assert second_step.status_code == 303 and second_step.location.startswith("/auth/mfa")
        done = submit_form(client, client.get(second_step.location), code=pyotp.TOTP(seed).now())
        assert done.status_code == 303
    assert [(r.source, r.level) for r in _rows(app)] == [("password", 1)]
    with later(60 + 900):
        page = client.get("/accounts/sessions").get_data(as_text=True)  # the export page has no form now
        confirm = client.post("/accounts/export", data={"csrf_token": csrf_from(page)})
        assert confirm.location.startswith("/auth/mfa?next=")
        done = submit_form(client, client.get(confirm.location), code=pyotp.TOTP(seed).now())
        assert done.status_code == 303 and done.location == "/accounts/export"
    rows = _rows(app)
    assert [(r.source, r.level) for r in rows] == [("password", 1), ("totp", 1)] and rows[0].sid == rows[1].sid


def test_the_history_page_shows_time_portal_source_level_place_and_device(app, client, make_account, make_client):
    make_account(PIN)
    tax, _ = make_client(name="Cổng Thuế", agency="Tổng cục Thuế", trusted=True)
    client.environ_base.update(HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR="203.0.113.57")
    BrowserFlow(client).code_for(PIN, tax)
    with app.app_context():
        account = find_account(PIN)
        # An older login, at a time that shows the conversion to Vietnam time (UTC+7, next day).
        db.session.add(LoginEvent(at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC), account_id=account.id, sid="old",
                                  client_id=None, source="mock", level=2, network="198.51.100.0/24", device=None))
        db.session.commit()
    html = client.get("/accounts/history", headers={"Accept-Language": "en"}).get_data(as_text=True)
    items = re.findall(r"<li>(.*?)</li>", html.split('<ol class="history">')[1], re.S)
    assert len(items) == 2
    newest, oldest = items
    assert "Cổng Thuế (Tổng cục Thuế)" in newest and "Password" in newest and "low" in newest
    assert "network 203.0.113.0/24" in newest and "Firefox on Windows" in newest and "this session" in newest
    assert "02/03/2026 00:30" in oldest and "Test source" in oldest and "substantial" in oldest
    assert "National sign-on (these account pages)" in oldest and "an unknown browser" in oldest
    vi = client.get("/accounts/history", headers={"Accept-Language": "vi"}).get_data(as_text=True)
    assert "Firefox trên Windows" in vi and "mạng 203.0.113.0/24" in vi  # strings already in the catalogue


def test_the_sessions_page_names_each_session_s_device(app, client, make_account):
    make_account(PIN)
    phone = app.test_client()
    phone.environ_base.update(HTTP_USER_AGENT=CHROME_ANDROID)
    log_in(phone, PIN)
    client.environ_base.update(HTTP_USER_AGENT=FIREFOX_WINDOWS)
    log_in(client, PIN)
    html = client.get("/accounts/sessions", headers={"Accept-Language": "en"}).get_data(as_text=True)
    this, other = html.split("Another browser or device")
    assert "Device: Firefox on Windows" in this and "Device: Chrome on Android" in other


def test_only_the_own_history_is_shown(app, client, make_account):
    make_account(PIN)
    make_account("001090066302")
    other = app.test_client()
    other.environ_base.update(REMOTE_ADDR="198.51.100.9")
    log_in(other, "001090066302")
    log_in(client, PIN)
    html = client.get("/accounts/history").get_data(as_text=True)
    assert "198.51.100.0/24" not in html and html.count("<h2><time") == 1


@pytest.fixture
def settings_overrides() -> dict:
    return {"accounts": {"login_history_days": 30}}


def test_purge_keeps_history_for_the_configured_days(app, runner, make_account):
    account_id = make_account(PIN)
    with app.app_context():
        now = utcnow()
        for age in (40, 29, 1):
            db.session.add(LoginEvent(at=now - timedelta(days=age), account_id=account_id, source="password", level=1))
        db.session.commit()
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["login_events"] == 1
    with app.app_context():
        ages = sorted((now - r.at).days for r in _rows(app))
    assert ages == [1, 29]


def test_history_page_needs_a_live_login_and_refuses_writes(client, make_account):
    make_account(PIN)
    assert client.get("/accounts/history").status_code == 303
    log_in(client, PIN)
    assert client.get("/accounts/history").status_code == 200
    assert client.post("/accounts/history").status_code == 405  # read-only


# --- the shared request description (idp/auth/agents.py) -----------------------------------------
@pytest.mark.parametrize(("agent", "label", "parts"), [
    (FIREFOX_WINDOWS, "Firefox on Windows", ("Firefox", "Windows")),
    (CHROME_ANDROID, "Chrome on Android", ("Chrome", "Android")),
    ("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "Firefox on Linux", ("Firefox", "Linux")),
    ("Mozilla/5.0 (Linux; Android 14)", "Android", ("", "Android")),
    ("Opera/9.80 OPR/100", "Opera", ("Opera", "")),
    ("curl/8.5", None, ("", "")),
    ("<script>alert(1)</script>" * 1000, None, ("", "")),
    ("", None, ("", "")),
])
def test_devices_are_labelled_from_a_fixed_list(agent, label, parts):
    assert device_label(agent) == label
    assert device_parts(label) == parts
    assert describe_agent(agent) == parts


@pytest.mark.parametrize(("address", "stored", "shown"), [
    ("203.0.113.57", "203.0.113.0/24", "203.0.113.*"),
    ("::ffff:203.0.113.57", "203.0.113.0/24", "203.0.113.*"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48", "2001:db8:1::/48"),
    ("not an address", None, ""),
    ("203.0.113.57\r\nX: y", None, ""),
    (None, None, ""),
])
def test_addresses_are_reduced_to_their_network(address, stored, shown):
    assert masked_network(address) == stored
    assert mask_address(address) == shown


@pytest.mark.parametrize(("amr", "source"), [(["pwd"], "password"), (["mfa", "otp", "pwd"], "password"),
                                             (["hwk", "pin"], "passkey"), (["mca"], "qr"), (["otp"], "otp"),
                                             ([], "unknown")])
def test_the_source_is_named_from_the_methods_when_no_source_is_given(amr, source):
    assert source_of(amr) == source
