"""Telecom operator identity source: the subscriber registered to a SIM, plus a code by SMS.

Flow: `begin` shows the phone form (number + personal ID number). Stage 1 normalises the number,
asks the operator whether its subscriber is registered to that personal ID number and, on a
match, sends a 6-digit code by SMS; stage 2 checks the code. A match + code proves the person at
`match_level` (SUBSTANTIAL by default; amr sms + mno; claims personal_id and phone). Someone
already logged in may leave the personal ID number empty to add a phone number to their account:
no operator check, the code alone, `sms_level` (LOW by default; claim phone only, so the core links
it to the logged-in account and never finds or creates an account from it).

Owns the flow (verifier.py), phone numbers (phone.py), operator adapters (operators.py), SMS
gateways (sms.py), one-time codes (codes.py) and bounded upstream calls (http.py). Must not import
accounts, sessions or tokens (idp.accounts, idp.auth, idp.oidc). Settings and failure codes:
docs/sources/telecom.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from idp.verifiers.base import Interaction
from idp.verifiers.base import Level
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.errors import ConfigError
from idp.verifiers.telecom.http import resolve_secret
from idp.verifiers.telecom.operators import SandboxOperator
from idp.verifiers.telecom.operators import build_operator
from idp.verifiers.telecom.sms import SandboxGateway
from idp.verifiers.telecom.sms import build_gateway
from idp.verifiers.telecom.verifier import RateLimited
from idp.verifiers.telecom.verifier import TelecomConfig
from idp.verifiers.telecom.verifier import TelecomVerifier

__all__ = ["RateLimited", "TelecomVerifier", "create"]
log = logging.getLogger(__name__)

ATTRIBUTES = ("personal_id", "phone")
DEFAULT_NAMES = {"vi": "Nhà mạng di động (SIM chính chủ)", "en": "Mobile operator (registered SIM)"}
# Development-only key; production must set hmac_key (checked in `create`).
DEVELOPMENT_KEY = "telecom-development-key-not-for-production"
DEFAULT_LIMITS = {
    "checks_per_ip": "20 per hour",  # operator look-ups from one client address
    "checks_per_number": "5 per hour",  # ... about one phone number
    "checks_per_personal_id": "5 per hour",  # ... about one personal ID number
    "sms_per_ip": "20 per hour",  # codes requested (first and resent) from one client address
    "sms_per_number": "5 per hour",  # ... to one phone number
    "sms_per_account": "10 per hour",  # ... by one logged-in account (phone-only mode reaches any number)
}
LIMIT = re.compile(r"[1-9]\d{0,5} per (?:[1-9]\d{0,5} )?(?:second|minute|hour|day)s?")
SETTINGS = frozenset({"names", "match_level", "sms_level", "hmac_key", "operator", "sms", "limits",
                      "resend_after", "max_sends"})


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> TelecomVerifier:
    """Build a telecom source from `[verifiers.<id>]`; ConfigError names the bad key.

    Settings (all optional in development): names, match_level (low | substantial), sms_level
    (none | low), hmac_key (required in production, 32+ characters), operator and sms tables
    (kind = "sandbox" | "http"), limits, resend_after (seconds), max_sends (per attempt).
    """
    prefix = f"verifiers.{verifier_id}"
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise ConfigError(f"{prefix}.{unknown[0]}", f"Unknown setting {prefix}.{unknown[0]}.")
    match_level = _level(settings, "match_level", "substantial", (Level.LOW, Level.SUBSTANTIAL), prefix)
    sms_level = _level(settings, "sms_level", "low", (Level.NONE, Level.LOW), prefix)
    config = TelecomConfig(match_level=match_level, sms_level=sms_level,
                           limits=_limits(settings.get("limits", {}), f"{prefix}.limits"),
                           resend_after=timedelta(seconds=_integer(settings, "resend_after", 60, 10, 600, prefix)),
                           max_sends=_integer(settings, "max_sends", 3, 1, 5, prefix))
    names = _names(settings.get("names", DEFAULT_NAMES), f"{prefix}.names")
    key = _hmac_key(settings.get("hmac_key"), f"{prefix}.hmac_key", services.sandbox)
    operator = build_operator(settings.get("operator"), f"{prefix}.operator", services.sandbox)
    gateway = build_gateway(settings.get("sms"), f"{prefix}.sms", services.sandbox, services.outbox)
    if isinstance(gateway, SandboxGateway) or isinstance(operator, SandboxOperator):
        log.warning("verifier %s uses sandbox stand-ins: for development and tests only", verifier_id)
    info = VerifierInfo(kind="telecom", names=names, max_level=max(match_level, sms_level), attributes=ATTRIBUTES,
                        interaction=Interaction.CHALLENGE)
    return TelecomVerifier(verifier_id, info, services, config, operator, gateway, key)


def _level(settings: Mapping[str, Any], name: str, default: str, allowed: tuple[Level, ...], prefix: str) -> Level:
    key = f"{prefix}.{name}"
    raw = settings.get(name, default)
    try:
        level = Level.parse(raw) if isinstance(raw, str) else None
    except ValueError:
        level = None
    if level not in allowed:
        # NIST SP 800-63B §5.1.3.3: SMS is a restricted authenticator; an operator's registry check
        # is not an in-person proof, so telecom stops at substantial.
        choices = " or ".join(level.name.lower() for level in allowed)
        raise ConfigError(key, f"{key} must be {choices}.")
    return level


def _integer(settings: Mapping[str, Any], name: str, default: int, low: int, high: int, prefix: str) -> int:
    value = settings.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{prefix}.{name}", f"{prefix}.{name} must be an integer from {low} to {high}.")
    return value


def _limits(raw: Any, key: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, f"{key} must be a table.")
    unknown = sorted(set(raw) - set(DEFAULT_LIMITS))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"Unknown setting {key}.{unknown[0]}.")
    limits = {**DEFAULT_LIMITS, **raw}
    for name, value in limits.items():
        if not isinstance(value, str) or not LIMIT.fullmatch(value):
            raise ConfigError(f"{key}.{name}", f"{key}.{name} must read like \"5 per hour\".")
    return limits


def _names(raw: Any, key: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in raw.items()):
        raise ConfigError(key, f"{key} must be a table of language = display name, e.g. {{ vi = \"...\" }}.")
    return dict(raw)


def _hmac_key(raw: Any, key: str, sandbox: bool) -> bytes:
    """The key for subjects, stored codes and rate-limit keys; fixed for the life of the links."""
    if raw is None:
        if not sandbox:
            raise ConfigError(key, f"{key} is required in production (env:NAME or file:/path, 32+ characters).")
        return DEVELOPMENT_KEY.encode()
    value = resolve_secret(raw, key)
    if len(value) < 32:
        raise ConfigError(key, f"{key} must be at least 32 characters.")
    return value.encode("utf-8")
