"""A development-only verifier: the person types what a real source would vouch for.

Used by tests and the demo like any other module; refused outside development and testing.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from datetime import date
from typing import Any

from idp.i18n import N_
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Interaction
from idp.verifiers.base import Level
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import ConfigError
from idp.verifiers.errors import SourceUnavailable
from idp.verifiers.errors import VerificationFailed

ATTRIBUTES = ("personal_id", "full_name", "birthdate", "gender")


class MockVerifier:
    def __init__(self, verifier_id: str, info: VerifierInfo, services: Services, available: bool = True) -> None:
        self.id, self.info, self._services, self._available = verifier_id, info, services, available

    def is_healthy(self) -> bool:
        return self._available

    def begin(self, attempt: Attempt) -> Prompt:
        if not self._available:
            raise SourceUnavailable("mock_down", N_(
                "This service is not available right now. Try again later or choose another way to log in."))
        attempt.data["nonce"] = secrets.token_urlsafe(16)
        return Prompt("verifiers/mock.html", {"max_level": self.info.max_level.name.lower(),
                                              "nonce": attempt.data["nonce"]})

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion:
        if attempt.data.get("nonce") is None:
            raise VerificationFailed("attempt_used", N_("This verification was already used. Start again."))
        # The form carries the attempt's nonce: an answer prepared for one attempt completes no other.
        if not hmac.compare_digest(str(params.get("nonce", "")).encode(), attempt.data["nonce"].encode()):
            raise VerificationFailed("attempt_unknown", N_("This verification is not known. Please start again."))
        if self._services.now() >= attempt.expires_at:
            raise VerificationFailed("attempt_expired", N_("This verification has expired. Please start again."))
        if params.get("outcome") == "cancel":
            raise VerificationFailed("cancelled", N_("The verification was cancelled."))
        pid = (params.get("personal_id") or "").strip()
        if not (len(pid) == 12 and pid.isascii() and pid.isdigit()):
            raise VerificationFailed("personal_id_format", N_("The personal ID number must be exactly 12 digits."))
        try:
            level = Level.parse(params.get("level") or "substantial")
            born = date.fromisoformat(params["birthdate"]) if params.get("birthdate") else None
        except ValueError as exc:
            raise VerificationFailed("mock_input", N_("The test data is not valid.")) from exc
        level = min(level, self.info.max_level)
        attempt.data.pop("nonce")  # single use: only a successful completion consumes the attempt
        claims = {"personal_id": pid, "full_name": (params.get("full_name") or "").strip()[:200]}
        if born:
            claims["birthdate"] = born.isoformat()
        if params.get("gender") in ("male", "female"):
            claims["gender"] = params["gender"]
        return IdentityAssertion(source=self.id, subject=f"mock:{pid}", level=level, amr=("mock",),
                                 verified_at=self._services.now(), claims={k: v for k, v in claims.items() if v},
                                 evidence_ref=secrets.token_hex(8))


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> MockVerifier:
    """Build the mock verifier; `max_level` (default high), `names` and `available` (simulate an
    outage) are optional."""
    unknown = [f"verifiers.{verifier_id}.{key}" for key in sorted(set(settings) - {"max_level", "names", "available"})]
    if unknown:
        raise ConfigError(unknown[0], f"Unknown setting {unknown[0]}.")
    try:
        max_level = Level.parse(settings.get("max_level", "high"))
    except ValueError as exc:
        raise ConfigError(f"verifiers.{verifier_id}.max_level", str(exc)) from exc
    names = dict(settings.get("names") or {"vi": "Nguồn thử nghiệm", "en": "Test source"})
    info = VerifierInfo(kind="mock", names=names, max_level=max_level, attributes=ATTRIBUTES,
                        interaction=Interaction.CHALLENGE)
    return MockVerifier(verifier_id, info, services, available=bool(settings.get("available", True)))
