"""Vietnam Post letter (docs/sources/postal.md): ask for a letter, the operator's batch export, the
code typed back; it confirms the address at Level.NONE (docs/assurance.md) and every failure path."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy import update

from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import Account
from idp.accounts.models import LoginSession
from idp.accounts.service import find_account
from idp.extensions import db
from idp.verifiers.base import Level
from idp.verifiers.conformance import Harness
from idp.verifiers.postal import create_letter
from idp.verifiers.postal.export import render
from idp.verifiers.postal.models import Letter
from tests.conftest import BrowserFlow
from tests.conftest import csrf_from
from tests.verifiers.test_postal_counter import english
from tests.verifiers.test_postal_counter import start_source
from tests.verifiers.test_postal_counter import submit

PID = "001090088801"
ADDRESS = "Số 12 phố Huế, Phường Hoàn Kiếm, Thành phố Hà Nội"
CODE = re.compile(r"^[0-9A-Z]{5}-[0-9A-Z]{5}$")


@pytest.fixture
def settings_overrides() -> dict:
    return {"verifiers": {"letter": {"kind": "postal_letter"}}}


@pytest.fixture
def citizen(make_account):  # noqa: ANN001, ANN201
    return make_account(PID, full_name="Ngô Thị Thu", street_address="Số 12 phố Huế", province_code="01",
                        ward_code="00070")


def logged_in(app, pid: str = PID):  # noqa: ANN001, ANN201
    client = english(app)
    assert BrowserFlow(client).login(pid).status_code == 303
    return client


def ask_for_letter(app, pid: str = PID):  # noqa: ANN001, ANN201
    client = logged_in(app, pid)
    page = start_source(client, "letter")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="request"' in html
    if pid == PID:
        assert ADDRESS in html  # the person sees where the letter goes
    queued = submit(client, page, action="request")
    assert queued.status_code == 200 and "being prepared" in queued.get_data(as_text=True)
    return client, queued


def export(app, *args: str) -> list[dict]:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["postal", "export-letters", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def code_page(app, pid: str = PID):  # noqa: ANN001, ANN201
    client = logged_in(app, pid)
    page = start_source(client, "letter")
    assert page.status_code == 200 and 'name="code"' in page.get_data(as_text=True), page.get_data(as_text=True)
    return client, page


def test_the_letter_code_confirms_the_address_and_raises_nothing(app, citizen):
    """docs/assurance.md: a postal letter confirms an address only (Level.NONE); the login keeps its level."""
    ask_for_letter(app)
    [entry] = export(app)
    assert entry["recipient"] == "Ngô Thị Thu" and entry["address"] == ADDRESS and CODE.match(entry["code"])
    with app.app_context():
        row = db.session.execute(select(Letter)).scalar_one()
        stored = " ".join(str(getattr(row, column.key)) for column in Letter.__table__.columns)
        assert entry["code"].replace("-", "") not in stored and entry["code"] not in stored  # only its hash
        assert row.status == "exported" and row.recipient_name is None and row.batch_id == entry["batch_id"]

    with time_machine.travel(datetime.now(UTC) + timedelta(days=4), tick=False):
        client, page = code_page(app)
        wrong = submit(client, page, code="ZZZZZ-ZZZZZ")
        assert wrong.status_code == 400 and "not correct" in wrong.get_data(as_text=True)
        done = submit(client, wrong, code=entry["code"].lower().replace("-", " "))
        assert done.status_code == 303, done.get_data(as_text=True)[:300]
    with app.app_context():
        account = find_account(PID)
        [link] = linked_sources(account)
        assert link.source == "letter" and link.level == Level.NONE and link.subject.startswith("letter:")
        assert identity_level(account) == Level.LOW
        [login] = [row for row in db.session.execute(select(LoginSession).where(
            LoginSession.account_id == account.id)).scalars() if "vnpost" in row.amr]
        assert login.acr == "urn:vn:gov:sso:loa:low" and {"pwd", "vnpost"} <= set(login.amr)
        row = db.session.execute(select(Letter)).scalar_one()
        assert row.status == "used" and row.address is None and row.code_hash is None
        # The address on file is now confirmed by the letter (provenance only, values unchanged).
        confirmed = {(v.attribute, v.source, v.level) for v in account.verifications}
        parts = {("street_address", "letter", 0), ("ward_code", "letter", 0), ("province_code", "letter", 0)}
        assert parts <= confirmed
        assert account.street_address == "Số 12 phố Huế"


def test_export_to_a_new_private_file_and_never_over_an_old_one(app, citizen, make_account, tmp_path):
    ask_for_letter(app)
    out = tmp_path / "batch.csv"
    runner = app.test_cli_runner()
    first = runner.invoke(args=["postal", "export-letters", "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["address"] for r in rows] == [ADDRESS] and CODE.match(rows[0]["code"])
    summary = json.loads(first.stderr)
    assert summary["letters"] == 1 and summary["batch_id"] == rows[0]["batch_id"]

    make_account("001090088802", full_name="Lê Văn Bình", street_address="=HYPERLINK(\"http://x\")")
    ask_for_letter(app, "001090088802")
    clash = runner.invoke(args=["postal", "export-letters", "--out", str(out)])
    assert clash.exit_code == 2 and "cannot write" in clash.output
    with app.app_context():  # nothing was handed over: the letter waits for the next batch
        assert db.session.execute(select(Letter.status).where(Letter.status == "queued")).scalar_one() == "queued"
    second = tmp_path / "batch2.csv"
    assert runner.invoke(args=["postal", "export-letters", "--out", str(second)]).exit_code == 0
    [row] = list(csv.DictReader(io.StringIO(second.read_text(encoding="utf-8"))))
    assert row["address"].startswith("'=")  # OWASP CSV injection: shown as text in a spreadsheet
    empty = runner.invoke(args=["postal", "export-letters", "--format", "json"])
    assert json.loads(empty.stdout) == []
    unknown = runner.invoke(args=["postal", "export-letters", "--source", "nope"])
    assert unknown.exit_code == 2 and "not a letter source" in unknown.output


@pytest.mark.parametrize("address", ["Số 1 Lê Lợi;=HYPERLINK(\"http://x\",\"y\")", " =1+1", "Hà Nội\n@SUM(A1)",
                                     "a,\t-2+3", "=1+1"])
def test_csv_cells_cannot_start_a_formula_whatever_the_separator(address):
    """OWASP CSV injection: a spreadsheet may split on "," or ";" (Excel in vi-VN) or at a line
    break and then ignore quotes; no cell it could make may start with = + - @."""
    entry = {"batch_id": "20261201-ABCDEF", "letter": "ABCDE-12345", "recipient": "Ngô Thị Thu",
             "address": address, "code": "FGHJK-67890", "valid_until": "31/12/2026"}
    text = render([entry], "csv")
    assert re.search(r'(?:^|[,;\t\r\n])[ "\t\r]*[=+\-@]', text) is None, text
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["address"].replace("'", "") == address and row["recipient"] == "Ngô Thị Thu"


def test_csv_leaves_ordinary_addresses_alone():
    entry = {"batch_id": "b", "letter": "l", "recipient": "Trần Thị-Mai", "address": "Số 5, ngõ 7; Phường 2",
             "code": "FGHJK-67890", "valid_until": "31/12/2026"}
    [row] = list(csv.DictReader(io.StringIO(render([entry], "csv"))))
    assert row == entry


def test_five_wrong_codes_lock_the_letter(app, citizen):
    ask_for_letter(app)
    [entry] = export(app)
    client, page = code_page(app)
    answer = page
    for attempt in range(4):
        answer = submit(client, answer, code="ZZZZZ-ZZZZ" + str(attempt))
        assert answer.status_code == 400 and "not correct" in answer.get_data(as_text=True)
    locked = submit(client, answer, code="ZZZZZ-ZZZZZ")
    assert locked.status_code == 400 and "locked" in locked.get_data(as_text=True)
    right = submit(client, page, code=entry["code"])  # the right code no longer helps
    assert right.status_code == 400 and "locked" in right.get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(select(Letter)).scalar_one()
        assert (row.status, row.failed_attempts, row.code_hash) == ("locked", 5, None)
        assert linked_sources(find_account(PID)) == []
    again = start_source(logged_in(app), "letter")
    assert "locked after too many wrong tries" in again.get_data(as_text=True)


def test_a_malformed_code_is_explained_and_not_counted(app, citizen):
    ask_for_letter(app)
    export(app)
    client, page = code_page(app)
    for bad in ("", "12345", "ĐĐĐĐĐ-ĐĐĐĐĐ", "\x00<script>'\"", "A" * 400):
        answer = submit(client, page, code=bad)
        assert answer.status_code == 400 and "10 letters and digits" in answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Letter.failed_attempts)).scalar_one() == 0


def test_an_expired_code_is_refused(app, citizen):
    ask_for_letter(app)
    [entry] = export(app)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=30) - timedelta(minutes=5), tick=False) as later:
        client, page = code_page(app)
        later.shift(timedelta(minutes=10))
        expired = submit(client, page, code=entry["code"])
        assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
        again = start_source(client, "letter")
        assert "has expired" in again.get_data(as_text=True) and 'value="request"' in again.get_data(as_text=True)


def test_a_code_works_once(app, citizen):
    ask_for_letter(app)
    [entry] = export(app)
    client, first_tab = code_page(app)
    second_tab = start_source(client, "letter")  # the same person, a second attempt
    assert submit(client, first_tab, code=entry["code"]).status_code == 303
    used = submit(client, second_tab, code=entry["code"])
    assert used.status_code == 400 and "already used" in used.get_data(as_text=True)
    replay = submit(client, first_tab, code=entry["code"])
    assert replay.status_code == 400


def test_no_address_on_file_or_no_login_is_a_clear_failure(app, make_account):
    make_account("001090088803", full_name="Không Địa Chỉ")
    refused = start_source(logged_in(app, "001090088803"), "letter")
    assert refused.status_code == 400 and "no postal address" in refused.get_data(as_text=True)
    anonymous = start_source(english(app), "letter")
    assert anonymous.status_code == 400 and "Log in first" in anonymous.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(Letter)).first() is None


def test_a_changed_address_voids_the_old_letter(app, citizen):
    ask_for_letter(app)
    [entry] = export(app)
    client, page = code_page(app)
    with app.app_context():
        db.session.execute(update(Account).where(Account.identifier == PID).values(street_address="Số 99 Tràng Tiền"))
        db.session.commit()
    moved = submit(client, page, code=entry["code"])
    assert moved.status_code == 400 and "address changed" in moved.get_data(as_text=True)
    offer = start_source(client, "letter")
    assert "Số 99 Tràng Tiền" in offer.get_data(as_text=True) and "replaces the earlier one" in offer.get_data(
        as_text=True)
    assert submit(client, offer, action="request").status_code == 200
    with app.app_context():
        statuses = db.session.execute(select(Letter.status).order_by(Letter.id)).scalars().all()
        assert statuses == ["superseded", "queued"]


def test_a_very_long_address_still_gets_its_letter(app):
    """The row keeps 500 characters of the address on file; comparing them with the full address
    refused every code. (Accounts hold shorter addresses today; the source must not rely on it.)"""
    from idp.verifiers.base import IdentityAssertion
    from tests.verifiers.drivers.postal_letter import DRIVER

    harness = Harness()
    verifier = DRIVER.build(harness)
    with app.app_context():
        attempt = harness.new_attempt(verifier.id, account_ref="ref-long", on_file={
            "personal_id": PID, "full_name": "Đỗ Văn Long", "address": "Xóm " + "Đông " * 150})
        answer = DRIVER.prepare(harness, verifier, attempt, verifier.begin(attempt))
        later = harness.new_attempt(verifier.id, account_ref="ref-long", on_file=attempt.on_file)
        verifier.begin(later)
        assert isinstance(verifier.complete(later, answer), IdentityAssertion)
        db.session.commit()


def test_before_the_export_the_citizen_is_told_to_wait(app, citizen):
    client, queued = ask_for_letter(app)
    again = submit(client, queued, action="check")
    assert again.status_code == 200 and "not been sent yet" in again.get_data(as_text=True)
    later = start_source(client, "letter")  # a new attempt finds the queued letter, no second one
    assert "being prepared" in later.get_data(as_text=True)
    export(app)
    ready = submit(client, later, action="check")
    assert 'name="code"' in ready.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.execute(select(Letter)).all()) == 1


def test_the_request_page_needs_the_button(app, citizen):
    client = logged_in(app)
    page = start_source(client, "letter")
    answer = submit(client, page, action="something else")
    assert answer.status_code == 400 and "Send me the letter" in answer.get_data(as_text=True)


def test_letters_per_account_are_limited(app):
    """Three letters per account in 30 days: a fourth request is refused (postal cost, annoyance)."""
    harness = Harness()
    verifier = create_letter("letter", {}, harness.services)
    with app.app_context():
        for n in range(4):
            attempt = harness.new_attempt("letter", account_ref="ref-1", on_file={"address": f"Số {n} phố Huế"})
            verifier.begin(attempt)
            if n < 3:
                verifier.complete(attempt, {"action": "request"})
            else:
                with pytest.raises(Exception) as info:
                    verifier.complete(attempt, {"action": "request"})
                assert info.value.code == "too_many_attempts"


def test_sandbox_copies_exported_letters_to_the_outbox(app):
    harness = Harness()
    verifier = create_letter("letter", {}, harness.services)
    with app.app_context():
        attempt = harness.new_attempt("letter", account_ref="ref-2", on_file={"address": ADDRESS})
        verifier.begin(attempt)
        verifier.complete(attempt, {"action": "request"})
        [entry] = verifier.export("B1")
        assert harness.outbox == [("letter", ADDRESS, harness.outbox[0][2])] and entry["code"] in harness.outbox[0][2]
        quiet = create_letter("letter", {"sandbox": False}, harness.services)
        other = harness.new_attempt("letter", account_ref="ref-3", on_file={"address": ADDRESS})
        quiet.begin(other)
        quiet.complete(other, {"action": "request"})
        assert len(quiet.export("B2")) == 1 and len(harness.outbox) == 1


def test_purge_wipes_expired_letters_and_deletes_old_ones(app, citizen):
    ask_for_letter(app)
    runner = app.test_cli_runner()
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31), tick=False):
        counts = json.loads(runner.invoke(args=["postal", "purge"]).output)
        assert counts["postal_letter_wiped"] == 1 and counts["postal_letter_deleted"] == 0
    with app.app_context():
        row = db.session.execute(select(Letter)).scalar_one()
        assert row.address is None and row.recipient_name is None
    with time_machine.travel(datetime.now(UTC) + timedelta(days=400), tick=False):
        counts = json.loads(runner.invoke(args=["postal", "purge"]).output)
        assert counts["postal_letter_deleted"] == 1


def test_the_account_page_offers_the_letter(app, citizen):
    """The letter proves no level, so the login page does not list it; the account page does."""
    client = logged_in(app)
    assert "/auth/sources/letter/start" not in client.get("/auth/login").get_data(as_text=True)
    page = client.get("/accounts/sources").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/auth/sources/letter/start">(.*?)</form>', page, re.S).group(1)
    assert 'name="next" value="/accounts/sources"' in form
    started = client.post("/auth/sources/letter/start", data={"csrf_token": csrf_from(page),
                                                               "next": "/accounts/sources"})
    assert started.status_code == 200 and ADDRESS in started.get_data(as_text=True)


def test_a_source_that_refuses_to_begin_shows_its_reason(app, make_account):
    """No address on file: the letter source refuses at `begin`, with its own message and a 400."""
    make_account("001090088802", full_name="Không Địa Chỉ")
    client = logged_in(app, "001090088802")
    page = start_source(client, "letter")
    assert page.status_code == 400 and "Verification did not succeed" in page.get_data(as_text=True)
