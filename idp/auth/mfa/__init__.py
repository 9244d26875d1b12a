"""Second factors: the contract each kind implements and the registry of the enabled kinds.

Owns how a second factor is checked after the password (and for a step-up of a live session).
A kind (totp, recovery, webauthn) is one module exposing `FACTOR`; it stores its own secrets and
never opens sessions: `verify` returns what was proved and the core (idp.auth.session.authenticate)
raises the session. Must not import idp.oidc.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from typing import Protocol
from typing import runtime_checkable

from flask import Flask
from flask import current_app

from idp.accounts.models import Account
from idp.verifiers.base import Level

# The built-in kinds, in the order the second-step page offers them.
BUILT_IN: tuple[str, ...] = ("idp.auth.mfa.totp", "idp.auth.mfa.recovery", "idp.auth.mfa.webauthn")


@dataclass(frozen=True, slots=True)
class FactorResult:
    """What a verified second factor proved: RFC 8176 `amr` values and the authentication level it
    gives together with the password (e.g. TOTP: substantial; a security key: high)."""

    amr: tuple[str, ...]
    level: Level
    notice: str | None = None  # shown once before going on, e.g. how many recovery codes remain


@runtime_checkable
class SecondFactor(Protocol):
    kind: str

    def is_enrolled(self, account: Account) -> bool:
        """Whether the account has this factor ready for use."""

    def challenge(self, account: Account) -> Mapping[str, Any]:
        """Fields for this kind's part of the second-step page: templates/mfa/<kind>_challenge.html,
        or `fields["template"]` (e.g. the shared one-code form mfa/code_challenge.html with `title`,
        `label`, `hint`, `inputmode`, `maxlength`)."""

    def verify(self, account: Account, form: Mapping[str, str]) -> FactorResult:
        """Check the answer; raise VerificationFailed with a clear message when it is wrong."""


def init_factors(app: Flask, kinds: tuple[str, ...] = BUILT_IN) -> None:
    """Load the second-factor kinds into `app.extensions` (no module-level registry)."""
    loaded = [import_module(path).FACTOR for path in kinds]
    app.extensions["idp.factors"] = {factor.kind: factor for factor in loaded}


def factors() -> dict[str, SecondFactor]:
    return current_app.extensions.get("idp.factors", {})


def enrolled_factors(account: Account) -> list[SecondFactor]:
    """The account's usable second factors, in the page's order."""
    return [factor for factor in factors().values() if factor.is_enrolled(account)]


# Kinds that only back up the others (recovery codes): they never make a factor "not the last".
BACKUP_KINDS = frozenset({"recovery"})


def has_other_factor(account: Account, kind: str) -> bool:
    """Whether the account has a second factor of another kind, backups not counted."""
    # Backups are skipped before asking them: a backup's own is_enrolled asks this function.
    return any(other != kind and other not in BACKUP_KINDS and factor.is_enrolled(account)
               for other, factor in factors().items())


def discard_backups(account: Account) -> int:
    """The last second factor went: delete its backups too (so an old printout cannot come back to
    life); return how many were deleted."""
    from idp.auth.mfa import recovery

    return recovery.discard(account) if "recovery" in factors() else 0
