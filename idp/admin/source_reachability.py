"""Whether a source's upstream answers, on an administrator's request: the module's own health check
(HealthReporting), run with a bounded time, the result shown and audited."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from flask import current_app

from idp.admin.access import Admin
from idp.admin.source_settings import file_config
from idp.admin.source_settings import validate
from idp.admin.source_values import SourceRefused
from idp.audit import record
from idp.extensions import db
from idp.verifiers.base import HealthReporting
from idp.verifiers.base import Verifier
from idp.verifiers.registry import verifiers

TIMEOUT_SECONDS = 10.0
# reachable | unreachable | timeout (no answer within TIMEOUT_SECONDS) | error (the check itself failed)
# | not_reported (the module has no health check) | not_built (its settings would not start)
OUTCOMES = ("reachable", "unreachable", "timeout", "error", "not_reported", "not_built")


@dataclass(frozen=True)
class Reachability:
    verifier_id: str
    outcome: str
    elapsed_ms: int | None
    detail: str | None = None  # for not_built: the module's message naming the key


def _run(verifier: Verifier) -> tuple[str, int]:
    app = current_app._get_current_object()  # noqa: SLF001 - the thread needs the application itself

    def probe() -> bool:
        with app.app_context():
            return bool(verifier.is_healthy())  # type: ignore[attr-defined]

    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"health-{verifier.id}")
    try:
        healthy = pool.submit(probe).result(timeout=TIMEOUT_SECONDS)
        outcome = "reachable" if healthy else "unreachable"
    except FutureTimeout:
        outcome = "timeout"  # the probe thread ends on its own, bounded by the module's timeouts
    except Exception:  # noqa: BLE001 - a failing health probe is a result to show, and is logged
        current_app.logger.warning("health check of source %s failed", verifier.id, exc_info=True)
        outcome = "error"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return outcome, int((time.monotonic() - started) * 1000)


def check_reachability(admin: Admin, verifier_id: str) -> Reachability:
    """Ask the running verifier (or, for a disabled source, one built from its settings) whether its
    upstream answers; audited as admin.source.checked."""
    file_config(verifier_id)
    verifier = verifiers().get(verifier_id)
    result: Reachability
    if verifier is None:
        try:
            verifier = validate(verifier_id)
        except SourceRefused as exc:
            result = Reachability(verifier_id, "not_built", None, exc.params.get("detail"))
    if verifier is not None and not isinstance(verifier, HealthReporting):
        result = Reachability(verifier_id, "not_reported", None)
    elif verifier is not None:
        outcome, elapsed = _run(verifier)
        result = Reachability(verifier_id, outcome, elapsed)
    record("admin.source.checked", account_id=admin.account_id, client_id=admin.client_id, verifier_id=verifier_id,
           outcome=result.outcome)
    db.session.commit()
    return result
