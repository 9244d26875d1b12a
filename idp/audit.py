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
    # Store exactly what is hashed: JSON types only (datetimes and the like become strings).
    data = json.loads(json.dumps(data, default=str))
    at = utcnow()
    request_id = g.get("request_id") if has_request_context() else None
    entry = AuditEvent(at=at, event=event, account_id=account_id, client_id=client_id, request_id=request_id,
                       data=data, prev_hash=prev,
                       hash=event_hash(prev, at, event, account_id, client_id, data))
    db.session.add(entry)
    log.info("audit event=%s account_id=%s client_id=%s", event, account_id, client_id)


# Key names whose values never enter the trail (matched as substrings, case-insensitively).
SECRET_KEY_PARTS: tuple[str, ...] = ("secret", "password", "hash", "seed", "key", "token")
REDACTED = "[redacted]"


def is_secret_key(name: str) -> bool:
    """True when a field name looks like it holds a secret (client_secret, api_key, password_hash...)."""
    lowered = str(name).lower()
    return any(part in lowered for part in SECRET_KEY_PARTS)


def redact(value: Any) -> Any:
    """Replace the values of secret-looking keys with "[redacted]", at any depth."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None
                   ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Keep only the keys whose values differ (all keys when one side is None), secrets redacted."""
    if before is None or after is None:
        return (None if before is None else redact(dict(before)), None if after is None else redact(dict(after)))
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k) or (k in before) != (k in after)]
    return ({k: redact({k: before[k]})[k] for k in keys if k in before},
            {k: redact({k: after[k]})[k] for k in keys if k in after})


def record_change(event: str, *, actor_id: int | None, target_type: str, target_id: Any,
                  before: dict[str, Any] | None, after: dict[str, Any] | None, client_id: str | None = None,
                  **data: Any) -> None:
    """Record an administrative change: who (actor_id), what (target), before and after.

    Only the changed keys are stored; values of secret-looking keys become "[redacted]" (the
    fact that a secret changed is still visible). `before=None` is a creation, `after=None` a
    deletion. `account_id` of the event is the actor. The caller commits.
    """
    old, new = changed_fields(before, after)
    record(event, account_id=actor_id, client_id=client_id, actor_id=actor_id, target_type=target_type,
           target_id=None if target_id is None else str(target_id), before=old, after=new, **redact(data))


def verify_chain() -> int | None:
    """Return the id of the first event that breaks the chain, or None if it is intact."""
    prev = GENESIS
    for entry in db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars():
        expected = event_hash(prev, entry.at, entry.event, entry.account_id, entry.client_id, entry.data)
        if entry.prev_hash != prev or entry.hash != expected:
            return entry.id
        prev = entry.hash
    return None
