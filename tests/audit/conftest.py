"""Helpers for the audit tests: a seeded chain and direct tampering, as a database administrator could."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.audit import record
from idp.extensions import db


@pytest.fixture
def seed_chain(app: Flask) -> Callable[[int], list[AuditEvent]]:
    """Append `n` events (one transaction each, as requests do); return them in id order."""

    def seed(n: int) -> list[AuditEvent]:
        with app.app_context():
            for i in range(1, n + 1):
                record("test.event", account_id=i, client_id=f"portal-{i % 3}", n=i, note="tiếng Việt")
                db.session.commit()
            rows = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
            db.session.expunge_all()
            return list(rows)

    return seed
