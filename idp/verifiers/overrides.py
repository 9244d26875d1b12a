"""Identity-source settings stored in the database on top of the configuration file, applied in every
worker without a restart.

Owns the tables: `verifier_override` (a source's settings keys and on/off switch set in the admin
console), `verifier_anchor` (trust anchors uploaded for a certificate source) and `verifier_revision`
(one number that every change bumps); how they combine with the file configuration
(`effective_config`); and `StoredOverrides` (in app.extensions), which reads the revision at most
every REFRESH_SECONDS per worker and rebuilds the verifiers whose effective settings changed.

Precedence: the file and environment configuration (settings.verifiers), then the stored override:
its `enabled` when set, each of its top-level settings keys instead of the file's; uploaded anchors
are appended to the file's `anchors`. New sources come from the file only (`kind` is never stored).
Stored secrets are sealed (idp.crypto); a secret may also be `env:NAME` (IDP_ variables that are not
core settings), resolved when built. Must not import accounts, login sessions or tokens.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.audit import is_secret_key
from idp.crypto import SealError
from idp.crypto import seal
from idp.crypto import unseal
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import ConfigError
from idp.extensions import db
from idp.settings import ENV_ALIASES
from idp.settings import Secret
from idp.settings import Settings
from idp.verifiers.base import Services
from idp.verifiers.base import Verifier
from idp.verifiers.registry import build_verifiers

log = logging.getLogger(__name__)
REFRESH_SECONDS = 5.0  # how stale a worker's sources may be after a change made in another worker
SEALED = "sealed:"
ENV = "env:"
SEAL_PURPOSE = "verifier-settings"
ENV_NAME = re.compile(r"IDP_[A-Z0-9_]{1,60}")
CORE_SETTINGS = frozenset(f.name for f in dataclasses.fields(Settings))


class VerifierOverride(db.Model):
    """Settings of one configured source changed in the admin console (only the changed keys)."""

    __tablename__ = "verifier_override"

    verifier_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)  # top-level keys; secrets sealed or env:NAME
    enabled: Mapped[bool | None] = mapped_column(Boolean)  # None: as the file says
    version: Mapped[int] = mapped_column(default=1)  # +1 per change (optimistic concurrency)
    updated_by: Mapped[str] = mapped_column(String(96))  # "account:<id>" or "client:<client_id>"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StoredAnchor(db.Model):
    """A CA certificate uploaded as a trust anchor of a certificate source."""

    __tablename__ = "verifier_anchor"
    __table_args__ = (UniqueConstraint("verifier_id", "fingerprint", name="uq_verifier_anchor_fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    verifier_id: Mapped[str] = mapped_column(String(64), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER, hex
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # "public" | "government"
    level: Mapped[str] = mapped_column(String(16))  # low | substantial | high
    revocation: Mapped[str] = mapped_column(String(8))  # hard | soft
    ocsp: Mapped[str] = mapped_column(String(8))  # off | aia
    pem: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(1024))
    issuer: Mapped[str] = mapped_column(String(1024))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(96))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def as_setting(self) -> dict[str, str]:
        """The anchor as one table of the certificate module's `anchors` setting."""
        return {"pem": self.pem, "kind": self.kind, "name": self.name, "level": self.level,
                "revocation": self.revocation, "ocsp": self.ocsp}


class VerifierRevision(db.Model):
    """One row (id 1): bumped in the same transaction as every stored change, read by every worker."""

    __tablename__ = "verifier_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(default=0)


def bump_revision() -> None:
    """Count a change of the stored source settings (the caller commits); serialises concurrent writers."""
    bump = update(VerifierRevision).where(VerifierRevision.id == 1).values(revision=VerifierRevision.revision + 1)
    if db.session.execute(bump).rowcount:
        return
    try:  # the migration inserts the row; a database emptied by hand gets it back here
        with db.session.begin_nested():
            db.session.add(VerifierRevision(id=1, revision=1))
    except IntegrityError:  # another writer inserted it meanwhile
        db.session.execute(bump)


# --- stored values -----------------------------------------------------------------------------------

def check_env_name(key: str, name: str) -> None:
    """`env:NAME` in stored settings: an IDP_ variable that is not one of the core settings' own."""
    first = name[4:].lower().split("__")[0]
    if not ENV_NAME.fullmatch(name) or name in ENV_ALIASES or first in CORE_SETTINGS or name.startswith("IDP_TEST_"):
        raise ConfigError(key, f"{key}: env:{name} is not allowed; name a variable IDP_<SOMETHING> of your own "
                               "(not a core setting such as IDP_SECRET_KEY or IDP_DATABASE_URL).")


def seal_value(value: Any) -> str:
    """A secret as stored: sealed JSON."""
    return SEALED + seal(json.dumps(value).encode("utf-8"), SEAL_PURPOSE)


def open_value(value: Any, key: str, secret: bool = False) -> Any:
    """The value a module receives for a stored value: sealed secrets opened, env:NAME resolved."""
    if isinstance(value, dict):
        return {k: open_value(v, f"{key}.{k}", secret or is_secret_key(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [open_value(v, f"{key}[{n}]", secret) for n, v in enumerate(value)]
    if isinstance(value, str) and value.startswith(SEALED):
        try:
            opened = json.loads(unseal(value[len(SEALED):], SEAL_PURPOSE))
        except (SealError, ValueError) as exc:
            raise ConfigError(key, f"{key}: the stored secret does not open (was secret_key or subject_secret "
                                   "changed?); enter it again.") from exc
        return Secret(opened) if isinstance(opened, str) else opened
    if isinstance(value, str) and value.startswith(ENV):
        if not secret:
            raise ConfigError(key, f"{key}: env: references are accepted for secret settings only.")
        check_env_name(key, value[len(ENV):])
        if value[len(ENV):] not in os.environ:
            raise ConfigError(key, f"{key} names environment variable {value[len(ENV):]}, which is not set.")
        return Secret(os.environ[value[len(ENV):]])
    return value


@dataclass(frozen=True)
class StoredState:
    """What the database holds: the revision, the overrides and the uploaded anchors by source id."""

    revision: int = 0
    overrides: Mapping[str, tuple[Mapping[str, Any], bool | None]] = field(default_factory=dict)
    anchors: Mapping[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)


def read_revision(executor: Any) -> int:
    """The stored revision (0 before any change), through a Session or a Connection."""
    return executor.execute(select(VerifierRevision.revision).where(VerifierRevision.id == 1)).scalar() or 0


def load_state(executor: Any, now: datetime, revision: int) -> StoredState:
    """Read the stored overrides and anchors through a Session or a Connection. Anchors outside their
    validity are left out (logged): an expired uploaded anchor must not stop a source from being built."""
    overrides = {row.verifier_id: (dict(row.settings or {}), row.enabled)
                 for row in executor.execute(select(VerifierOverride.__table__))}
    anchors: dict[str, list[dict[str, Any]]] = {}
    for row in executor.execute(select(StoredAnchor.__table__).order_by(StoredAnchor.id)):
        if not row.not_before <= now < row.not_after:
            log.warning("uploaded trust anchor %s of source %s is outside its validity: not used",
                        row.fingerprint[:16], row.verifier_id)
            continue
        anchors.setdefault(row.verifier_id, []).append(
            {"pem": row.pem, "kind": row.kind, "name": row.name, "level": row.level,
             "revocation": row.revocation, "ocsp": row.ocsp})
    return StoredState(revision, overrides, {k: tuple(v) for k, v in anchors.items()})


def effective_config(verifier_id: str, file_raw: Mapping[str, Any], stored_settings: Mapping[str, Any],
                     enabled: bool | None, anchors: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    """The table build_verifiers receives: the file's, the stored keys instead, uploaded anchors appended.
    Raises ConfigError when a stored value cannot be opened (naming the key)."""
    merged = dict(file_raw)
    for key, value in stored_settings.items():
        if key not in ("kind", "enabled"):
            merged[key] = open_value(value, f"verifiers.{verifier_id}.{key}", is_secret_key(key))
    if enabled is not None:
        merged["enabled"] = enabled
    if anchors and isinstance(merged.get("anchors", []), list):
        merged["anchors"] = [*merged.get("anchors", []), *anchors]
    return merged


def is_enabled(raw: Mapping[str, Any]) -> bool:
    return bool(raw.get("enabled", True))


# --- the per-application runtime ---------------------------------------------------------------------

class StoredOverrides:
    """A worker's view of the stored settings: rebuilds its verifiers when the revision changes."""

    def __init__(self, configs: Mapping[str, Mapping[str, Any]], services: Services, env: str) -> None:
        self.configs = configs  # the file configuration
        self.services, self.env = services, env
        self.revision = 0
        self.checked_at: float | None = None
        self.applied: dict[str, Mapping[str, Any]] = {vid: raw for vid, raw in configs.items()
                                                      if isinstance(raw, Mapping)}
        self.failures: dict[str, str] = {}  # source id -> why its stored settings could not be built here
        self._lock = threading.Lock()

    def is_switched_off(self, verifier_id: str) -> bool:
        """Whether a configured source is disabled (by the file or in the admin console)."""
        raw = self.applied.get(verifier_id)
        return raw is not None and not is_enabled(raw)

    def refresh(self, force: bool = False) -> None:
        """Apply stored changes if the revision moved; look at most every REFRESH_SECONDS (unless forced)."""
        now = time.time()
        if not force and self.checked_at is not None and 0 <= now - self.checked_at < REFRESH_SECONDS:
            return
        if not self._lock.acquire(blocking=force):
            return  # another thread of this worker is looking right now
        try:
            self.checked_at = now
            try:
                with db.engine.connect() as connection:  # not the request's session: a failure here spoils nothing
                    revision = read_revision(connection)
                    if revision == self.revision:
                        return
                    state = load_state(connection, self.services.now(), revision)
            except SQLAlchemyError:
                log.warning("stored identity-source settings could not be read; keeping the current ones",
                            exc_info=True)
                return
            self._apply(state)
        finally:
            self._lock.release()

    def _apply(self, state: StoredState) -> None:
        current: dict[str, Verifier] = current_app.extensions["idp.verifiers"]
        built: dict[str, Verifier] = {}
        failures: dict[str, str] = {}
        for verifier_id, raw in self.configs.items():
            stored, enabled = state.overrides.get(verifier_id, ({}, None))
            try:
                wanted = effective_config(verifier_id, raw, stored, enabled, state.anchors.get(verifier_id, ()))
                if not is_enabled(wanted):
                    self.applied[verifier_id] = wanted
                    continue
                if verifier_id in current and self.applied.get(verifier_id) == wanted:
                    built[verifier_id] = current[verifier_id]
                    continue
                built.update(build_verifiers({verifier_id: wanted}, self.services, self.env))
                self.applied[verifier_id] = wanted
            except (ConfigError, ValueError, TypeError, KeyError, AttributeError) as exc:
                # Validated when saved; here only a worker-specific cause (an env variable missing here,
                # another release of the module). The source keeps running as it was.
                reason = exc.message if isinstance(exc, ConfigError) else f"the module failed ({type(exc).__name__})"
                log.error("stored settings of source %s not applied in this worker: %s", verifier_id, reason)
                failures[verifier_id] = reason
                if verifier_id in current:
                    built[verifier_id] = current[verifier_id]
        current_app.extensions["idp.verifiers"] = built
        self.failures = failures
        self.revision = state.revision
        log.info("identity sources rebuilt for stored revision %s", state.revision)


def stored_overrides() -> StoredOverrides:
    """The current application's StoredOverrides (set up by registry.init_verifiers)."""
    return current_app.extensions["idp.verifier_overrides"]


def is_switched_off(verifier_id: str) -> bool:
    """Whether `verifier_id` is a configured source that is disabled (file or admin console)."""
    return stored_overrides().is_switched_off(verifier_id)
