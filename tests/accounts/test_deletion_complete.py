"""A carried-out deletion is complete (Decree 13/2023/ND-CP on personal data protection, art. 16: the data
subject's data is deleted) and the statistics stay true.

After `idp purge` carries out a deletion no row of any table - found through the SQLAlchemy metadata, so a
table added later is scanned too - holds the person's personal ID, phone number, e-mail or name: the postal
requests and letters go at once (not at their own expiry), the contact e-mail of a portal registration the
person submitted is wiped (the agency's registration stays), and the login history stays for the
statistics, detached and stripped of session, network and device. The statistics dashboard shows the
same logins before and after; nothing of another account is touched.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.accounts.models import LinkedIdentity
from idp.accounts.service import find_account
from idp.audit import AuditEvent
from idp.audit import verify_chain
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import VIETNAM_TIME
from idp.oidc.models import Client
from idp.oidc.registration_models import RegistrationRequest
from idp.verifiers.postal.models import CounterRequest
from idp.verifiers.postal.models import Letter
from tests.accounts.console_support import form_token
from tests.accounts.console_support import later
from tests.accounts.console_support import log_in
from tests.accounts.console_support import log_in_with_source
from tests.conftest import BrowserFlow
from tests.conftest import basic_auth
from tests.conftest import csrf_from
from tests.conftest import press_source
from tests.conftest import submit_form
from tests.verifiers.test_postal_counter import REFERENCE
from tests.verifiers.test_postal_counter import start_source
from tests.verifiers.test_postal_counter import submit

DAY = 24 * 3600
GRACE = 30 * DAY + 60
PERSON = {"pin": "001090055501", "phone": "0912345601", "email": "Xoa.Het@example.vn", "name": "Đặng Thị Xoá"}
OTHER = {"pin": "001090055502", "phone": "0912345602", "email": "con.lai@example.vn", "name": "Lý Văn Còn"}
# How a phone number may be written besides the national form (E.164 with and without "+").
PHONE_FORMS = (lambda p: p, lambda p: "+84" + p[1:], lambda p: "84" + p[1:])


@pytest.fixture
def settings_overrides() -> dict:
    # No development outbox: it stands for mail already delivered (a mailbox, not our records).
    return {"verifiers": {"vnpost": {"kind": "postal_counter", "clerk_min_level": "low"},
                          "letter": {"kind": "postal_letter"}},
            "notifications": {"email": {"kind": "none"}, "sms": {"kind": "none"}}}


def _person(make_account, who: dict[str, str]) -> int:  # noqa: ANN001
    return make_account(who["pin"], full_name=who["name"], email=who["email"], phone=who["phone"],
                        street_address="Số 12 phố Huế", province_code="01", ward_code="00070")


def _browser(app: Flask) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.environ_base["HTTP_USER_AGENT"] = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
                                              "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36")
    return client


def _use_everything(app: Flask, who: dict[str, str], portal: str) -> None:
    """Log in to a portal and with a source, ask for a post office check and a letter, register a portal."""
    client = _browser(app)
    BrowserFlow(client).code_for(who["pin"], portal)
    log_in_with_source(client, who["pin"], level="substantial")
    counter = start_source(client, "vnpost")
    assert counter.status_code == 200 and REFERENCE.search(counter.get_data(as_text=True))
    letter = start_source(client, "letter")
    assert 'value="request"' in letter.get_data(as_text=True)
    assert submit(client, letter, action="request").status_code == 200
    page = client.get("/clients/register").get_data(as_text=True)
    registered = client.post("/clients/register", data={
        "csrf_token": csrf_from(page), "portal_name": "Cổng Sở Tư pháp " + who["pin"][-2:],
        "agency": "UBND tỉnh Bắc Ninh", "contact_email": who["email"], "redirect_uris": "https://portal.example.vn/callback",
        "auth_method": "client_secret_basic"})
    assert registered.status_code == 303, registered.get_data(as_text=True)[:300]


def _ask_deletion(app: Flask, pin: str) -> None:
    client = _browser(app)
    log_in(client, pin)
    page = client.get("/accounts/delete").get_data(as_text=True)
    asked = client.post("/accounts/delete", data={"csrf_token": form_token(page, "/accounts/delete"),
                                                  "confirmation": "DELETE"})
    assert asked.status_code == 200 and "Your account will be deleted on" in asked.get_data(as_text=True)


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


def _needles(who: dict[str, str]) -> dict[str, str]:
    found = {"personal ID": who["pin"], "e-mail": who["email"].lower(), "name": who["name"].lower()}
    found.update({f"phone {form('0')}": form(who["phone"]) for form in PHONE_FORMS})
    return found


def holders(app: Flask, who: dict[str, str]) -> set[tuple[str, str, str]]:
    """(table, column, what) for every value of every table that holds one of the person's identifiers."""
    found = set()
    needles = _needles(who)
    with app.app_context():
        tables = db.metadata.sorted_tables
        # A table created by a migration without a model would escape the scan: there must be none.
        assert set(inspect(db.engine).get_table_names()) - {"alembic_version"} <= {t.name for t in tables}
        for table in tables:
            for row in db.session.execute(select(table)).mappings():
                for column, value in row.items():
                    text = _text(value).lower()
                    found |= {(table.name, column, what) for what, needle in needles.items() if needle.lower() in text}
    return found


def _dashboard(app: Flask, first_day: str) -> dict[str, Any]:
    """The national statistics API, with a token minted now (the clock may have moved)."""
    from idp.admin.api_clients import create_api_client

    with app.app_context():
        api_client, secret = create_api_client("Thống kê", ["admin:national"], None)
        db.session.commit()
        client_id = api_client.client_id
    client = app.test_client()
    token = client.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": "admin:national"},
                        headers=basic_auth(client_id, secret)).get_json()["access_token"]
    today = utcnow().astimezone(VIETNAM_TIME).date().isoformat()
    response = client.get("/admin/api/stats", query_string={"start": first_day, "end": today},
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_json()


def _events(app: Flask) -> dict[int, tuple]:
    with app.app_context():
        return {e.id: (e.account_id, e.at, e.client_id, e.source, e.level, e.province_code, e.sid, e.network, e.device)
                for e in db.session.execute(select(LoginEvent)).scalars()}


def _others(app: Flask, pin: str) -> dict[str, Any]:
    """What the other account has: rows that must all survive someone else's deletion."""
    with app.app_context():
        account = find_account(pin)
        assert account is not None
        requests = db.session.execute(select(CounterRequest.claimed_personal_id)).scalars().all()
        letters = db.session.execute(select(Letter.recipient_name)).scalars().all()
        contacts = db.session.execute(select(RegistrationRequest.contact_email)).scalars().all()
        links = db.session.execute(select(LinkedIdentity.source).where(LinkedIdentity.account_id == account.id))
        return {"links": sorted(links.scalars()), "requests": [r for r in requests if r == pin],
                "letters": [n for n in letters if n == OTHER["name"]],
                "contacts": [c for c in contacts if c == OTHER["email"]]}


def test_purge_leaves_no_trace_of_the_person_and_the_statistics_unchanged(app, make_account, make_client):
    person_id, other_id = _person(make_account, PERSON), _person(make_account, OTHER)
    portal, _ = make_client(name="Cổng Dịch vụ công", trusted=True)
    first_day = (utcnow().astimezone(VIETNAM_TIME).date() - timedelta(days=1)).isoformat()
    _use_everything(app, PERSON, portal)
    _use_everything(app, OTHER, portal)
    _ask_deletion(app, PERSON["pin"])
    # The scan finds the person where the person is: it can fail.
    before = {table for table, _column, _what in holders(app, PERSON)}
    assert {"account", "postal_counter_request", "postal_letter", "registration_request"} <= before
    with app.app_context():
        [registration] = db.session.execute(select(RegistrationRequest).where(
            RegistrationRequest.submitted_by == person_id)).scalars().all()
        theirs = registration.client_id
    kept_for_other = _others(app, OTHER["pin"])
    assert all(kept_for_other.values())

    with later(GRACE):
        # Logins during the grace period, on the day of the purge: counted live from login_event, not rolled up.
        BrowserFlow(_browser(app)).code_for(PERSON["pin"], portal)
        BrowserFlow(_browser(app)).code_for(OTHER["pin"], portal)
        events = _events(app)
        stats = _dashboard(app, first_day)
        result = app.test_cli_runner().invoke(args=["purge"])
        assert result.exit_code == 0 and json.loads(result.output)["accounts_deleted"] == 1, result.output
        after_stats = _dashboard(app, first_day)
    after = _events(app)

    assert holders(app, PERSON) == set()
    # Statistics: the same logins per day, portal, source, province and level.
    assert stats["logins"]["total"] >= 6 and stats["by_province"]
    second_factor, after_second_factor = stats.pop("second_factor"), after_stats.pop("second_factor")
    assert after_stats == stats
    # The second-factor share is about the accounts that exist today, not a past fact: one account fewer.
    assert after_second_factor["active_accounts"] == second_factor["active_accounts"] - 1
    # Login history: every row kept; the person's are detached and hold only time, portal, source, level, province.
    assert after.keys() == events.keys()
    mine = [row_id for row_id, row in events.items() if row[0] == person_id]
    assert len(mine) >= 3 and all(events[row_id][7] for row_id in mine)  # they had a network before
    for row_id, row in events.items():
        if row_id in mine:
            assert after[row_id] == (None, *row[1:6], None, None, None)
        else:
            assert after[row_id] == row
    assert sum(row[0] == other_id for row in after.values()) >= 2
    # The agency's registration stays, without the person's contact.
    with app.app_context():
        kept = db.session.get(RegistrationRequest, theirs)
        assert kept is not None and kept.contact_email is None and kept.submitted_by is None
        assert db.session.get(Client, theirs) is not None
        assert db.session.execute(select(CounterRequest).where(CounterRequest.claimed_personal_id.is_(None),
                                                               CounterRequest.status == "open")).first() is None
        [deleted] = db.session.execute(select(AuditEvent).where(AuditEvent.event == "account.deleted")).scalars().all()
        assert deleted.account_id == person_id and deleted.data["logins_detached"] == len(mine)
        assert deleted.data["source_rows_deleted"] == 2 and deleted.data["registration_contacts_wiped"] == 1
        assert verify_chain() is None
    # Nothing of the other account was lost.
    assert _others(app, OTHER["pin"]) == kept_for_other
    assert {what for _t, _c, what in holders(app, OTHER)} >= {"personal ID", "e-mail", "name", "phone 0"}


def test_history_pages_cope_with_detached_rows(app, make_account, make_client):
    """The console and the admin account page list an account's own rows; detached rows are nobody's."""
    from idp.accounts.roles import NATIONAL_ADMIN
    from idp.accounts.roles import grant_role

    person_id, other_id = _person(make_account, PERSON), _person(make_account, OTHER)
    portal, _ = make_client(name="Cổng Dịch vụ công", trusted=True)
    BrowserFlow(_browser(app)).code_for(PERSON["pin"], portal)
    _ask_deletion(app, PERSON["pin"])
    other = _browser(app)
    BrowserFlow(other).code_for(OTHER["pin"], portal)
    with later(GRACE):
        assert json.loads(app.test_cli_runner().invoke(args=["purge"]).output)["accounts_deleted"] == 1
    with app.app_context():
        detached = db.session.execute(select(LoginEvent).where(LoginEvent.account_id.is_(None))).scalars().all()
        assert portal in {e.client_id for e in detached}
        own = db.session.execute(select(LoginEvent).where(LoginEvent.account_id == other_id)).scalars().all()
        assert own and all(e.device for e in own)
    log_in(other, OTHER["pin"])
    page = other.get("/accounts/history")
    assert page.status_code == 200 and page.get_data(as_text=True).count("Cổng Dịch vụ công") == len(own)
    admin = _browser(app)
    staff = make_account("001090055599")
    with app.app_context():
        grant_role(staff, NATIONAL_ADMIN, None)
        db.session.commit()
    press = press_source(admin)
    assert submit_form(admin, press, personal_id="001090055599", level="high").status_code in (302, 303)
    for account_id, status in ((other_id, 200), (person_id, 404)):
        page = admin.get(f"/admin/accounts/{account_id}")
        assert page.status_code == status, page.get_data(as_text=True)[:300]
    assert "Chrome on Android" in admin.get(f"/admin/accounts/{other_id}").get_data(as_text=True)
