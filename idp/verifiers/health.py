"""Whether a source answers, for the login page: asked at most every 30 s per process."""

from __future__ import annotations

import logging
import time

from idp.verifiers.base import HealthReporting
from idp.verifiers.base import Verifier

log = logging.getLogger(__name__)
TTL_SECONDS = 30.0
_checked: dict[int, tuple[float, bool]] = {}


def is_available(verifier: Verifier) -> bool:
    """True unless the module reports itself down (modules without a health check count as up)."""
    if not isinstance(verifier, HealthReporting):
        return True
    now = time.monotonic()
    cached = _checked.get(id(verifier))
    if cached and now - cached[0] < TTL_SECONDS:
        return cached[1]
    try:
        healthy = bool(verifier.is_healthy())
    except Exception:  # noqa: BLE001 - any failure of a health probe means "down", and is logged
        log.warning("health check of verifier %s failed", verifier.id, exc_info=True)
        healthy = False
    _checked[id(verifier)] = (now, healthy)
    return healthy
