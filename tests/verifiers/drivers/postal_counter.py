"""Conformance driver for the Vietnam Post counter check: a clerk confirms, with the chip read."""

from __future__ import annotations

import secrets
from datetime import timedelta

from idp.verifiers.base import Attempt
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.conformance import Harness
from idp.verifiers.postal import create_counter
from idp.verifiers.postal.codes import normalise
from idp.verifiers.postal.models import find_request


class PostalCounterDriver:
    kind = "postal_counter"
    stale_after = timedelta(days=30)  # request_ttl_days, counted again from the clerk's confirmation
    ignored_params = frozenset()

    def build(self, harness: Harness) -> Verifier:
        return create_counter("vnpost_counter", {}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        """Each attempt is another logged-in citizen (the source needs an account)."""
        personal_id = f"0010900{secrets.randbelow(10**5):05d}"
        return harness.new_attempt(verifier.id, account_ref="ref-" + secrets.token_hex(16),
                                   on_file={"personal_id": personal_id, "full_name": "Trần Thị Mẫu", "kind": "citizen"})

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        """The citizen shows the reference at the counter; the clerk types the card's number."""
        reference = step.fields["reference"]
        row = find_request(normalise(reference))
        verifier.confirm(row, attempt.on_file["personal_id"], name_confirmed=True, chip_read=True, clerk_id=1,
                         post_office="100000")
        return {"reference": reference}


DRIVER = PostalCounterDriver()
