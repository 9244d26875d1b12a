"""Find verifier factories through the `idp.verifiers` entry-point group and build the configured ones.

Configuration: one table per instance, `[verifiers.<id>]`, with `kind` (defaults to the id),
`enabled` (default true) and the module's own settings. The same kind may appear twice (two
telecom operators). An unknown kind stops start-up with the list of available kinds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from flask import Flask
from flask import current_app

from idp.errors import ConfigError
from idp.verifiers.base import Factory
from idp.verifiers.base import Services
from idp.verifiers.base import Verifier

log = logging.getLogger(__name__)
GROUP = "idp.verifiers"
CORE_KEYS = ("kind", "enabled")
DEVELOPMENT_ONLY = ("mock",)


def available_kinds() -> dict[str, Any]:
    """Return the registered entry points by kind (not yet imported)."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load_factory(kind: str, key: str) -> Factory:
    """Import one kind's factory; ConfigError naming `key` when the kind is unknown."""
    found = available_kinds()
    if kind not in found:
        raise ConfigError(key, f"Unknown verifier kind {kind!r} at {key}; available: {', '.join(sorted(found))}.")
    return found[kind].load()


def build_verifiers(configs: Mapping[str, Mapping[str, Any]], services: Services, env: str) -> dict[str, Verifier]:
    """Create every enabled verifier; each validates its own settings (ConfigError names the key)."""
    built: dict[str, Verifier] = {}
    for verifier_id, raw in configs.items():
        if not isinstance(raw, Mapping):
            raise ConfigError(f"verifiers.{verifier_id}", f"verifiers.{verifier_id} must be a table.")
        kind = raw.get("kind", verifier_id)
        if not raw.get("enabled", True):
            continue
        if kind in DEVELOPMENT_ONLY:
            if env not in ("development", "testing"):
                raise ConfigError(f"verifiers.{verifier_id}.kind", f"The {kind} verifier is for development only.")
            log.warning("verifier %s of kind %s is for development and tests only", verifier_id, kind)
        factory = load_factory(kind, f"verifiers.{verifier_id}.kind")
        settings = {k: v for k, v in raw.items() if k not in CORE_KEYS}
        verifier = factory(verifier_id, settings, services)
        if not isinstance(verifier, Verifier):
            raise ConfigError(f"verifiers.{verifier_id}.kind", f"{kind} did not build a verifier.")
        built[verifier_id] = verifier
    return built


def init_verifiers(app: Flask, configs: Mapping[str, Mapping[str, Any]], services: Services, env: str) -> None:
    """Build the configured verifiers into `app.extensions` (no module-level registry); settings stored
    in the admin console are applied on top at first use and whenever they change (overrides.py)."""
    from idp.verifiers.overrides import StoredOverrides

    app.extensions["idp.verifiers"] = build_verifiers(configs, services, env)
    app.extensions["idp.verifier_overrides"] = StoredOverrides(configs, services, env)


def verifiers() -> dict[str, Verifier]:
    """Return the enabled verifiers of the current application, by id."""
    stored = current_app.extensions.get("idp.verifier_overrides")
    if stored is not None:
        stored.refresh()  # a clock comparison; reads the database at most every few seconds
    return current_app.extensions["idp.verifiers"]


def browser_origins() -> list[str]:
    """The origins enabled REDIRECT sources send the browser to (for CSP form-action)."""
    from idp.verifiers.base import SendsBrowser

    found: dict[str, None] = {}
    for verifier in verifiers().values():
        if isinstance(verifier, SendsBrowser):
            found.update(dict.fromkeys(verifier.browser_origins()))
    return list(found)
