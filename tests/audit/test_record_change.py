"""record_change: who changed what, before and after, only the changed keys, secrets redacted."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit import REDACTED
from idp.audit import AuditEvent
from idp.audit import changed_fields
from idp.audit import record_change
from idp.audit import verify_chain
from idp.extensions import db


def _last() -> AuditEvent:
    return db.session.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()


def test_update_keeps_only_changed_keys_and_redacts_secrets(app):
    with app.app_context():
        record_change("client.updated", actor_id=7, target_type="client", target_id="portal-1",
                      before={"name": "A", "redirect_uris": ["https://a"], "client_secret": "s1", "status": "active"},
                      after={"name": "B", "redirect_uris": ["https://a"], "client_secret": "s2", "status": "active"},
                      client_id="portal-1", reason="renamed")
        db.session.commit()
        row = _last()
        assert row.event == "client.updated"
        assert row.account_id == 7 and row.client_id == "portal-1"
        assert row.data["actor_id"] == 7
        assert row.data["target_type"] == "client" and row.data["target_id"] == "portal-1"
        assert row.data["before"] == {"name": "A", "client_secret": REDACTED}
        assert row.data["after"] == {"name": "B", "client_secret": REDACTED}
        assert row.data["reason"] == "renamed"
        assert "s1" not in str(row.data) and "s2" not in str(row.data)
        assert verify_chain() is None


def test_creation_and_deletion_keep_whole_side_with_nested_secrets_redacted(app):
    with app.app_context():
        record_change("verifier.created", actor_id=1, target_type="verifier", target_id=3, before=None,
                      after={"kind": "telecom", "settings": {"endpoint": "https://t", "api_key": "k",
                                                             "Seed": "x", "tokens": ["a"]}})
        db.session.commit()
        row = _last()
        assert row.data["before"] is None
        assert row.data["target_id"] == "3"
        assert row.data["after"] == {"kind": "telecom", "settings": {
            "endpoint": "https://t", "api_key": REDACTED, "Seed": REDACTED, "tokens": REDACTED}}
        record_change("verifier.deleted", actor_id=1, target_type="verifier", target_id=3,
                      before={"kind": "telecom", "password_hash": "$argon2"}, after=None)
        db.session.commit()
        row = _last()
        assert row.data["before"] == {"kind": "telecom", "password_hash": REDACTED}
        assert row.data["after"] is None
        assert verify_chain() is None


def test_extra_data_is_redacted_and_non_json_values_survive_the_chain(app):
    from datetime import UTC
    from datetime import datetime

    with app.app_context():
        record_change("account.locked", actor_id=2, target_type="account", target_id=5,
                      before={"status": "active", "locked_until": None},
                      after={"status": "locked", "locked_until": datetime(2030, 1, 1, tzinfo=UTC)},
                      secret_answer="never")
        db.session.commit()
        row = _last()
        assert row.data["secret_answer"] == REDACTED
        assert row.data["after"]["locked_until"].startswith("2030-01-01")
        assert verify_chain() is None


def test_changed_fields_sees_added_and_removed_keys():
    assert changed_fields({"a": 1, "b": 2}, {"a": 1, "c": 3}) == ({"b": 2}, {"c": 3})
    assert changed_fields({"a": None}, {}) == ({"a": None}, {})
    assert changed_fields({"a": 1}, {"a": 1}) == ({}, {})
