"""Tamper evidence: verification names the first altered, inserted or deleted event (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from idp.audit import AuditEvent
from idp.audit import event_hash
from idp.audit import verify_chain
from idp.audit.chain import ALTERED
from idp.audit.chain import DELETED
from idp.audit.chain import INSERTED
from idp.audit.chain import verify_database
from idp.extensions import db


def _shift_ids_after(event_id: int, by: int = 1) -> None:
    """Make room for a forged row: renumber every later event (two steps: the primary key stays unique)."""
    db.session.execute(update(AuditEvent).where(AuditEvent.id > event_id).values(id=AuditEvent.id + 100000))
    db.session.execute(update(AuditEvent).where(AuditEvent.id > 100000).values(id=AuditEvent.id - 100000 + by))


def _forged(event_id: int, prev_hash: str, before: AuditEvent) -> AuditEvent:
    """A plausible event: a real name, a time between its neighbours, a correctly computed hash."""
    at = before.at + timedelta(microseconds=1)
    data = {"acr": "urn:vn:loa:high", "amr": ["hwk"]}
    return AuditEvent(id=event_id, at=at, event="login.succeeded", account_id=1, client_id=None, data=data,
                      prev_hash=prev_hash, hash=event_hash(prev_hash, at, "login.succeeded", 1, None, data))


def test_intact_chain_reports_its_head(app, seed_chain):
    rows = seed_chain(5)
    with app.app_context():
        report = verify_database()
        assert report.ok and report.checked == 5
        assert report.head == f"{rows[-1].id}:{rows[-1].hash}"
        assert verify_chain() is None


def test_empty_trail_is_intact(app):
    with app.app_context():
        db.session.execute(delete(AuditEvent))
        db.session.commit()
        report = verify_database()
        assert report.ok and report.checked == 0 and report.head == "0:" + "0" * 64


def test_modified_data_is_reported_as_altered(app, seed_chain):
    rows = seed_chain(6)
    with app.app_context():
        db.session.execute(update(AuditEvent).where(AuditEvent.id == rows[3].id).values(data={"n": 999}))
        db.session.commit()
        report = verify_database()
        assert report.broken.kind == ALTERED and report.broken.event_id == rows[3].id
        assert report.head_id == rows[2].id and report.checked == 3
        assert verify_chain() == rows[3].id


def test_modified_row_with_recomputed_hash_is_reported_as_altered(app, seed_chain):
    rows = seed_chain(6)
    target = rows[2]
    with app.app_context():
        new_hash = event_hash(target.prev_hash, target.at, target.event, 42, target.client_id, target.data)
        db.session.execute(update(AuditEvent).where(AuditEvent.id == target.id).values(account_id=42, hash=new_hash))
        db.session.commit()
        broken = verify_database().broken
        assert broken.kind == ALTERED and broken.event_id == target.id
        assert "re-hashed" in broken.detail


def test_deleted_middle_row_is_reported_with_its_neighbours(app, seed_chain):
    rows = seed_chain(7)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == rows[3].id))
        db.session.commit()
        broken = verify_database().broken
        assert broken.kind == DELETED and broken.event_id == rows[4].id and broken.after_id == rows[2].id
        assert broken.describe().startswith(f"deleted event(s) between event {rows[2].id} and event {rows[4].id}")


def test_deleted_first_row_is_reported(app, seed_chain):
    rows = seed_chain(3)
    with app.app_context():
        db.session.execute(delete(AuditEvent).where(AuditEvent.id == rows[0].id))
        db.session.commit()
        broken = verify_database().broken
        assert broken.kind == DELETED and broken.event_id == rows[1].id and broken.after_id is None


def test_forged_row_pointing_elsewhere_is_reported_as_inserted(app, seed_chain):
    rows = seed_chain(6)
    with app.app_context():
        _shift_ids_after(rows[2].id)
        # Its own hash is right; its predecessor hash cannot be rows[2]'s (the next event holds it: unique).
        fake_prev = hashlib.sha256(b"forged").hexdigest()
        db.session.add(_forged(rows[2].id + 1, fake_prev, rows[2]))
        db.session.commit()
        broken = verify_database().broken
        assert broken.kind == INSERTED and broken.event_id == rows[2].id + 1


def test_forged_row_spliced_into_the_chain_is_reported_as_inserted(app, seed_chain):
    rows = seed_chain(6)
    with app.app_context():
        _shift_ids_after(rows[2].id)
        forged = _forged(rows[2].id + 1, rows[2].hash, rows[2])
        # Re-link the next event to the forged one (its stored hash cannot be recomputed without being seen).
        db.session.execute(update(AuditEvent).where(AuditEvent.id == rows[3].id + 1).values(prev_hash=forged.hash))
        db.session.add(forged)
        db.session.commit()
        broken = verify_database().broken
        assert broken.kind == INSERTED and broken.event_id == forged.id


def test_deleting_the_newest_events_needs_the_anchor(app, seed_chain):
    rows = seed_chain(6)
    anchored = (rows[-1].id, rows[-1].hash)
    with app.app_context():
        assert verify_database(anchored).ok
        db.session.execute(delete(AuditEvent).where(AuditEvent.id > rows[3].id))
        db.session.commit()
        assert verify_database().ok  # the chain alone cannot see it
        broken = verify_database(anchored).broken
        assert broken.kind == DELETED and broken.event_id is None and broken.after_id == rows[3].id
        assert f"anchored head is event {rows[-1].id}" in broken.detail


def test_rewritten_chain_is_caught_by_the_anchor(app, seed_chain):
    """Rewriting every hash after a change leaves a consistent chain, but not the anchored head."""
    rows = seed_chain(5)
    anchored = (rows[-1].id, rows[-1].hash)
    with app.app_context():
        prev = rows[1].hash
        for row in rows[2:]:
            data = dict(row.data, n=-1) if row.id == rows[2].id else row.data
            new = event_hash(prev, row.at, row.event, row.account_id, row.client_id, data)
            # Temporary values first: prev_hash and hash are unique.
            db.session.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                               .values(data=data, prev_hash=prev, hash=new))
            prev = new
        db.session.commit()
        assert verify_database().ok
        broken = verify_database(anchored).broken
        assert broken.kind == ALTERED and broken.event_id == rows[-1].id


def test_anchor_of_an_older_event_still_matches_after_new_events(app, seed_chain):
    rows = seed_chain(4)
    with app.app_context():
        assert verify_database((rows[1].id, rows[1].hash)).ok
        wrong = verify_database((rows[1].id, rows[2].hash)).broken
        assert wrong.kind == ALTERED and wrong.event_id == rows[1].id


def test_reading_back_rows_keeps_the_hashed_form(app, seed_chain):
    """What record() stores (JSON types, UTC microseconds) hashes the same after a round trip."""
    seed_chain(2)
    with app.app_context():
        row = db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
        assert row.hash == event_hash(row.prev_hash, row.at, row.event, row.account_id, row.client_id, row.data)
