"""Audit trail: append-only, hash-chained events that carry ids, never personal data.

Each event stores the hash of the previous event, so altering, inserting or deleting a row
breaks the chain; `idp audit verify` reports the first such event, and an anchor kept outside
the database (the head `ID:HASH`, optionally signed) shows a deletion of the newest events.

Owns: models (AuditEvent, record), changes (record_change: admin changes with before/after,
secrets redacted), chain (verification), anchor, export (JSON lines / CSV for auditors),
configuration (fingerprint of the effective settings), commands (`idp audit ...`).
Must not import views, the admin console or identity sources.
"""

from idp.audit.chain import verify_chain
from idp.audit.changes import REDACTED
from idp.audit.changes import changed_fields
from idp.audit.changes import is_secret_key
from idp.audit.changes import record_change
from idp.audit.changes import redact
from idp.audit.models import GENESIS
from idp.audit.models import AuditEvent
from idp.audit.models import event_hash
from idp.audit.models import record

__all__ = ["GENESIS", "REDACTED", "AuditEvent", "changed_fields", "event_hash", "is_secret_key", "record",
           "record_change", "redact", "verify_chain"]
