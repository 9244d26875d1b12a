"""Mobile operator adapters: is this SIM's subscriber registered to this personal ID number?

In Vietnam every SIM is registered to its holder's identity document (Decree 49/2017/ND-CP and
Decree 163/2024/ND-CP on subscriber information); the operator can answer whether a number's
subscriber is the holder of a given personal ID number. Adapters answer True, False or UNKNOWN
(the operator does not hold this number, e.g. it was ported away) and raise SourceUnavailable
when the operator cannot be asked.

- `SandboxOperator`: demo subscribers from the settings (or DEMO_SUBSCRIBERS); development only.
- `HttpOperator`: a generic JSON API. Request: POST endpoint, `Authorization: Bearer <api_key>`,
  body {"msisdn": "84912345678", "personal_id": "001090012345", "reference": "<our random id>"}.
  Answer: 2xx with {"result": "match" | "mismatch" | "unknown"}. Anything else counts as the
  operator being unavailable.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from idp.errors import IdpError
from idp.i18n import N_
from idp.verifiers.errors import ConfigError
from idp.verifiers.errors import SourceUnavailable
from idp.verifiers.telecom import phone
from idp.verifiers.telecom.http import HttpSettings
from idp.verifiers.telecom.http import UpstreamError
from idp.verifiers.telecom.http import log_failure
from idp.verifiers.telecom.http import parse_http_settings
from idp.verifiers.telecom.http import post_json

log = logging.getLogger(__name__)

# Demo subscribers for development: the demo citizen An (001090012345, +84912345678, see
# idp/demo.py), Bình (079301004567), and two people with no account yet.
DEMO_SUBSCRIBERS: Mapping[str, str] = {
    "+84912345678": "001090012345",  # VinaPhone prefix 091
    "+84387654321": "079301004567",  # Viettel prefix 038
    "+84701234567": "001099000123",  # MobiFone prefix 070
    "+84561234567": "001099000456",  # Vietnamobile prefix 056
}


class Unknown(enum.Enum):
    """The operator cannot say (the number is not its subscriber's, or has no registration)."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


def operator_unavailable() -> SourceUnavailable:
    return SourceUnavailable("operator_unavailable", N_(
        "Your mobile operator cannot be reached right now. Try again later or choose another way to log in."))


@runtime_checkable
class OperatorAdapter(Protocol):
    def is_registered_to(self, phone_e164: str, personal_id: str, reference: str = "") -> bool | Unknown:
        """Tell whether the subscriber of `phone_e164` is registered to `personal_id`; raise
        SourceUnavailable when the operator cannot be asked. `reference` is our random request id
        (sent upstream so both sides can find the transaction; never personal data)."""


class SandboxOperator:
    """A stand-in operator with a fixed list of subscribers (development and tests only)."""

    def __init__(self, subscribers: Mapping[str, str], available: bool = True) -> None:
        self._subscribers = dict(subscribers)
        self.available = available

    def __repr__(self) -> str:
        return f"SandboxOperator(subscribers={len(self._subscribers)}, available={self.available})"

    def is_registered_to(self, phone_e164: str, personal_id: str, reference: str = "") -> bool | Unknown:
        if not self.available:
            raise operator_unavailable()
        registered = self._subscribers.get(phone_e164)
        if registered is None:
            return UNKNOWN
        return registered == personal_id


class HttpOperator:
    """A mobile operator's subscriber-check API over HTTPS (generic JSON contract above)."""

    RESULTS = {"match": True, "mismatch": False, "unknown": UNKNOWN}

    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"HttpOperator(host={self.settings.host!r})"

    def is_registered_to(self, phone_e164: str, personal_id: str, reference: str = "") -> bool | Unknown:
        payload = {"msisdn": phone_e164.lstrip("+"), "personal_id": personal_id, "reference": reference}
        try:
            answer = post_json(self.settings, payload)
            if not isinstance(answer, dict) or not isinstance(answer.get("result"), str) \
                    or answer["result"] not in self.RESULTS:
                raise UpstreamError("unexpected answer")
        except UpstreamError as exc:
            log_failure("subscriber check", self.settings, exc)
            raise operator_unavailable() from exc
        return self.RESULTS[answer["result"]]


def build_operator(raw: Any, prefix: str, sandbox: bool) -> OperatorAdapter:
    """Build the adapter from the `operator` table; ConfigError names the bad key."""
    if raw is None:
        raw = {"kind": "sandbox"}
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, f"{prefix} must be a table with kind = \"sandbox\" or \"http\".")
    kind = raw.get("kind")
    if kind == "http":
        return HttpOperator(parse_http_settings(raw, prefix, sandbox))
    if kind != "sandbox":
        raise ConfigError(f"{prefix}.kind", f"{prefix}.kind must be \"sandbox\" or \"http\".")
    if not sandbox:
        raise ConfigError(f"{prefix}.kind", f"{prefix}.kind = \"sandbox\" is refused in production: "
                                            "configure the operator's API (kind = \"http\").")
    unknown = sorted(set(raw) - {"kind", "subscribers", "available"})
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", f"Unknown setting {prefix}.{unknown[0]}.")
    available = raw.get("available", True)
    if not isinstance(available, bool):
        raise ConfigError(f"{prefix}.available", f"{prefix}.available must be true or false.")
    return SandboxOperator(_subscribers(raw.get("subscribers", DEMO_SUBSCRIBERS), f"{prefix}.subscribers"),
                           available)


def _subscribers(raw: Any, key: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f"{key} must be a table of phone number = personal ID number.")
    found: dict[str, str] = {}
    for number, personal_id in raw.items():
        try:
            e164 = phone.normalise(number)
        except IdpError as exc:
            raise ConfigError(key, f"{key}: {number!r} is not a Vietnamese mobile number ({exc.message})") from exc
        if not (isinstance(personal_id, str) and len(personal_id) == 12 and personal_id.isascii()
                and personal_id.isdigit()):
            raise ConfigError(key, f"{key}: the personal ID number for {number!r} must be 12 digits.")
        if e164 in found:
            raise ConfigError(key, f"{key}: {number!r} is listed twice.")
        found[e164] = personal_id
    return found
