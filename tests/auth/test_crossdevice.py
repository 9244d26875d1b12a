"""QR cross-device login (idp/auth/crossdevice.py): a logged-in phone logs a computer in.

Two Flask test clients stand for two browsers: `desktop` and `phone` have separate cookie jars.
The computer shows a QR code of {issuer}/auth/qr/<id> and a two-digit number; the phone picks the
same number among three; the computer learns the answer by polling and completes its own login
(RFC 8176 amr "mca", at most substantial: docs/authentication.md, "Cross-device login").
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import time_machine
from sqlalchemy import func
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from idp.accounts.models import LoginSession
from idp.audit import AuditEvent
from idp.auth.crossdevice import CrossDeviceRequest
from idp.auth.crossdevice import describe_agent
from idp.auth.crossdevice import mask_address
from idp.extensions import db
from idp.outbox import OutboxMessage
from tests.conftest import ISSUER
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import press_source
from tests.conftest import query_of
from tests.conftest import submit_form

PIN = "001090077701"
OTHER_PIN = "001090077702"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
DESKTOP_ADDR = "203.0.113.57"
LOW = "urn:vn:gov:sso:loa:low"
SUBSTANTIAL = "urn:vn:gov:sso:loa:substantial"
HIGH = "urn:vn:gov:sso:loa:high"
NOT_FOUND = {"error": "not_found"}


@pytest.fixture
def settings_overrides() -> dict:
    # A small per-address budget, so the creation limit is reachable in a test.
    return {"login": {"per_ip": "5 per minute"}}


def new_browser(app, **environ: str):  # noqa: ANN001, ANN201
    """A browser of its own (its own cookies), reading English pages."""
    client = app.test_client()
    client.environ_base.update({"HTTP_ACCEPT_LANGUAGE": "en", **environ})
    return client


@pytest.fixture
def desktop(app):  # noqa: ANN001, ANN201
    return new_browser(app, HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR=DESKTOP_ADDR)


@pytest.fixture
def phone(app):  # noqa: ANN001, ANN201
    return new_browser(app, HTTP_USER_AGENT="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36",
                       REMOTE_ADDR="198.51.100.9")


# --- helpers ------------------------------------------------------------------------------------
def start(desktop, next_url: str = "", **params: str) -> tuple[str, str]:  # noqa: ANN001
    """Open /auth/qr/start on the computer; return the request id and the computer's page."""
    response = desktop.get("/auth/qr/start?" + urlencode({"next": next_url, **params}))
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    match = re.fullmatch(r"/auth/qr/([A-Za-z0-9_-]{43})/wait", response.location)
    assert match, response.location
    page = desktop.get(response.location)
    assert page.status_code == 200
    return match.group(1), page.get_data(as_text=True)


def shown_number(html: str) -> str:
    return re.search(r'id="crossdevice-number">(\d\d)<', html).group(1)


def qr_address(html: str) -> str:
    return re.search(r'<code class="crossdevice-url">([^<]+)</code>', html).group(1)


def candidates(html: str) -> list[str]:
    return re.findall(r'name="number" value="(\d\d)"', html)


def log_in_phone(phone, identifier: str = PIN) -> None:  # noqa: ANN001
    assert BrowserFlow(phone).login(identifier).status_code == 303


def answer(phone, request_id: str, number: str | None = None, decision: str | None = None):  # noqa: ANN001, ANN201
    """Open the phone page (scan) and press one number (or Cancel)."""
    page = phone.get(f"/auth/qr/{request_id}")
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    data = {"csrf_token": csrf_from(page.get_data(as_text=True))}
    if number is not None:
        data["number"] = number
    if decision is not None:
        data["decision"] = decision
    return phone.post(f"/auth/qr/{request_id}/confirm", data=data)


def status_of(client, request_id: str):  # noqa: ANN001, ANN201
    return client.get(f"/auth/qr/{request_id}/status")


def complete(desktop, request_id: str, html: str):  # noqa: ANN001, ANN201
    return desktop.post(f"/auth/qr/{request_id}/complete", data={"csrf_token": csrf_from(html)})


def events(app) -> list[AuditEvent]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def sessions(app) -> list[LoginSession]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(LoginSession).order_by(LoginSession.created_at)).scalars())


def a_wrong(number: str, offered: list[str]) -> str:
    return next(candidate for candidate in offered if candidate != number)


# --- the whole flow -----------------------------------------------------------------------------
def test_phone_logs_the_computer_in_and_the_portal_gets_a_code(app, desktop, phone, make_account, make_client):
    """Issue 4 item 4: QR on the computer, portal and computer shown on the phone, number matching,
    polling, then the computer's own session (amr mca) reaches the portal's code."""
    make_account(PIN, email="owner@example.vn")
    client_id, secret = make_client(name="Cổng Dịch vụ công", agency="Bộ Tài chính", trusted=True)
    browser = BrowserFlow(desktop)
    authorize = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                                  redirect_uri="https://portal.example.vn/callback", nonce="n-qr", state="s-qr")
    assert authorize.status_code == 302 and urlsplit(authorize.location).path == "/auth/login"
    next_url = query_of(authorize.location)["next"]

    request_id, html = start(desktop, next_url)
    number = shown_number(html)
    assert qr_address(html) == f"{ISSUER}/auth/qr/{request_id}"  # nothing but the issuer and a random id
    assert '<svg aria-hidden="true"' in html and "Cổng Dịch vụ công" in html
    assert '<script src="/static/crossdevice.js">' in html and "Check now" in html  # polls; works without JS too
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}

    log_in_phone(phone)
    page = phone.get(urlsplit(qr_address(html)).path)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Cổng Dịch vụ công" in text and "Bộ Tài chính" in text  # which portal asks
    assert "Firefox on Windows" in text and "203.0.113.*" in text and DESKTOP_ADDR not in text  # which computer
    offered = candidates(text)
    assert len(offered) == 3 == len(set(offered)) and number in offered

    done = answer(phone, request_id, number)
    assert done.status_code == 200 and "computer will be logged in" in done.get_data(as_text=True)
    assert status_of(desktop, request_id).get_json() == {"status": "approved"}
    assert status_of(desktop, request_id).headers["Cache-Control"] == "no-store"

    finished = complete(desktop, request_id, html)
    assert finished.status_code == 303 and finished.location == next_url
    code = query_of(desktop.get(finished.location).location)
    assert code["state"] == "s-qr"
    tokens = browser.exchange(code["code"], client_id, secret).get_json()
    claims = decode_with_jwks(desktop, tokens["id_token"])[1]
    assert claims["acr"] == LOW and claims["amr"] == ["mca"]  # a password-only phone session: low

    desktop_session, phone_session = sorted(sessions(app), key=lambda row: row.amr == ["pwd"])
    assert desktop_session.sid != phone_session.sid and phone_session.ended_at is None
    names = [e.event for e in events(app)]
    for name in ("crossdevice.started", "crossdevice.scanned", "crossdevice.approved", "crossdevice.completed"):
        assert names.count(name) == 1, name
    for event in events(app):  # ids only: no number, no request id, no address
        blob = repr(event.data)
        assert request_id not in blob and DESKTOP_ADDR not in blob and f"'{number}'" not in blob
    with app.app_context():
        [message] = db.session.execute(select(OutboxMessage)).scalars().all()
        assert message.recipient == "owner@example.vn" and "login.cross_device" in message.body
        assert "Firefox · Windows · 203.0.113.*" in message.body
        stored = db.session.execute(select(CrossDeviceRequest)).scalar_one()
        assert stored.token_hash != request_id and request_id not in repr(stored.__dict__)


def test_a_high_phone_session_gives_the_computer_at_most_substantial(app, desktop, phone):
    """A cross-device login can be relayed (the QR code and the number can be copied to a phishing
    page), so it resists phishing poorly: it never gives high, whatever the phone's session had."""
    page = press_source(phone, "mock")
    submit_form(phone, page, personal_id=PIN, full_name="Nguyễn Văn Cao", birthdate="1990-01-01", level="high")
    assert sessions(app)[0].acr == HIGH

    request_id, html = start(desktop)
    text = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    assert "the national login page" in text  # no portal in `next`
    answer(phone, request_id, shown_number(html))
    finished = complete(desktop, request_id, html)
    assert finished.status_code == 303 and finished.location == "/auth/done"
    desktop_session = next(row for row in sessions(app) if row.amr == ["mca"])
    assert desktop_session.acr == SUBSTANTIAL
    assert "You are logged in" in desktop.get("/auth/done").get_data(as_text=True)


def test_a_portal_asking_for_high_is_not_offered_a_cross_device_login(app, desktop):
    response = desktop.get("/auth/qr/start?" + urlencode({"next": "/auth/done", "acr": HIGH}))
    assert response.status_code == 403 and "higher level" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(CrossDeviceRequest)).scalar() == 0


def test_a_phone_session_below_the_portals_level_cannot_approve(app, desktop, phone, make_account):
    """docs/assurance.md: the session must reach the level asked for; a low phone session cannot
    approve a substantial request: the phone is offered to confirm its identity first."""
    make_account(PIN)
    request_id, html = start(desktop, "/auth/done", acr=SUBSTANTIAL)
    log_in_phone(phone)
    page = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    assert "higher level of assurance" in page and candidates(page) == []
    assert f'href="/auth/login?acr={SUBSTANTIAL}&amp;next=/auth/qr/{request_id}"' in page
    refused = phone.post(f"/auth/qr/{request_id}/confirm",
                         data={"csrf_token": csrf_from(page), "number": shown_number(html)})
    assert refused.status_code == 403
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}


# --- the number must match ------------------------------------------------------------------------
def test_a_wrong_number_cancels_the_request(app, desktop, phone, make_account):
    """Number matching defeats blind approval: one wrong pick cancels (audited), nothing logs in."""
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    offered = candidates(phone.get(f"/auth/qr/{request_id}").get_data(as_text=True))
    wrong = answer(phone, request_id, a_wrong(shown_number(html), offered))
    assert wrong.status_code == 403 and "did not match" in wrong.get_data(as_text=True)
    assert status_of(desktop, request_id).get_json() == {"status": "denied"}
    outcome = complete(desktop, request_id, html)
    assert outcome.status_code == 410 and "cancelled" in outcome.get_data(as_text=True)
    # The right number afterwards changes nothing.
    assert phone.get(f"/auth/qr/{request_id}").status_code == 410
    [denied] = [e for e in events(app) if e.event == "crossdevice.denied"]
    assert denied.data["reason"] == "number_mismatch" and denied.account_id is not None
    assert [row.amr for row in sessions(app)] == [["pwd"]]  # only the phone's own session


def test_the_phone_can_refuse(app, desktop, phone, make_account):
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    refused = answer(phone, request_id, decision="deny")
    assert refused.status_code == 200 and "not logged in" in refused.get_data(as_text=True)
    assert status_of(desktop, request_id).get_json() == {"status": "denied"}
    assert [e.data["reason"] for e in events(app) if e.event == "crossdevice.denied"] == ["declined"]


# --- time -----------------------------------------------------------------------------------------
def test_the_qr_code_expires_after_two_minutes(app, desktop, phone, make_account):
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    page = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=121), tick=False):
        assert status_of(desktop, request_id).get_json() == {"status": "expired"}
        late = phone.post(f"/auth/qr/{request_id}/confirm",
                          data={"csrf_token": csrf_from(page), "number": shown_number(html)})
        assert late.status_code == 410
        assert phone.get(f"/auth/qr/{request_id}").status_code == 410
        assert complete(desktop, request_id, html).status_code == 410
        assert desktop.get(f"/auth/qr/{request_id}/wait").status_code == 410
    assert not [e for e in events(app) if e.event == "crossdevice.approved"]


def test_an_approval_must_be_collected_promptly(app, desktop, phone, make_account):
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    answer(phone, request_id, shown_number(html))
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=31), tick=False):
        assert status_of(desktop, request_id).get_json() == {"status": "expired"}
        assert complete(desktop, request_id, html).status_code == 410
    assert len(sessions(app)) == 1


# --- once, by one phone, for one computer ------------------------------------------------------
def test_the_request_completes_once(app, desktop, phone, make_account):
    """A copy of the computer's cookie (a second tab, a replay) cannot complete a second login."""
    make_account(PIN)
    request_id, html = start(desktop)
    copy = new_browser(app)
    copy.set_cookie("idp_session", desktop.get_cookie("idp_session").value, domain="localhost")
    log_in_phone(phone)
    answer(phone, request_id, shown_number(html))
    assert complete(desktop, request_id, html).status_code == 303
    replay = complete(copy, request_id, html)
    assert replay.status_code == 410 and "already used" in replay.get_data(as_text=True)
    # The computer that completed no longer holds the secret: the request is unknown to it now.
    assert complete(desktop, request_id, html).status_code in (400, 404)
    assert status_of(desktop, request_id).status_code == 404
    assert status_of(copy, request_id).get_json() == {"status": "expired"}
    assert [e.event for e in events(app)].count("crossdevice.completed") == 1
    assert len([row for row in sessions(app) if row.amr == ["mca"]]) == 1


def test_two_completions_racing_log_in_once(app, desktop, phone, make_account, monkeypatch):
    """Both requests read the row as approved before either wrote (two tabs at the same instant):
    the compare-and-set on the row lets one of them log in."""
    make_account(PIN)
    request_id, html = start(desktop)
    copy = new_browser(app)
    copy.set_cookie("idp_session", desktop.get_cookie("idp_session").value, domain="localhost")
    log_in_phone(phone)
    answer(phone, request_id, shown_number(html))
    monkeypatch.setattr(CrossDeviceRequest, "public_status", lambda self, now: "approved")  # the stale read
    assert complete(desktop, request_id, html).status_code == 303
    assert complete(copy, request_id, html).status_code == 410
    assert len([row for row in sessions(app) if row.amr == ["mca"]]) == 1


def test_a_second_phone_is_refused(app, desktop, phone, make_account):
    make_account(PIN)
    make_account(OTHER_PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    first = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    second = new_browser(app)
    log_in_phone(second, OTHER_PIN)
    refused = second.get(f"/auth/qr/{request_id}")
    assert refused.status_code == 409 and "already scanned" in refused.get_data(as_text=True)
    assert shown_number(html) not in candidates(refused.get_data(as_text=True))
    csrf = csrf_from(second.get("/auth/login").get_data(as_text=True))
    stolen = second.post(f"/auth/qr/{request_id}/confirm", data={"csrf_token": csrf, "number": shown_number(html)})
    assert stolen.status_code == 409
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}
    # The first phone can still answer.
    ok = phone.post(f"/auth/qr/{request_id}/confirm", data={"csrf_token": csrf_from(first),
                                                            "number": shown_number(html)})
    assert ok.status_code == 200
    assert [e.data["reason"] for e in events(app) if e.event == "crossdevice.refused"] == ["already_scanned"] * 2


def test_another_browser_learns_nothing_from_polling(app, desktop, phone, make_account):
    """The request is bound to the computer's cookie secret; any other browser gets one answer,
    the same as for an id that does not exist."""
    make_account(PIN)
    request_id, html = start(desktop)
    stranger = new_browser(app)
    unknown = "A" * 43
    for client, rid in ((stranger, request_id), (stranger, unknown), (desktop, unknown)):
        response = status_of(client, rid)
        assert response.status_code == 404 and response.get_json() == NOT_FOUND
    assert stranger.get(f"/auth/qr/{request_id}/wait").status_code == 404
    stranger_csrf = csrf_from(stranger.get("/auth/login").get_data(as_text=True))
    assert stranger.post(f"/auth/qr/{request_id}/complete", data={"csrf_token": stranger_csrf}).status_code == 404
    log_in_phone(phone)
    answer(phone, request_id, shown_number(html))
    response = status_of(stranger, request_id)  # approved now, still nothing to see
    assert response.status_code == 404 and response.get_json() == NOT_FOUND
    assert stranger.post(f"/auth/qr/{request_id}/complete", data={"csrf_token": stranger_csrf}).status_code == 404
    assert len(sessions(app)) == 1


def test_a_phone_without_a_session_logs_in_first_and_comes_back(app, desktop, phone, make_account):
    make_account(PIN)
    request_id, html = start(desktop)
    sent = phone.get(f"/auth/qr/{request_id}")
    assert sent.status_code == 303
    assert urlsplit(sent.location).path == "/auth/login"
    assert query_of(sent.location)["next"] == f"/auth/qr/{request_id}"
    back = BrowserFlow(phone).login(PIN, next_url=query_of(sent.location)["next"])
    assert back.status_code == 303 and back.location == f"/auth/qr/{request_id}"
    assert answer(phone, request_id, shown_number(html)).status_code == 200


# --- limits ---------------------------------------------------------------------------------------
def test_creation_is_limited_per_address(app, desktop):
    for _ in range(5):
        start(desktop)
    assert desktop.get("/auth/qr/start").status_code == 429
    other = new_browser(app, REMOTE_ADDR="192.0.2.1")
    assert other.get("/auth/qr/start").status_code == 303


def test_decisions_are_limited_per_account(app, phone, make_account):
    make_account(PIN)
    log_in_phone(phone)
    for n in range(6):
        desktop = new_browser(app, REMOTE_ADDR=f"192.0.2.{n + 1}")
        request_id, _html = start(desktop)
        response = answer(phone, request_id, decision="deny")
        assert response.status_code == (200 if n < 5 else 429)
    assert [e.data["reason"] for e in events(app) if e.event == "crossdevice.refused"] == ["rate_limited"]


# --- hostile input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad_id", ["A" * 5000, "A" * 44, "A" * 42, "%00" * 20, "..%2F..%2Fetc", "ắ" * 43])
def test_malformed_ids_are_unknown(app, desktop, phone, make_account, bad_id):
    make_account(PIN)
    log_in_phone(phone)
    _request_id, html = start(desktop)
    status = status_of(desktop, bad_id)
    assert status.status_code == 404
    assert status.get_json() in (NOT_FOUND, None)  # None: an encoded "/" leaves the route (a 404 page)
    assert desktop.get(f"/auth/qr/{bad_id}/wait").status_code == 404
    assert phone.get(f"/auth/qr/{bad_id}").status_code == 404
    csrf = csrf_from(html)
    assert desktop.post(f"/auth/qr/{bad_id}/complete", data={"csrf_token": csrf}).status_code in (404, 405)


@pytest.mark.parametrize("number", ["", "1", "123", "١٢", "a1", "-1", " 12"])
def test_the_phone_form_refuses_malformed_numbers(app, desktop, phone, make_account, number):
    make_account(PIN)
    request_id, _html = start(desktop)
    log_in_phone(phone)
    page = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    response = phone.post(f"/auth/qr/{request_id}/confirm", data={"csrf_token": csrf_from(page), "number": number})
    assert response.status_code == 400
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}


def test_json_bodies_and_repeated_fields_are_refused_without_a_crash(app, desktop, phone, make_account):
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    page = phone.get(f"/auth/qr/{request_id}").get_data(as_text=True)
    for body in ("{bad json", '{"number": "12"}', "[]" * 10000):
        assert phone.post(f"/auth/qr/{request_id}/confirm", data=body,
                          content_type="application/json").status_code == 400
        assert desktop.post(f"/auth/qr/{request_id}/complete", data=body,
                            content_type="application/json").status_code == 400
    repeated = phone.post(f"/auth/qr/{request_id}/confirm",
                          data=MultiDict([("csrf_token", csrf_from(page)), ("number", "12"), ("number", "34")]))
    assert repeated.status_code == 400
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}
    assert status_of(desktop, request_id + "?x=" + "y" * 5000).status_code == 400


def test_the_phones_confirmation_needs_its_csrf_token(app, desktop, phone, make_account):
    """A page elsewhere cannot make the phone approve (CSRF on the confirm POST)."""
    make_account(PIN)
    request_id, html = start(desktop)
    log_in_phone(phone)
    phone.get(f"/auth/qr/{request_id}")
    forged = phone.post(f"/auth/qr/{request_id}/confirm", data={"number": shown_number(html)})
    assert forged.status_code == 400
    assert phone.post(f"/auth/qr/{request_id}/confirm",
                      data={"csrf_token": "forged", "number": shown_number(html)}).status_code == 400
    assert status_of(desktop, request_id).get_json() == {"status": "pending"}
    assert desktop.post(f"/auth/qr/{request_id}/complete").status_code == 400


def test_check_now_before_the_phone_answered_goes_back_to_the_qr_code(app, desktop):
    """Without JavaScript the button is the poll: pending → the same QR page again (303, no resubmit)."""
    request_id, html = start(desktop)
    response = complete(desktop, request_id, html)
    assert response.status_code == 303 and response.location == f"/auth/qr/{request_id}/wait"
    assert shown_number(desktop.get(response.location).get_data(as_text=True)) == shown_number(html)


def test_the_polling_script_is_served_from_our_origin(client):
    with client.get("/static/crossdevice.js") as script:
        assert script.status_code == 200 and b"crossdevice-complete" in script.data and b"http" not in script.data


# --- units -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("agent", "expected"), [
    (FIREFOX_WINDOWS, ("Firefox", "Windows")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
     ("Safari", "macOS")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0",
     ("Edge", "Windows")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", ("Chrome", "Linux")),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/131.0 Safari/537.36", ("Chrome", "ChromeOS")),
    ("curl/8.5", ("", "")),
    ("<script>alert(1)</script>" * 100, ("", "")),
    ("", ("", "")),
])
def test_the_computer_is_described_with_names_from_a_fixed_list(agent, expected):
    assert describe_agent(agent) == expected


@pytest.mark.parametrize(("address", "expected"), [
    ("203.0.113.57", "203.0.113.*"),
    ("::ffff:203.0.113.57", "203.0.113.*"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1::/48"),
    ("not an address", ""),
    (None, ""),
])
def test_addresses_are_masked_to_the_network(address, expected):
    assert mask_address(address) == expected


@pytest.mark.parametrize(("acr", "offered"), [(None, True), ("", True), (LOW, True), (SUBSTANTIAL, True),
                                              (HIGH, False), ("nonsense", True)])
def test_the_login_page_can_ask_whether_to_offer_the_phone(app, acr, offered):
    """The template global the login page's link uses: no link when the portal needs high."""
    with app.test_request_context("/auth/login"):
        rendered = app.jinja_env.from_string("{{ crossdevice_offered(acr) }}").render(acr=acr)
    assert rendered == str(offered)


def test_an_overlong_destination_is_refused_not_stored(database_url, keys_dir):
    """PostgreSQL enforces the column's length: a longer `next` (allowed by a larger parameter limit)
    is a 400, never a 500."""
    from idp import create_app
    from tests.conftest import base_settings
    from tests.conftest import dispose

    app = create_app(base_settings(database_url, keys_dir, max_parameter_length=8192))
    try:
        response = new_browser(app).get("/auth/qr/start?" + urlencode({"next": "/auth/done?x=" + "y" * 5000}))
        assert response.status_code == 400
        with app.app_context():
            assert db.session.execute(select(func.count()).select_from(CrossDeviceRequest)).scalar() == 0
    finally:
        dispose(app)
