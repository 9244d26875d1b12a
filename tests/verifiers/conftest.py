"""Fixtures shared by the identity-source tests: the test PKI with its revocation server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.verifiers.pki import Hierarchy
from tests.verifiers.pki import RevocationServer
from tests.verifiers.pki import build_pki


@pytest.fixture(scope="module")
def pki() -> Iterator[Hierarchy]:
    """A whole test PKI built at run time, its CRLs and OCSP responders served on 127.0.0.1."""
    with RevocationServer() as server:
        yield build_pki(server)


@pytest.fixture(autouse=True)
def _fresh_revocation(request: pytest.FixtureRequest) -> None:
    """Tests that use the PKI start from its default revocation state, with no hits counted."""
    if "pki" in request.fixturenames:
        pki = request.getfixturevalue("pki")
        pki.publish()
        pki.server.hits.clear()
