"""Export for auditors: JSON lines and CSV, re-verifiable offline, CSV cells guarded against formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update

from idp.audit import AuditEvent
from idp.audit import record
from idp.audit.chain import ALTERED
from idp.audit.chain import DELETED
from idp.audit.chain import verify_database
from idp.audit.export import COLUMNS
from idp.audit.export import ExportFilter
from idp.audit.export import download_response
from idp.audit.export import export_lines
from idp.audit.export import guard_cell
from idp.audit.export import unguard_cell
from idp.audit.export import verify_export
from idp.extensions import db

HOSTILE = ["=1+2", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain"]


def _export(fmt: str, selection: ExportFilter | None = None) -> str:
    return "".join(export_lines(fmt, selection or ExportFilter()))


def test_jsonl_export_carries_every_column_and_reverifies(app, seed_chain):
    rows = seed_chain(7)
    with app.app_context():
        text = _export("jsonl")
        head = verify_database().head
    lines = text.splitlines()
    assert len(lines) == 7
    first = json.loads(lines[0])
    assert tuple(first) == COLUMNS
    assert first["id"] == rows[0].id and first["data"] == {"n": 1, "note": "tiếng Việt"}
    assert "tiếng Việt" in lines[0]  # readable, not \\u escapes
    report = verify_export(io.StringIO(text), "jsonl")
    assert report.ok and report.checked == 7 and report.head == head


def test_csv_export_guards_formulas_and_reverifies(app, seed_chain):
    seed_chain(2)
    with app.app_context():
        for value in HOSTILE:
            record("test.hostile", client_id=value, label=value)
            db.session.commit()
        text = _export("csv")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert tuple(table[0]) == COLUMNS and len(table) == 1 + 2 + len(HOSTILE)
    client_cells = [row[COLUMNS.index("client_id")] for row in table[3:]]
    assert client_cells == ["'=1+2", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "''quoted", "plain"]
    for row in table[1:]:
        assert not row[COLUMNS.index("data")].startswith(("=", "+", "-", "@"))
    report = verify_export(io.StringIO(text, newline=""), "csv")
    assert report.ok and report.checked == 2 + len(HOSTILE)


def test_guard_round_trip():
    for value in [*HOSTILE, "", "''", "'=x"]:
        assert unguard_cell(guard_cell(value)) == value
        assert not guard_cell(value).startswith(("=", "+", "-", "@", "\t", "\r"))


def test_tampered_export_is_caught(app, seed_chain):
    rows = seed_chain(5)
    with app.app_context():
        lines = _export("jsonl").splitlines(keepends=True)
    changed = json.loads(lines[2])
    changed["data"]["n"] = 99
    altered = [*lines[:2], json.dumps(changed) + "\n", *lines[3:]]
    broken = verify_export(altered, "jsonl").broken
    assert broken.kind == ALTERED and broken.event_id == rows[2].id
    missing = verify_export([*lines[:2], *lines[3:]], "jsonl").broken
    assert missing.kind == DELETED and missing.event_id == rows[3].id and missing.after_id == rows[1].id


def test_filters_select_by_time_and_name(app, seed_chain):
    rows = seed_chain(6)
    with app.app_context():
        record("login.failed", method="pwd")
        record("login_x.other")  # "_" in a prefix is not a wildcard
        db.session.commit()
        # Spread the times so a window selects the middle events only.
        base = rows[0].at
        for i, row in enumerate(rows):
            db.session.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                               .values(at=base + timedelta(days=i)))
        db.session.commit()
        window = ExportFilter(since=base + timedelta(days=2), until=base + timedelta(days=4))
        ids = [json.loads(line)["id"] for line in _export("jsonl", window).splitlines()]
        assert ids == [rows[2].id, rows[3].id]
        named = _export("jsonl", ExportFilter(prefix="login."))
        assert [json.loads(line)["event"] for line in named.splitlines()] == ["login.failed"]
        assert _export("jsonl", ExportFilter(prefix="login_")).count("\n") == 1
        assert _export("jsonl", ExportFilter(prefix="%")) == ""


def test_filtered_exports_verify_their_contents(app, seed_chain):
    """A time window re-verifies its links from its first event; a name filter only each event's hash."""
    seed_chain(4)
    with app.app_context():
        record("login.failed", method="pwd")
        db.session.commit()
        seed_chain(2)
        rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        window = _export("csv", ExportFilter(since=rows[2].at))
        named = _export("jsonl", ExportFilter(prefix="test."))
    assert verify_export(io.StringIO(window, newline=""), "csv").ok
    assert not verify_export(io.StringIO(named), "jsonl").ok  # the login event is a gap in the links
    assert verify_export(io.StringIO(named), "jsonl", links=False).ok


def test_download_response_streams_an_attachment(app, seed_chain):
    seed_chain(3)
    with app.test_request_context("/"):
        response = download_response("csv", ExportFilter())
        assert response.is_streamed
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
        assert response.headers["Cache-Control"] == "no-store"
        body = response.get_data(as_text=True)
    assert body.count("\r\n") == 4
    with app.test_request_context("/"):
        jsonl = download_response("jsonl", ExportFilter(prefix="test."))
        assert jsonl.headers["Content-Type"] == "application/x-ndjson"
        assert len(jsonl.get_data(as_text=True).splitlines()) == 3
