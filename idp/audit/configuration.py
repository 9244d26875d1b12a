"""Configuration changes: a fingerprint of the effective settings, recorded when it changes.

Settings are loaded at start-up (defaults, TOML file, IDP_* variables). The first request a
worker serves compares the fingerprint with the last `config.changed` event and records a new
one if it differs: the hash of the whole configuration and one short hash per top-level section,
so an auditor sees *which* part changed. Secret values never enter the hash (only whether each
is set), so the event cannot help guess them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from idp.audit.changes import is_secret_key
from idp.audit.models import AuditEvent
from idp.audit.models import lock_chain
from idp.audit.models import record
from idp.extensions import db
from idp.settings import SECRET_KEYS
from idp.settings import Secret
from idp.settings import Settings
from idp.settings import current_settings

log = logging.getLogger("idp.audit")
CONFIG_EVENT = "config.changed"


def _digest(value: Any) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _without_secrets(node: Any, path: str) -> Any:
    if isinstance(node, dict):
        return {str(k): _without_secrets(v, f"{path}{k}.") for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_without_secrets(v, path) for v in node]
    name = path[:-1]
    if isinstance(node, Secret) or name in SECRET_KEYS or is_secret_key(name.rsplit(".", 1)[-1]):
        return "[set]" if node else "[unset]"
    return node


def fingerprint(settings: Settings) -> dict[str, Any]:
    """The whole configuration's SHA-256 and a 16-hex-digit hash per top-level section, secrets left out."""
    tree = _without_secrets(dataclasses.asdict(settings), "")
    # Tables ([oidc], [login], [verifiers]...) are sections; top-level values form "general".
    sections = {name: value for name, value in tree.items() if isinstance(value, dict)}
    sections["general"] = {name: value for name, value in tree.items() if not isinstance(value, dict)}
    hashed = {name: _digest(value)[:16] for name, value in sorted(sections.items())}
    return {"sha256": _digest(tree), "sections": hashed}


def record_configuration(settings: Settings) -> bool:
    """Record a `config.changed` event if the fingerprint differs from the last one; True if recorded."""
    lock_chain()
    current = fingerprint(settings)
    last = db.session.execute(select(AuditEvent.data).where(AuditEvent.event == CONFIG_EVENT)
                              .order_by(AuditEvent.id.desc()).limit(1)).scalar()
    if last is not None and last.get("sha256") == current["sha256"]:
        return False
    before = (last or {}).get("sections") or {}
    changed = sorted(k for k in current["sections"].keys() | before.keys()
                     if before.get(k) != current["sections"].get(k))
    record(CONFIG_EVENT, sha256=current["sha256"], sections=current["sections"], changed=changed,
           first=last is None, env=settings.env)
    return True


def init_audit(app: Flask) -> None:
    """Record the configuration fingerprint at the first request each worker serves."""
    done = threading.Event()
    lock = threading.Lock()

    def record_configuration_once() -> None:
        if done.is_set():
            return
        with lock:
            if done.is_set():
                return
            try:
                record_configuration(current_settings())
                db.session.commit()
            except SQLAlchemyError:
                # Another worker appended at the same moment (SQLite) or the schema is not there yet:
                # this request goes on, the next one tries again.
                db.session.rollback()
                log.warning("configuration fingerprint not recorded yet", exc_info=True)
                return
            done.set()

    app.before_request(record_configuration_once)
