"""Whether a source answers, for the login page: asked at most every 30 s per application and process.

The answers live in the application's extensions, not at module level, so two applications in one
process (tests, or a reloaded app) never see each other's answers.
"""

from __future__ import annotations

import logging
import time

from flask import current_app

from idp.verifiers.base import HealthReporting
from idp.verifiers.base import Verifier

log = logging.getLogger(__name__)
TTL_SECONDS = 30.0


def is_available(verifier: Verifier) -> bool:
    """True unless the module reports itself down (modules without a health check count as up)."""
    if not isinstance(verifier, HealthReporting):
        return True
    checked: dict[str, tuple[float, bool]] = current_app.extensions.setdefault("idp.verifier_health", {})
    now = time.monotonic()
    cached = checked.get(verifier.id)
    if cached and now - cached[0] < TTL_SECONDS:
        return cached[1]
    try:
        healthy = bool(verifier.is_healthy())
    except Exception:  # noqa: BLE001 - any failure of a health probe means "down", and is logged
        log.warning("health check of verifier %s failed", verifier.id, exc_info=True)
        healthy = False
    checked[verifier.id] = (now, healthy)
    return healthy
