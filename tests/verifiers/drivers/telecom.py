"""Conformance driver for the telecom source: sandbox operator and sandbox SMS gateway.

The answer of the final `complete` is the code, read from the harness outbox after stage 1.
"""

from __future__ import annotations

import re
from datetime import timedelta

from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Prompt
from idp.verifiers.base import Step
from idp.verifiers.base import Verifier
from idp.verifiers.conformance import Harness
from idp.verifiers.telecom import create

PHONE = "0912 345 678"
PERSONAL_ID = "001090012345"
GENEROUS = {name: "1000 per hour" for name in ("checks_per_ip", "checks_per_number", "checks_per_personal_id",
                                                "sms_per_ip", "sms_per_number")}


class TelecomDriver:
    kind = "telecom"
    stale_after = timedelta(minutes=5)  # the code's lifetime
    ignored_params = frozenset()

    def build(self, harness: Harness) -> Verifier:
        return create("telecom", {"limits": GENEROUS}, harness.services)

    def new_attempt(self, harness: Harness, verifier: Verifier) -> Attempt:
        return harness.new_attempt(verifier.id)

    def prepare(self, harness: Harness, verifier: Verifier, attempt: Attempt, step: Step) -> dict[str, str]:
        assert isinstance(step, Prompt) and step.template == "verifiers/telecom_phone.html"
        sent = len(harness.outbox)
        code_step = verifier.complete(attempt, {"phone": PHONE, "personal_id": PERSONAL_ID,
                                                "remote_addr": "127.0.0.1"})
        assert not isinstance(code_step, IdentityAssertion)
        assert isinstance(code_step, Prompt) and code_step.template == "verifiers/telecom_code.html"
        channel, _to, text = harness.outbox[sent]
        assert channel == "sms"
        return {"code": re.search(r"\b(\d{6})\b", text).group(1)}


DRIVER = TelecomDriver()
