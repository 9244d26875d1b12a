"""Conformance driver for the development mock source."""

from __future__ import annotations

from datetime import timedelta

from idp.verifiers.base import Attempt
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.conformance import Harness
from idp.verifiers.mock import create


class MockDriver:
    kind = "mock"
    stale_after = timedelta(minutes=15)
    ignored_params = frozenset({"full_name", "birthdate", "level"})

    def build(self, harness: Harness) -> Verifier:
        return create("mock", {}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        return {"nonce": step.fields["nonce"], "personal_id": "001090055501", "full_name": "Trần Thị Mẫu",
                "birthdate": "1990-05-05", "level": "substantial"}


DRIVER = MockDriver()
