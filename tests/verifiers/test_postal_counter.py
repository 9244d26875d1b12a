"""Vietnam Post counter check (docs/sources/postal.md): the citizen's request, the clerk's pages,
the assertion and its level, every failure path, and the audit trail (docs/assurance.md levels)."""

from __future__ import annotations

import json
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import LoginSession
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import grant_role
from idp.accounts.service import find_account
from idp.audit import AuditEvent
from idp.extensions import db
from idp.verifiers.base import Level
from idp.verifiers.postal.codes import display
from idp.verifiers.postal.codes import normalise
from idp.verifiers.postal.models import CounterRequest
from idp.verifiers.postal.models import find_request
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import dispose
from tests.conftest import hidden_fields
from tests.conftest import query_of

HIGH, SUBSTANTIAL = "urn:vn:gov:sso:loa:high", "urn:vn:gov:sso:loa:substantial"
CITIZEN, CLERK = "001090077701", "001090077799"
NAME = "Phạm Thị Lan"
REFERENCE = re.compile(r'<strong class="reference">([0-9A-Z]{5}-[0-9A-Z]{5})</strong>')


@pytest.fixture
def settings_overrides() -> dict:
    # Clerks here log in with a password (LOW); production keeps the default, SUBSTANTIAL.
    return {"verifiers": {"vnpost": {"kind": "postal_counter", "clerk_min_level": "low"}}}


@pytest.fixture
def people(app, make_account):  # noqa: ANN001, ANN201
    """A citizen with a password account and a clerk of post office 100000."""
    citizen_id = make_account(CITIZEN, full_name=NAME)
    clerk_id = make_account(CLERK, full_name="Nhân viên Bưu điện")
    with app.app_context():
        grant_role(clerk_id, POSTAL_CLERK, "100000")
        db.session.commit()
    return citizen_id, clerk_id


def english(app):  # noqa: ANN001, ANN201
    """A browser that asks for English pages (the messages asserted here are the English msgids)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def start_source(client, verifier_id: str = "vnpost", next_url: str = ""):  # noqa: ANN001, ANN201
    """POST the login page's start form of a source (any form's CSRF token of this browser works)."""
    page = client.get("/auth/login?next=" + next_url).get_data(as_text=True)
    return client.post(f"/auth/sources/{verifier_id}/start", data={"csrf_token": csrf_from(page), "next": next_url})


def submit(client, page, **fields: str):  # noqa: ANN001, ANN201
    """Submit the page's first POST form with its hidden fields plus `fields`."""
    html = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    return client.post(action, data={**hidden_fields(html), **fields})


def citizen_request(app, pid: str = CITIZEN):  # noqa: ANN001, ANN201
    """A logged-in citizen starts the counter check; return (browser client, status page, reference)."""
    client = english(app)
    assert BrowserFlow(client).login(pid).status_code == 303
    page = start_source(client)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return client, page, REFERENCE.search(page.get_data(as_text=True)).group(1)


def clerk_client(app, identifier: str = CLERK):  # noqa: ANN001, ANN201
    client = english(app)
    assert BrowserFlow(client).login(identifier).status_code == 303
    return client


def lookup(clerk, reference: str):  # noqa: ANN001, ANN201
    page = clerk.get("/postal/clerk").get_data(as_text=True)
    return clerk.post("/postal/clerk", data={"csrf_token": csrf_from(page), "reference": reference})


def decide(clerk, reference: str, **fields: str):  # noqa: ANN001, ANN201
    page = lookup(clerk, reference)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    token = csrf_from(page.get_data(as_text=True))
    return clerk.post(f"/postal/clerk/requests/{normalise(reference)}", data={"csrf_token": token, **fields})


def confirm(clerk, reference: str, pid: str = CITIZEN, chip: bool = True):  # noqa: ANN001, ANN201
    fields = {"action": "confirm", "personal_id": pid, "name_confirmed": "yes"}
    if chip:
        fields["chip_read"] = "yes"
    return decide(clerk, reference, **fields)


def events(app, name: str) -> list[AuditEvent]:  # noqa: ANN001
    with app.app_context():
        return list(db.session.execute(select(AuditEvent).where(AuditEvent.event == name)).scalars())


# --- the whole journey ---------------------------------------------------------------------
def test_counter_check_with_chip_read_verifies_the_account_at_high(app, people, make_client):
    """docs/assurance.md: a post-office check of the chip ID card is HIGH; the step-up gives acr high."""
    citizen_id, clerk_id = people
    portal_id, secret = make_client(trusted=True)
    client, page, reference = citizen_request(app)
    html = page.get_data(as_text=True)
    assert "<svg" in html and 'aria-hidden="true"' in html and "cdn" not in html.lower()
    assert re.search(rf"<figcaption>[^<]*{reference}", html)  # the visible text alternative of the QR code

    clerk = clerk_client(app)
    found = lookup(clerk, reference.lower().replace("-", " "))  # typed loosely: case and separators ignored
    shown = found.get_data(as_text=True)
    assert found.status_code == 200 and NAME in shown
    assert CITIZEN not in shown and "•••••••••701" in shown  # masked until the clerk types the card's number
    done = confirm(clerk, reference)
    assert done.status_code == 200 and "chip" in done.get_data(as_text=True)

    # Days later the citizen logs in again through a portal that needs HIGH.
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3), tick=False):
        citizen = BrowserFlow(english(app))
        start = citizen.authorize(response_type="code", client_id=portal_id, scope="openid profile", nonce="n",
                                  redirect_uri="https://portal.example.vn/callback", acr_values=HIGH, state="s")
        assert start.location.startswith("/auth/login")
        logged = citizen.login(CITIZEN, next_url=query_of(start.location)["next"])
        step_up = citizen.client.get(logged.location)
        assert step_up.status_code == 302 and "acr=" in step_up.location  # password alone is low
        next_url = query_of(step_up.location)["next"]
        assert "/auth/sources/vnpost/start" in citizen.client.get(step_up.location).get_data(as_text=True)
        status = start_source(citizen.client, next_url=next_url)
        assert "has confirmed your identity" in status.get_data(as_text=True)
        finished = submit(citizen.client, status)
        assert finished.status_code == 303, finished.get_data(as_text=True)[:400]
        code = query_of(citizen.client.get(finished.location).location)["code"]
        tokens = citizen.exchange(code, portal_id, secret).get_json()
    claims = decode_with_jwks(citizen.client, tokens["id_token"])[1]
    assert claims["acr"] == HIGH
    assert {"pwd", "vnpost", "hwk"} <= set(claims["amr"])
    with app.app_context():
        account = find_account(CITIZEN)
        assert identity_level(account) == Level.HIGH
        [link] = linked_sources(account)
        assert (link.source, link.subject, link.level) == ("vnpost", f"pid:{CITIZEN}", Level.HIGH)
        assert account.verification_of("full_name").source == "vnpost"
        row = find_request(normalise(reference))
        assert row.status == "completed" and row.claimed_personal_id is None and row.claimed_full_name is None
        assert row.post_office == "100000" and row.decided_by == clerk_id and row.chip_read is True
    viewed = events(app, "postal.counter_viewed")
    [confirmed] = events(app, "postal.counter_confirmed")
    assert confirmed.account_id == clerk_id and confirmed.data["post_office"] == "100000"
    assert confirmed.data["chip_read"] is True and confirmed.data["reference"] == reference
    assert {e.data["request_id"] for e in viewed} == {confirmed.data["request_id"]}
    assert all(e.account_id == clerk_id for e in viewed)


def test_without_the_chip_read_the_level_is_substantial(app, people):
    """docs/assurance.md: a counter check without the chip read is SUBSTANTIAL; amr has no hwk."""
    client, page, reference = citizen_request(app)
    assert confirm(clerk_client(app), reference, chip=False).status_code == 200
    done = submit(client, page)
    assert done.status_code == 303
    with app.app_context():
        account = find_account(CITIZEN)
        assert identity_level(account) == Level.SUBSTANTIAL
        session_row = db.session.execute(select(LoginSession).where(LoginSession.account_id == account.id,
                                                                    LoginSession.ended_at.is_(None))).scalar_one()
        assert session_row.acr == SUBSTANTIAL and "vnpost" in session_row.amr and "hwk" not in session_row.amr


def test_before_the_visit_the_citizen_sees_the_same_page_not_an_error(app, people):
    client, page, reference = citizen_request(app)
    again = submit(client, page)
    html = again.get_data(as_text=True)
    assert again.status_code == 200 and "not confirmed your request yet" in html and reference in html
    # A new attempt days later shows the same open request (one request at a time).
    later = start_source(client)
    assert REFERENCE.search(later.get_data(as_text=True)).group(1) == reference
    with app.app_context():
        assert db.session.execute(select(CounterRequest)).scalars().all().__len__() == 1


def test_clerk_rejection_is_a_clear_failure_and_a_new_request_can_follow(app, people):
    citizen_id, clerk_id = people
    client, page, reference = citizen_request(app)
    done = decide(clerk_client(app), reference, action="reject", reason="card_expired")
    assert done.status_code == 200 and "rejected" in done.get_data(as_text=True).lower()
    failed = submit(client, page)
    assert failed.status_code == 400 and "ID card has expired" in failed.get_data(as_text=True)
    notice = start_source(client)
    html = notice.get_data(as_text=True)
    assert "ID card has expired" in html and 'value="new"' in html
    fresh = submit(client, notice, action="new")
    new_reference = REFERENCE.search(fresh.get_data(as_text=True)).group(1)
    assert new_reference != reference
    [rejected] = events(app, "postal.counter_rejected")
    assert rejected.account_id == clerk_id and rejected.data["reason"] == "card_expired"
    with app.app_context():
        assert find_request(normalise(reference)).claimed_personal_id is None  # wiped once decided


def test_two_notice_pages_make_one_new_request(app, people):
    """One request open per account: "Make a new request" from a second tab shows the first one."""
    client, page, reference = citizen_request(app)
    decide(clerk_client(app), reference, action="reject", reason="other")
    first, second = start_source(client), start_source(client)
    made = submit(client, first, action="new")
    again = submit(client, second, action="new")
    new_reference = REFERENCE.search(made.get_data(as_text=True)).group(1)
    assert again.status_code == 200 and REFERENCE.search(again.get_data(as_text=True)).group(1) == new_reference
    with app.app_context():
        assert [r.status for r in db.session.execute(select(CounterRequest)).scalars()] == ["rejected", "open"]


def test_a_different_personal_id_on_the_card_rejects_the_request(app, people):
    """The typed number must equal the claimed one; a mismatch is recorded as a rejection."""
    client, page, reference = citizen_request(app)
    done = confirm(clerk_client(app), reference, pid="001090077702")
    assert done.status_code == 200 and "not the one on the account" in done.get_data(as_text=True)
    with app.app_context():
        row = find_request(normalise(reference))
        assert (row.status, row.reject_reason) == ("rejected", "personal_id_mismatch")
    failed = submit(client, page)
    assert failed.status_code == 400 and "personal ID number on your card" in failed.get_data(as_text=True)
    assert events(app, "postal.counter_rejected")[0].data["reason"] == "personal_id_mismatch"
    with app.app_context():
        assert identity_level(find_account(CITIZEN)) == Level.LOW


@pytest.mark.parametrize(("fields", "message"), [
    ({"action": "confirm", "personal_id": "12345", "name_confirmed": "yes"}, "12-digit"),
    ({"action": "confirm", "personal_id": "٠٠١٠٩٠٠٧٧٧٠١", "name_confirmed": "yes"}, "12-digit"),
    ({"action": "confirm", "personal_id": CITIZEN}, "Tick the box"),
    ({"action": "reject", "reason": "no such reason"}, "Choose the reason"),
    ({"action": "approve-everything"}, "confirm or to reject"),
])
def test_clerk_input_errors_are_shown_and_nothing_is_recorded(app, people, fields, message):
    _, _, reference = citizen_request(app)
    answer = decide(clerk_client(app), reference, **fields)
    assert answer.status_code == 400 and message in answer.get_data(as_text=True)
    assert 'name="personal_id"' in answer.get_data(as_text=True)  # the form is shown again
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"
    assert not events(app, "postal.counter_confirmed") and not events(app, "postal.counter_rejected")


def test_a_decided_request_cannot_be_decided_again(app, people):
    _, _, reference = citizen_request(app)
    clerk = clerk_client(app)
    assert confirm(clerk, reference).status_code == 200
    page = lookup(clerk, reference)
    assert "confirmed" in page.get_data(as_text=True) and 'name="personal_id"' not in page.get_data(as_text=True)
    token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
    again = clerk.post(f"/postal/clerk/requests/{normalise(reference)}",
                       data={"csrf_token": token, "action": "reject", "reason": "other"})
    assert again.status_code == 409 and "already decided" in again.get_data(as_text=True)


def test_an_expired_request_can_be_neither_confirmed_nor_used(app, people):
    client, page, reference = citizen_request(app)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30, minutes=1), tick=False):
        clerk = clerk_client(app)  # a month later: everyone logs in again
        token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
        shown = clerk.post("/postal/clerk", data={"csrf_token": token, "reference": reference})
        assert shown.status_code == 200 and "expired" in shown.get_data(as_text=True)
        assert 'name="personal_id"' not in shown.get_data(as_text=True)
        late = clerk.post(f"/postal/clerk/requests/{normalise(reference)}", data={
            "csrf_token": token, "action": "confirm", "personal_id": CITIZEN, "name_confirmed": "yes"})
        assert late.status_code == 409 and "expired" in late.get_data(as_text=True)
        relogged = english(app)
        BrowserFlow(relogged).login(CITIZEN)
        notice = start_source(relogged)
        assert "expired before a post office confirmed it" in notice.get_data(as_text=True)
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"


def test_a_confirmation_not_used_within_the_validity_expires(app, people):
    """Once confirmed, the citizen has request_ttl_days (30) to finish online."""
    _, _, reference = citizen_request(app)
    assert confirm(clerk_client(app), reference).status_code == 200
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30, minutes=1), tick=False):
        client = english(app)
        BrowserFlow(client).login(CITIZEN)
        notice = start_source(client)
        assert "expired" in notice.get_data(as_text=True)
    with app.app_context():
        assert identity_level(find_account(CITIZEN)) == Level.LOW


def test_a_used_confirmation_cannot_be_replayed(app, people):
    client, page, reference = citizen_request(app)
    assert confirm(clerk_client(app), reference).status_code == 200
    assert submit(client, page).status_code == 303
    replay = client.post(re.search(r'action="([^"]+)"', page.get_data(as_text=True)).group(1),
                         data=hidden_fields(page.get_data(as_text=True)))
    assert replay.status_code == 400
    # The next attempt opens a new request: the old confirmation is spent.
    again = start_source(client)
    assert REFERENCE.search(again.get_data(as_text=True)).group(1) != reference


def test_the_citizen_must_be_logged_in_and_have_a_personal_id(app, make_account):
    anonymous = english(app)
    refused = start_source(anonymous)
    assert refused.status_code == 400 and "Log in with your password first" in refused.get_data(as_text=True)
    make_account("0100109106", kind="business", full_name="Công ty Mẫu")
    business = english(app)
    BrowserFlow(business).login("0100109106")
    refused = start_source(business)
    assert refused.status_code == 400 and "personal ID number" in refused.get_data(as_text=True)
    with app.app_context():
        assert not db.session.execute(select(CounterRequest)).first()


def test_a_tampered_status_form_fails_clearly(app, people):
    client, page, reference = citizen_request(app)
    for bad in ("", "ABCDE-ABCDE", "9" * 400, "\x00<script>", "ĐĐĐĐĐ-ĐĐĐĐĐ"):
        answer = submit(client, page, reference=bad)
        assert answer.status_code == 400 and "out of date" in answer.get_data(as_text=True)
    assert submit(client, page, reference="9" * 5000).status_code == 400  # the core's parameter guard
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"


# --- the clerk's pages: who may use them ----------------------------------------------------
def test_clerk_pages_need_a_login_and_the_postal_clerk_role(app, people, make_account):
    assert english(app).get("/postal/clerk").status_code == 303  # to the login page
    make_account("001090077798", full_name="Người khác")
    other = clerk_client(app, "001090077798")
    refused = other.get("/postal/clerk")
    assert refused.status_code == 403 and "post office clerks" in refused.get_data(as_text=True)
    token = csrf_from(other.get("/auth/login").get_data(as_text=True))
    _, _, reference = citizen_request(app)
    assert other.post("/postal/clerk", data={"csrf_token": token, "reference": reference}).status_code == 403
    assert other.post(f"/postal/clerk/requests/{normalise(reference)}", data={
        "csrf_token": token, "action": "confirm", "personal_id": CITIZEN, "name_confirmed": "yes"}).status_code == 403
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"
    assert not events(app, "postal.counter_viewed")


def test_a_clerk_cannot_check_their_own_request(app, people):
    clerk = clerk_client(app)
    page = start_source(clerk)
    reference = REFERENCE.search(page.get_data(as_text=True)).group(1)
    refused = confirm(clerk, reference, pid=CLERK)
    assert refused.status_code == 403 and "your own request" in refused.get_data(as_text=True)
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"


def test_clerk_min_level_sends_a_password_clerk_to_step_up(database_url, keys_dir, make_account):
    from idp import create_app
    from tests.conftest import base_settings

    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "mock": {"kind": "mock"}, "vnpost": {"kind": "postal_counter", "clerk_min_level": "substantial"}}))
    with app.app_context():
        from idp.accounts.service import NewAccount
        from idp.accounts.service import create_account

        clerk = create_account(NewAccount(kind="citizen", identifier=CLERK, full_name="Clerk",
                                          password="correct horse battery"))
        grant_role(clerk.id, POSTAL_CLERK)
        db.session.commit()
    client = clerk_client(app)
    answer = client.get("/postal/clerk")
    assert answer.status_code == 303 and "acr=urn" in answer.location
    dispose(app)


@pytest.mark.parametrize(("typed", "status", "reason"), [
    ("ABCDE-FGHJK", 404, "unknown"),  # well formed, never issued
    ("12", 400, "malformed"),
    ("A" * 200, 400, "malformed"),
    ("ABCDE-FGHJ!", 400, "malformed"),
    ("ĐĐĐĐĐĐĐĐĐĐ", 400, "malformed"),
    ("' OR 1=1 --", 400, "malformed"),
])
def test_reference_guessing_gets_a_clear_4xx_and_is_audited(app, people, typed, status, reason):
    citizen_id, clerk_id = people
    answer = lookup(clerk_client(app), typed)
    assert answer.status_code == status and 'role="alert"' in answer.get_data(as_text=True)
    [failed] = events(app, "postal.counter_lookup_failed")
    assert failed.account_id == clerk_id and failed.data["reason"] == reason


def test_an_oversized_reference_is_refused_before_the_page(app, people):
    """The core's parameter guard answers 400 for any value over max_parameter_length."""
    assert lookup(clerk_client(app), "A" * 5000).status_code == 400


def test_decisions_on_unknown_or_malformed_references_are_404(app, people):
    clerk = clerk_client(app)
    token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
    for path in ("ABCDEFGHJK", "x" * 300, "%00"):
        answer = clerk.post(f"/postal/clerk/requests/{path}", data={"csrf_token": token, "action": "reject",
                                                                      "reason": "other"})
        assert answer.status_code == 404


def test_lookups_are_rate_limited_per_clerk(app, people):
    clerk = clerk_client(app)
    token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
    statuses = [clerk.post("/postal/clerk", data={"csrf_token": token, "reference": f"ABCDE-{n:05d}"}).status_code
                for n in range(21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429


def test_lookups_and_decisions_share_the_clerk_budget(app, people):
    """Guessing references through the decision URL counts against the same 20 a minute."""
    clerk = clerk_client(app)
    token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
    statuses = [clerk.post("/postal/clerk", data={"csrf_token": token, "reference": f"ABCDE-{n:05d}"}).status_code
                for n in range(10)]
    statuses += [clerk.post(f"/postal/clerk/requests/ABCDE{n:05d}", data={"csrf_token": token}).status_code
                 for n in range(10, 21)]
    assert statuses[:20] == [404] * 20 and statuses[20] == 429


def test_decisions_on_unknown_references_and_views_through_the_decision_url_are_audited(app, people):
    citizen_id, clerk_id = people
    _, _, reference = citizen_request(app)
    clerk = clerk_client(app)
    token = csrf_from(clerk.get("/postal/clerk").get_data(as_text=True))
    for path in ("ABCDEFGHJK", "x!"):
        assert clerk.post(f"/postal/clerk/requests/{path}", data={"csrf_token": token, "action": "reject",
                                                                    "reason": "other"}).status_code == 404
    assert [(e.account_id, e.data["reason"]) for e in events(app, "postal.counter_lookup_failed")] == [
        (clerk_id, "unknown"), (clerk_id, "malformed")]
    shown = clerk.post(f"/postal/clerk/requests/{normalise(reference)}", data={"csrf_token": token})
    assert shown.status_code == 400 and NAME in shown.get_data(as_text=True)
    [viewed] = events(app, "postal.counter_viewed")
    assert viewed.account_id == clerk_id and viewed.data["reference"] == reference


def test_clerk_and_citizen_forms_need_the_csrf_token(app, people):
    client, page, reference = citizen_request(app)
    action = re.search(r'<form method="post" action="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert client.post(action, data={"reference": reference}).status_code == 400
    clerk = clerk_client(app)
    assert clerk.post("/postal/clerk", data={"reference": reference}).status_code == 400
    assert clerk.post(f"/postal/clerk/requests/{normalise(reference)}", data={
        "action": "confirm", "personal_id": CITIZEN, "name_confirmed": "yes"}).status_code == 400
    with app.app_context():
        assert find_request(normalise(reference)).status == "open"


def test_audit_events_carry_no_personal_data(app, people, make_account):
    client, page, reference = citizen_request(app)
    clerk = clerk_client(app)
    lookup(clerk, "ABCDE-00000")
    confirm(clerk, reference, pid="001090077702")  # a mismatch: the typed number must not be logged
    make_account("001090077703", full_name="Đoàn Văn Hùng")
    _, _, other_reference = citizen_request(app, "001090077703")
    confirm(clerk, other_reference, pid="001090077703")
    with app.app_context():
        dumped = json.dumps([e.data for e in db.session.execute(select(AuditEvent)).scalars()], ensure_ascii=False)
    for secret in (CITIZEN, "001090077702", "001090077703", NAME, "Phạm", "Đoàn Văn Hùng"):
        assert secret not in dumped
    assert reference in dumped  # the reference is the evidence id, not personal data


# --- small parts ------------------------------------------------------------------------------
def test_references_are_short_unambiguous_and_forgiving():
    from idp.verifiers.postal.codes import ALPHABET
    from idp.verifiers.postal.codes import new_code

    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 10 and set(c) <= set(ALPHABET) for c in codes)
    assert not set("ILOU") & set(ALPHABET)
    assert normalise(" abcde-0o1il ") == "ABCDE00111"
    assert display("ABCDE00111") == "ABCDE-00111"
    for bad in (None, 12, "", "ABCDE", "ABCDE-0000U", "A" * 41, "ÀBCDE-00000"):
        assert normalise(bad) is None


def test_repr_of_rows_shows_no_personal_data(app):
    row = CounterRequest(id=1, reference="ABCDE00000", claimed_personal_id=CITIZEN, claimed_full_name=NAME,
                         status="open")
    assert CITIZEN not in repr(row) and NAME not in repr(row) and "ABCDE" not in repr(row)


def test_the_demo_clerk_can_open_the_clerk_page(app, client, browser):
    """The demo's postal clerk has the role (granted once, even when the demo runs twice)."""
    runner = app.test_cli_runner()
    from sqlalchemy import func
    from sqlalchemy import select

    from idp.accounts.roles import AccountRole

    assert runner.invoke(args=["demo"]).exit_code == 0 and runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        clerks = select(func.count()).select_from(AccountRole).where(AccountRole.role == "postal_clerk")
        assert db.session.execute(clerks).scalar() == 1
    assert browser.login("001085000456", password="demo-password-2025").status_code == 303
    assert client.get("/postal/clerk").status_code == 200

