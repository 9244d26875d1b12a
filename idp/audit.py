"""Audit trail: append-only, hash-chained events that carry ids, never personal data.

Each event stores the hash of the previous event, so altering, inserting or deleting a row
breaks the chain (`idp audit verify` reports where).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import g
from flask import has_request_context
from sqlalchemy import JSON
from sqlalchemy import String
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db

log = logging.getLogger("idp.audit")
GENESIS = "0" * 64


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[int | None] = mapped_column(index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # Unique: two events can never claim the same predecessor (no silent fork of the chain).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def event_hash(prev_hash: str, at: datetime, event: str, account_id: int | None, client_id: str | None,
               data: dict[str, Any]) -> str:
    """Hash one event's content together with its predecessor's hash."""
    body = json.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(timespec="microseconds"), event, account_id, client_id, data],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(event: str, *, account_id: int | None = None, client_id: str | None = None, **data: Any) -> None:
    """Append an event to the chain in the current transaction (the caller commits)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialise appends across workers for the rest of this transaction.
        db.session.execute(text("SELECT pg_advisory_xact_lock(7265616)"))
    last = db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    at = utcnow()
    request_id = g.get("request_id") if has_request_context() else None
    entry = AuditEvent(at=at, event=event, account_id=account_id, client_id=client_id, request_id=request_id,
                       data=data, prev_hash=prev,
                       hash=event_hash(prev, at, event, account_id, client_id, data))
    db.session.add(entry)
    log.info("audit event=%s account_id=%s client_id=%s", event, account_id, client_id)


def verify_chain() -> int | None:
    """Return the id of the first event that breaks the chain, or None if it is intact."""
    prev = GENESIS
    for entry in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        expected = event_hash(prev, entry.at, entry.event, entry.account_id, entry.client_id, entry.data)
        if entry.prev_hash != prev or entry.hash != expected:
            return entry.id
        prev = entry.hash
    return None
