"""Conformance driver for the certificate source: the development test CA (devpki) as sandbox.

The demo citizen signs the challenge with its key, as the person's signing software would; the
chain (issuing CA) is sent too, so tampering with any of the three answers must fail.
"""

from __future__ import annotations

import atexit
import base64
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.verifiers.base import Attempt
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.certificate import create
from idp.verifiers.certificate import devpki
from idp.verifiers.conformance import Harness

_directory: Path | None = None


def development_pki() -> Path:
    """One development test CA per test process (generated on first use, removed at exit)."""
    global _directory
    if _directory is None:
        _directory = Path(tempfile.mkdtemp(prefix="idp-devpki-")) / "devpki"
        atexit.register(shutil.rmtree, _directory.parent, True)
    return _directory


class CertificateDriver:
    kind = "certificate"
    stale_after = timedelta(minutes=5)  # the default challenge_ttl
    ignored_params = frozenset()

    def build(self, harness: Harness) -> Verifier:
        return create("certificate", {"development_pki": str(development_pki())}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        directory = development_pki()
        key = serialization.load_pem_private_key((directory / devpki.CITIZEN_KEY_FILE).read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = key.sign(step.fields["challenge"].encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        return {"certificate": (directory / devpki.CITIZEN_FILE).read_text(),
                "chain": (directory / devpki.CHAIN_FILE).read_text(),
                "signature": base64.b64encode(signature).decode("ascii")}


DRIVER = CertificateDriver()
