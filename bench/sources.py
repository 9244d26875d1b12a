"""Cost of one verification per identity source, in process, on one core.

For each built-in kind, the conformance driver (tests/verifiers/drivers/<kind>.py) plays the
person and the source's sandbox, exactly as the test suite does: VNeID talks to its sandbox
provider over real HTTP on 127.0.0.1, the certificate source validates a chain to a trust anchor
(and, in `certificate_crl`, checks a CRL served over HTTP, cached after the first fetch), telecom
checks a subscriber and an SMS code, the postal sources write and read their rows in SQLite.

Reported per kind: verifications per CPU-second of this process, and the wall time of the whole
round trip (begin, the person's part, complete) and of `complete` alone (p50/p99, ms). The VNeID
sandbox runs in a thread of this process, so its CPU time is counted too (an upper bound).

    .venv/bin/python bench/sources.py                    # every kind, 200 verifications each
    .venv/bin/python bench/sources.py --count 50 --kinds vneid,certificate_crl
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idp import create_app  # noqa: E402
from idp.extensions import db  # noqa: E402
from idp.verifiers.base import IdentityAssertion  # noqa: E402
from idp.verifiers.conformance import Harness  # noqa: E402
from tests.conftest import base_settings  # noqa: E402
from tests.conftest import migrate  # noqa: E402
from tests.verifiers.test_conformance import DRIVERS  # noqa: E402


class CertificateWithCrl:
    """The certificate source with revocation on: a public test CA whose CRL is served over HTTP."""

    kind = "certificate_crl"

    def __init__(self) -> None:
        from tests.verifiers.pki import RevocationServer
        from tests.verifiers.pki import build_pki

        self._server = RevocationServer().__enter__()
        self.pki = build_pki(self._server)

    def build(self, harness: Harness) -> Any:
        from idp.verifiers.certificate import create

        return create("certificate", {"anchors": [{"pem": self.pki.root.pem, "kind": "public", "name": "Bench CA",
                                                   "intermediates": [self.pki.intermediate.pem]}]}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Any) -> Any:
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier: Any, attempt: Any, step: Any) -> dict[str, str]:
        from tests.verifiers.pki import sign

        return {"certificate": self.pki.citizen.pem, "chain": self.pki.chain,
                "signature": sign(self.pki.citizen, step.fields["challenge"])}


def measure(driver: Any, count: int) -> dict[str, Any]:
    harness = Harness()
    verifier = driver.build(harness)
    for _ in range(3):  # warm-up: imports, JWKS and CRL caches, connections
        _one(driver, harness, verifier)
    rounds, completes = [], []
    cpu_start = time.process_time()
    for _ in range(count):
        total, complete = _one(driver, harness, verifier)
        rounds.append(total)
        completes.append(complete)
    cpu = time.process_time() - cpu_start
    return {"kind": driver.kind, "count": count, "per_cpu_s": round(count / cpu, 1),
            "round_p50_ms": _ms(statistics.median(rounds)), "round_p99_ms": _ms(_p99(rounds)),
            "complete_p50_ms": _ms(statistics.median(completes)), "complete_p99_ms": _ms(_p99(completes))}


def _one(driver: Any, harness: Harness, verifier: Any) -> tuple[float, float]:
    started = time.perf_counter()
    attempt = driver.new_attempt(harness, verifier)
    params = driver.prepare(harness, verifier, attempt, verifier.begin(attempt))
    before = time.perf_counter()
    result = verifier.complete(attempt, params)
    done = time.perf_counter()
    if not isinstance(result, IdentityAssertion):
        raise SystemExit(f"{driver.kind}: the prepared answer did not verify: {result!r}")
    harness.counts.clear()  # the bench is one person many times: do not hit the rate limits
    return done - started, done - before


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="verifications per kind (after 3 warm-up ones)")
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all, plus certificate_crl)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the sandbox warnings and per-login INFO lines are not the point here
    drivers = {kind: driver for kind, driver in DRIVERS.items() if kind != "mock"}
    wanted = [k for k in args.kinds.split(",") if k] or [*sorted(drivers), "certificate_crl"]
    with tempfile.TemporaryDirectory() as folder:
        settings = base_settings(f"sqlite:///{folder}/bench.db", Path(folder) / "keys")
        migrate(create_app(settings))
        app = create_app(settings)
        rows = []
        with app.app_context():
            for kind in wanted:
                driver = CertificateWithCrl() if kind == "certificate_crl" else drivers[kind]
                rows.append(measure(driver, args.count))
            db.session.remove()
            db.engine.dispose()
    print(f"{'kind':<16} {'count':>6} {'verif/CPU-s':>12} {'round p50/p99 ms':>18} {'complete p50/p99 ms':>20}")
    for row in rows:
        print(f"{row['kind']:<16} {row['count']:>6} {row['per_cpu_s']:>12} "
              f"{row['round_p50_ms']:>8}/{row['round_p99_ms']:<9} {row['complete_p50_ms']:>9}/{row['complete_p99_ms']}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
