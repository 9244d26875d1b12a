"""SMS gateways that deliver one-time codes.

- `SandboxGateway`: writes the message to the sandbox outbox (`services.outbox("sms", ...)`),
  which development deployments show at /sandbox/outbox. Refused in production.
- `HttpGateway`: a generic JSON API. Request: POST endpoint, `Authorization: Bearer <api_key>`,
  body {"to": "+84912345678", "text": "...", "sender": "<brand name>"}; any 2xx answer (at most
  `max_response_bytes`) means accepted. Anything else counts as the gateway being unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from idp.i18n import N_
from idp.verifiers.errors import ConfigError
from idp.verifiers.errors import SourceUnavailable
from idp.verifiers.telecom.http import HttpSettings
from idp.verifiers.telecom.http import UpstreamError
from idp.verifiers.telecom.http import log_failure
from idp.verifiers.telecom.http import parse_http_settings
from idp.verifiers.telecom.http import post_json


def sms_unavailable() -> SourceUnavailable:
    return SourceUnavailable("sms_unavailable", N_(
        "We cannot send text messages right now. Try again later or choose another way to log in."))


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, phone_e164: str, text: str) -> None:
        """Deliver `text` to `phone_e164`; raise SourceUnavailable when the gateway refuses or is down."""


class SandboxGateway:
    """Delivers to the sandbox outbox instead of a phone (development and tests only)."""

    def __init__(self, outbox: Callable[[str, str, str], None], available: bool = True) -> None:
        self._outbox = outbox
        self.available = available

    def __repr__(self) -> str:
        return f"SandboxGateway(available={self.available})"

    def send(self, phone_e164: str, text: str) -> None:
        if not self.available:
            raise sms_unavailable()
        self._outbox("sms", phone_e164, text)


class HttpGateway:
    """An SMS gateway's HTTPS API (generic JSON contract above)."""

    def __init__(self, settings: HttpSettings, sender: str) -> None:
        self.settings, self.sender = settings, sender

    def __repr__(self) -> str:
        return f"HttpGateway(host={self.settings.host!r})"

    def send(self, phone_e164: str, text: str) -> None:
        try:
            post_json(self.settings, {"to": phone_e164, "text": text, "sender": self.sender})
        except UpstreamError as exc:
            log_failure("SMS delivery", self.settings, exc)
            raise sms_unavailable() from exc


def build_gateway(raw: Any, prefix: str, sandbox: bool, outbox: Callable[[str, str, str], None]) -> SmsGateway:
    """Build the gateway from the `sms` table; ConfigError names the bad key."""
    if raw is None:
        raw = {"kind": "sandbox"}
    if not isinstance(raw, Mapping):
        raise ConfigError(prefix, f"{prefix} must be a table with kind = \"sandbox\" or \"http\".")
    kind = raw.get("kind")
    if kind == "http":
        sender = raw.get("sender", "")
        # A brandname (alphanumeric sender id) is at most 11 characters (GSM 03.40 TP-OA).
        if not isinstance(sender, str) or len(sender) > 11 or not all(c.isascii() and (c.isalnum() or c in " -.")
                                                                      for c in sender):
            raise ConfigError(f"{prefix}.sender", f"{prefix}.sender must be a brand name of at most 11 letters "
                                                  "or digits.")
        return HttpGateway(parse_http_settings(raw, prefix, sandbox, extra=frozenset({"sender"}),
                                               default_timeout=10.0), sender)
    if kind != "sandbox":
        raise ConfigError(f"{prefix}.kind", f"{prefix}.kind must be \"sandbox\" or \"http\".")
    if not sandbox:
        raise ConfigError(f"{prefix}.kind", f"{prefix}.kind = \"sandbox\" is refused in production: "
                                            "configure the SMS gateway (kind = \"http\").")
    unknown = sorted(set(raw) - {"kind", "available"})
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", f"Unknown setting {prefix}.{unknown[0]}.")
    available = raw.get("available", True)
    if not isinstance(available, bool):
        raise ConfigError(f"{prefix}.available", f"{prefix}.available must be true or false.")
    return SandboxGateway(outbox, available)
