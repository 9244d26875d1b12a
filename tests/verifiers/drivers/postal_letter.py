"""Conformance driver for the Vietnam Post letter: ask, export the batch, type the code."""

from __future__ import annotations

import secrets
from datetime import timedelta

from idp.extensions import db
from idp.verifiers.base import Attempt
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.conformance import Harness
from idp.verifiers.postal import create_letter
from idp.verifiers.postal.codes import display
from idp.verifiers.postal.models import Letter


class PostalLetterDriver:
    kind = "postal_letter"
    stale_after = timedelta(days=30)  # code_ttl_days from the export
    ignored_params = frozenset()

    def build(self, harness: Harness) -> Verifier:
        return create_letter("vnpost_letter", {}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        """Each attempt is another logged-in citizen with an address on file."""
        return harness.new_attempt(verifier.id, account_ref="ref-" + secrets.token_hex(16), on_file={
            "personal_id": "001090055501", "full_name": "Trần Thị Mẫu", "kind": "citizen",
            "address": "Số 12 phố Huế, Phường Hai Bà Trưng, Thành phố Hà Nội"})

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        """Ask for the letter, run the operator's export, read the code off the printed letter."""
        verifier.complete(attempt, {"action": "request"})
        letter = db.session.get(Letter, attempt.data["letter"])
        entries = verifier.export("TEST-BATCH")
        [entry] = [entry for entry in entries if entry["letter"] == display(letter.reference)]
        return {"code": entry["code"]}


DRIVER = PostalLetterDriver()
