"""Identity sources in the admin console: what is configured and installed, and changes to a source's
settings and on/off switch. The pages (idp.admin.sources) and the API (idp.admin.sources_api) call
these functions only.

"Nothing saved that would not start": every change is validated by building the verifier from the
candidate settings with the same factory, services and environment as start-up
(registry.build_verifiers), before anything is stored. Stored as overrides on top of the file
configuration (idp.verifiers.overrides), audited with before and after (secrets redacted), applied
at once in this worker and within overrides.REFRESH_SECONDS in the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from sqlalchemy import select

from idp.admin.access import Admin
from idp.admin.source_lockout import check_admins_keep_a_way_in
from idp.admin.source_usage import logins_per_source
from idp.admin.source_values import SourceRefused
from idp.admin.source_values import VersionConflict
from idp.admin.source_values import audit_pair
from idp.admin.source_values import check_destination
from idp.admin.source_values import check_name
from idp.admin.source_values import is_hidden
from idp.admin.source_values import masked
from idp.admin.source_values import to_store
from idp.audit import is_secret_key
from idp.audit import record
from idp.audit import record_change
from idp.dbtypes import utcnow
from idp.errors import ConfigError
from idp.errors import NotFound
from idp.extensions import db
from idp.i18n import N_
from idp.settings import Secret
from idp.verifiers.base import HealthReporting
from idp.verifiers.base import Verifier
from idp.verifiers.base import VerifierInfo
from idp.verifiers.health import is_available
from idp.verifiers.overrides import StoredAnchor
from idp.verifiers.overrides import VerifierOverride
from idp.verifiers.overrides import bump_revision
from idp.verifiers.overrides import effective_config
from idp.verifiers.overrides import stored_overrides
from idp.verifiers.registry import CORE_KEYS
from idp.verifiers.registry import available_kinds
from idp.verifiers.registry import build_verifiers
from idp.verifiers.registry import verifiers

log = logging.getLogger(__name__)
MAX_STORED_CHARS = 32_000


@dataclass(frozen=True)
class Source:
    """One configured source as the console lists it."""

    id: str
    kind: str
    info: VerifierInfo | None  # None when its settings cannot be built (see `problem`)
    enabled: bool
    switched_in_console: bool  # the on/off state comes from the console, not the file
    health: str  # up | down | not_reported | off
    logins: int  # in the last USAGE_DAYS days
    version: int  # of the stored override (0: none)
    updated_by: str | None
    updated_at: datetime | None
    problem: str | None  # why the settings cannot be built, or were not applied in this worker


@dataclass(frozen=True)
class Setting:
    """One top-level setting as the edit form shows it."""

    key: str
    shown: Any  # masked value
    secret: bool  # a password field: never filled in
    is_set: bool
    overridden: bool  # stored in the console (else from the file)
    reference: str | None  # env:NAME of a stored secret


def actor_label(admin: Admin) -> str:
    return f"account:{admin.account_id}" if admin.account_id is not None else f"client:{admin.client_id}"


def file_config(verifier_id: str) -> Mapping[str, Any]:
    """The source's table in the configuration file; NotFound for an unknown id."""
    raw = stored_overrides().configs.get(verifier_id)
    if not isinstance(raw, Mapping):
        raise NotFound("source_unknown", N_("No identity source is configured with this id."))
    return raw


def _override(verifier_id: str) -> VerifierOverride | None:
    return db.session.get(VerifierOverride, verifier_id)


def _anchors(verifier_id: str) -> tuple[dict[str, Any], ...]:
    now = utcnow()
    rows = db.session.execute(select(StoredAnchor).where(StoredAnchor.verifier_id == verifier_id)
                              .order_by(StoredAnchor.id)).scalars()
    return tuple(row.as_setting() for row in rows if row.not_before <= now < row.not_after)


def candidate(verifier_id: str, stored: Mapping[str, Any] | None = None,
              extra_anchor: dict[str, Any] | None = None, uploads: bool = True) -> dict[str, Any]:
    """The effective table for `verifier_id` with the given stored keys (default: what is stored now),
    with the uploaded anchors (unless `uploads` is false) and `extra_anchor`."""
    row = _override(verifier_id)
    if stored is None:
        stored = dict(row.settings or {}) if row else {}
    anchors = (_anchors(verifier_id) if uploads else ()) + ((extra_anchor,) if extra_anchor else ())
    return effective_config(verifier_id, file_config(verifier_id), stored, row.enabled if row else None, anchors)


def validate(verifier_id: str, stored: Mapping[str, Any] | None = None,
             extra_anchor: dict[str, Any] | None = None) -> Verifier:
    """Build the candidate as start-up does (same factory, services, environment and refusals), as if
    enabled. Raises SourceRefused with the module's message, which names the key."""
    runtime = stored_overrides()
    try:
        raw = {**candidate(verifier_id, stored, extra_anchor), "enabled": True}
        return build_verifiers({verifier_id: raw}, runtime.services, runtime.env)[verifier_id]
    except ConfigError as exc:
        detail = exc.message if exc.code in exc.message else f"{exc.code}: {exc.message}"
        raise SourceRefused(exc.code, N_("This configuration would not start, so nothing was saved: %(detail)s"),
                            detail=detail) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A module that does not check a setting's type fails like this at start-up too. Its message
        # may quote a value (a secret), so only the exception's type is shown and logged.
        log.warning("source %s: the module failed on the candidate settings (%s)", verifier_id, type(exc).__name__)
        key = f"verifiers.{verifier_id}"
        raise SourceRefused(key, N_("This configuration would not start, so nothing was saved: %(detail)s"),
                            detail=f"{key}: the module failed on these settings ({type(exc).__name__}).") from exc


def _preview(verifier_id: str) -> tuple[Verifier | None, str | None]:
    built = verifiers().get(verifier_id)
    if built is not None:
        return built, stored_overrides().failures.get(verifier_id)
    try:
        return validate(verifier_id), None
    except SourceRefused as exc:
        return None, exc.params["detail"]


def describe(verifier_id: str, logins: Mapping[str, int] | None = None) -> Source:
    raw = file_config(verifier_id)
    row = _override(verifier_id)
    verifier, problem = _preview(verifier_id)
    enabled = row.enabled if row and row.enabled is not None else bool(raw.get("enabled", True))
    running = verifiers().get(verifier_id)
    if running is None:
        health = "off"
    elif not isinstance(running, HealthReporting):
        health = "not_reported"
    else:
        health = "up" if is_available(running) else "down"
    usage = logins if logins is not None else logins_per_source()
    return Source(id=verifier_id, kind=str(raw.get("kind", verifier_id)), info=verifier.info if verifier else None,
                  enabled=enabled, switched_in_console=bool(row and row.enabled is not None), health=health,
                  logins=usage.get(verifier_id, 0), version=row.version if row else 0,
                  updated_by=row.updated_by if row else None, updated_at=row.updated_at if row else None,
                  problem=problem)


def list_sources() -> list[Source]:
    logins = logins_per_source()
    return [describe(verifier_id, logins) for verifier_id in stored_overrides().configs]


def installed_kinds_not_configured() -> list[str]:
    configured = {str(raw.get("kind", vid)) for vid, raw in stored_overrides().configs.items()
                  if isinstance(raw, Mapping)}
    return sorted(set(available_kinds()) - configured)


def settings_of(verifier_id: str) -> list[Setting]:
    """The source's current top-level settings, masked, marking what the console overrides."""
    raw = file_config(verifier_id)
    row = _override(verifier_id)
    stored = dict(row.settings or {}) if row else {}
    merged = _settings(raw, stored)
    result = []
    for key in sorted(merged):
        value = merged[key]
        secret = is_secret_key(key) or is_hidden(value)
        reference = value if secret and isinstance(value, str) and not isinstance(value, Secret) \
            and value.startswith("env:") else None
        result.append(Setting(key=key, shown=masked(value, is_secret_key(key)), secret=secret,
                              is_set=value not in (None, ""), overridden=key in stored, reference=reference))
    return result


def _settings(raw: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level settings in effect (stored form): the file's, the stored keys instead."""
    return {k: v for k, v in raw.items() if k not in CORE_KEYS} | dict(stored)


def _check_version(row: VerifierOverride | None, version: int | None) -> None:
    current = row.version if row else 0
    if version is not None and version != current:
        raise VersionConflict("version", N_("Someone changed this source meanwhile (now version %(current)s). "
                                            "Reload the page and make your change again."), current=current)


def _save(admin: Admin, verifier_id: str, row: VerifierOverride | None, **values: Any) -> VerifierOverride:
    if row is None:
        row = VerifierOverride(verifier_id=verifier_id, settings={}, enabled=None, version=0)
        db.session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.version = (row.version or 0) + 1
    row.updated_by, row.updated_at = actor_label(admin), utcnow()
    bump_revision()
    return row


def audited_refusals(action: str) -> Callable:
    """Record a refused change (what was refused and the key, never the values) before re-raising it."""

    def decorate(change: Callable) -> Callable:
        @wraps(change)
        def run(admin: Admin, verifier_id: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return change(admin, verifier_id, *args, **kwargs)
            except SourceRefused as exc:
                db.session.rollback()
                record("admin.source.refused", account_id=admin.account_id, client_id=admin.client_id,
                       verifier_id=verifier_id[:64], action=action, key=exc.key[:200], reason=exc.error)
                db.session.commit()
                raise

        return run

    return decorate


def _apply_now() -> None:
    db.session.commit()
    stored_overrides().refresh(force=True)


@audited_refusals("settings")
def update_settings(admin: Admin, verifier_id: str, changes: Mapping[str, Any], version: int | None) -> Source:
    """Change top-level settings (a value None: back to the file's). Raises SourceRefused (nothing stored)."""
    raw = file_config(verifier_id)
    row = _override(verifier_id)
    _check_version(row, version)
    stored = dict(row.settings or {}) if row else {}
    before = _settings(raw, stored)
    for key, value in changes.items():
        check_name(key)
        if value is None:
            stored.pop(key, None)
            continue
        current = stored.get(key, raw.get(key))
        stored[key] = to_store(value, current, f"verifiers.{verifier_id}.{key}", is_secret_key(key))
    # Top-level secrets that were not re-entered stay, but not towards a changed address.
    old_top = {k: v for k, v in raw.items() if k not in CORE_KEYS} | (row.settings if row else {})
    not_submitted = {k: "" for k in old_top if k not in changes}
    check_destination(f"verifiers.{verifier_id}",
                      not_submitted | {k: v for k, v in changes.items() if v is not None}, old_top)
    if len(repr(stored)) > MAX_STORED_CHARS:
        raise SourceRefused(f"verifiers.{verifier_id}", N_("The settings are too large."))
    validate(verifier_id, stored)
    if stored == (row.settings if row else {}):
        return describe(verifier_id)
    _save(admin, verifier_id, row, settings=stored)
    old, new = audit_pair(before, _settings(raw, stored))
    record_change("admin.source.settings_changed", **admin.actor, target_type="verifier", target_id=verifier_id,
                  before=old, after=new)
    _apply_now()
    return describe(verifier_id)


@audited_refusals("reset")
def reset_settings(admin: Admin, verifier_id: str, version: int | None) -> Source:
    """Drop every stored setting of the source (its on/off switch stays): the file's settings again."""
    raw = file_config(verifier_id)
    row = _override(verifier_id)
    _check_version(row, version)
    if row is None or not row.settings:
        return describe(verifier_id)
    validate(verifier_id, {})
    old, new = audit_pair(_settings(raw, row.settings), _settings(raw, {}))
    _save(admin, verifier_id, row, settings={})
    record_change("admin.source.settings_reset", **admin.actor, target_type="verifier", target_id=verifier_id,
                  before=old, after=new)
    _apply_now()
    return describe(verifier_id)


@audited_refusals("switch")
def set_enabled(admin: Admin, verifier_id: str, enabled: bool, version: int | None) -> Source:
    """Switch a source on (only if it would start) or off (not the national administrators' last way into the
    console: idp.admin.source_lockout); the login page follows in every worker."""
    raw = file_config(verifier_id)
    row = _override(verifier_id)
    _check_version(row, version)
    was = row.enabled if row and row.enabled is not None else bool(raw.get("enabled", True))
    if was == enabled:
        return describe(verifier_id)
    if enabled:
        validate(verifier_id)
    _save(admin, verifier_id, row, enabled=enabled)
    if not enabled:  # after _save: the revision row is locked, so two switches cannot both pass
        check_admins_keep_a_way_in(verifier_id)
    record_change("admin.source.enabled" if enabled else "admin.source.disabled", **admin.actor,
                  target_type="verifier", target_id=verifier_id, before={"enabled": was}, after={"enabled": enabled})
    _apply_now()
    return describe(verifier_id)
