"""The audit event row, its hash and `record`: appending one event to the chain.

The hash of an event covers its predecessor's hash, its time, name, account id, client id and
data (see `event_hash`; the request id is a correlation hint for logs and is not covered). An
exported event carries everything needed to recompute it, so auditors can verify offline.
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
# Serialises appends across workers (PostgreSQL advisory lock id, held to the end of the transaction).
APPEND_LOCK = 7265616


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # exports and listings by time
    event: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[int | None] = mapped_column(index=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    # Unique: two events can never claim the same predecessor (no silent fork of the chain).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def canonical_time(at: datetime) -> str:
    """The form of an event's time that is hashed and exported: UTC ISO 8601 with microseconds."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(prev_hash: str, at: datetime | str, event: str, account_id: int | None, client_id: str | None,
               data: dict[str, Any]) -> str:
    """Hash one event's content together with its predecessor's hash.

    SHA-256 of the compact JSON array [prev_hash, time, event, account_id, client_id, data]
    with sorted keys, separators "," and ":", and ASCII escapes (Python's json.dumps defaults).
    """
    moment = at if isinstance(at, str) else canonical_time(at)
    body = json.dumps([prev_hash, moment, event, account_id, client_id, data],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def lock_chain() -> None:
    """On PostgreSQL, serialise appends across workers until the end of this transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SELECT pg_advisory_xact_lock({APPEND_LOCK})"))


def record(event: str, *, account_id: int | None = None, client_id: str | None = None, **data: Any) -> None:
    """Append an event to the chain in the current transaction (the caller commits)."""
    lock_chain()
    last = db.session.execute(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    # Store exactly what is hashed: JSON types only (datetimes and the like become strings).
    data = json.loads(json.dumps(data, default=str))
    at = utcnow()
    request_id = g.get("request_id") if has_request_context() else None
    entry = AuditEvent(at=at, event=event, account_id=account_id, client_id=client_id, request_id=request_id,
                       data=data, prev_hash=prev,
                       hash=event_hash(prev, at, event, account_id, client_id, data))
    db.session.add(entry)
    log.info("audit event=%s account_id=%s client_id=%s", event, account_id, client_id)
