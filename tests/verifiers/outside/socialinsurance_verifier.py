"""A verifier from OUTSIDE the idp package: Vietnam Social Insurance (BHXH) as a test-only source.

It is installed into a temporary folder with its own entry point (see test_outside_module.py),
exactly as a separate pip package would be, and uses only the public contract.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Interaction
from idp.verifiers.base import Level
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import ConfigError
from idp.verifiers.errors import VerificationFailed


class SocialInsuranceVerifier:
    def __init__(self, verifier_id: str, members: Mapping[str, Mapping[str, str]], services: Services) -> None:
        self.id = verifier_id
        self.info = VerifierInfo(kind="socialinsurance", names={"vi": "Bảo hiểm xã hội", "en": "Social Insurance"},
                                 max_level=Level.SUBSTANTIAL, attributes=("personal_id", "full_name"),
                                 interaction=Interaction.CHALLENGE)
        self._members, self._services = members, services

    def begin(self, attempt: Attempt) -> Prompt:
        attempt.data["nonce"] = secrets.token_urlsafe(16)
        return Prompt("verifiers/mock.html", {"nonce": attempt.data["nonce"]})  # reuses the provider's form

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion:
        nonce = attempt.data.get("nonce")
        if nonce is None:
            raise VerificationFailed("attempt_used", "This verification was already used.")
        if not hmac.compare_digest(str(params.get("nonce", "")).encode(), nonce.encode()):
            raise VerificationFailed("attempt_unknown", "This verification is not known. Please start again.")
        if self._services.now() >= attempt.expires_at:
            raise VerificationFailed("attempt_expired", "This verification has expired. Please start again.")
        member = self._members.get(params.get("personal_id", ""))
        if member is None:
            raise VerificationFailed("not_insured", "No social insurance record for this person.")
        del attempt.data["nonce"]
        return IdentityAssertion(source=self.id, subject=member["book"], level=Level.SUBSTANTIAL, amr=("bhxh",),
                                 verified_at=self._services.now(),
                                 claims={"personal_id": params["personal_id"], "full_name": member["name"]},
                                 evidence_ref=secrets.token_hex(6))


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> SocialInsuranceVerifier:
    members = settings.get("members")
    if not isinstance(members, Mapping):
        raise ConfigError(f"verifiers.{verifier_id}.members", "members must be a table of insured people.")
    return SocialInsuranceVerifier(verifier_id, members, services)
