"""`idp audit verify|anchor|export`: heads, anchors, files."""

from __future__ import annotations

import json
import os
import stat

from sqlalchemy import delete
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db


def _head(runner) -> str:  # noqa: ANN001
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "audit chain intact" and lines[1].startswith("head ")
    return lines[1].split()[1]


def test_verify_prints_the_head_and_checks_an_expected_one(app, runner, seed_chain):
    rows = seed_chain(5)
    head = _head(runner)
    assert head == f"{rows[-1].id}:{rows[-1].hash}"
    assert runner.invoke(args=["audit", "verify", "--expect-head", head]).exit_code == 0
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id >= rows[3].id))
        db.session.commit()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify", "--expect-head", head])
    assert result.exit_code == 1
    assert result.output.startswith(f"audit chain broken: deleted event(s) after event {rows[2].id}")


def test_verify_json_report_names_kind_and_event(app, runner, seed_chain):
    rows = seed_chain(4)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == rows[1].id))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["head_id"] == rows[0].id
    assert report["broken"]["kind"] == "deleted" and report["broken"]["event_id"] == rows[2].id


def test_malformed_expected_head_is_a_usage_error(runner, seed_chain):
    seed_chain(1)
    for value in ("12", "x:y", "1:" + "g" * 64, "a.b.c", "1:" + "0" * 63):
        result = runner.invoke(args=["audit", "verify", "--expect-head", value])
        assert result.exit_code == 2, value
        assert "Traceback" not in result.output


def test_signed_anchor_round_trip(app, runner, seed_chain):
    rows = seed_chain(3)
    anchored = runner.invoke(args=["audit", "anchor"])
    assert anchored.exit_code == 0, anchored.output
    token = anchored.output.strip()
    assert token.count(".") == 2
    assert runner.invoke(args=["audit", "verify", "--expect-head", token]).exit_code == 0
    header, payload, signature = token.split(".")
    forged = runner.invoke(args=["audit", "verify", "--expect-head", f"{header}.{payload}.{signature[::-1]}"])
    assert forged.exit_code == 2 and "signature" in forged.output
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == rows[-1].id))
        db.session.commit()
    truncated = runner.invoke(args=["audit", "verify", "--expect-head", token])
    assert truncated.exit_code == 1 and "deleted" in truncated.output


def test_anchor_refuses_a_broken_chain(app, runner, seed_chain):
    rows = seed_chain(3)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == rows[1].id))
        db.session.commit()
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 1 and "deleted" in result.output and "." not in result.output.split()[-1][:3]


def test_export_to_a_new_file_and_verify_it(app, runner, seed_chain, tmp_path):
    seed_chain(4)
    for fmt in ("jsonl", "csv"):
        out = tmp_path / f"trail.{fmt}"
        result = runner.invoke(args=["audit", "export", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        verified = runner.invoke(args=["audit", "verify", "--file", str(out)])
        assert verified.exit_code == 0 and verified.output.startswith("audit chain intact"), verified.output
        again = runner.invoke(args=["audit", "export", "--format", fmt, "--output", str(out)])
        assert again.exit_code == 1 and "cannot write" in again.output
    with app.app_context():
        exported = db.session.execute(select(AuditEvent).where(AuditEvent.event == "audit.exported")).scalars().all()
        assert [e.data["format"] for e in exported] == ["jsonl", "csv"]  # a refused export reads nothing
        assert all(e.data["via"] == "cli" for e in exported)


def test_export_to_stdout_with_filters(runner, seed_chain):
    seed_chain(3)
    result = runner.invoke(args=["audit", "export", "--event", "test.", "--since", "2000-01-01"])
    assert result.exit_code == 0
    assert [json.loads(line)["event"] for line in result.output.splitlines()] == ["test.event"] * 3
    bad = runner.invoke(args=["audit", "export", "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_verify_rejects_a_file_that_is_not_an_export(runner, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("a,b\n1,2\n", encoding="utf-8")
    result = runner.invoke(args=["audit", "verify", "--file", str(junk)])
    assert result.exit_code == 1 and "not an audit export" in result.output
