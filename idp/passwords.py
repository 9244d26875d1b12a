"""Password and client-secret hashing with argon2id; parameters come from settings."""

from __future__ import annotations

import unicodedata
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from argon2.low_level import Type

from idp.settings import PasswordSettings
from idp.settings import current_settings


@cache
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def hasher(settings: PasswordSettings | None = None) -> PasswordHasher:
    """Return the argon2id hasher configured for this deployment."""
    p = settings or current_settings().passwords
    return _hasher(p.time_cost, p.memory_cost, p.parallelism)


def normalise(password: str) -> str:
    """NIST SP 800-63B §5.1.1.2: apply Unicode NFKC before hashing."""
    return unicodedata.normalize("NFKC", password)


def hash_secret(secret: str) -> str:
    """Hash a password or client secret with argon2id."""
    return hasher().hash(normalise(secret))


def verify_secret(stored_hash: str, secret: str) -> bool:
    """Check a secret against its stored argon2id hash, in constant time per hash."""
    try:
        return hasher().verify(stored_hash, normalise(secret))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Tell whether the hash was made with parameters other than the current ones."""
    return hasher().check_needs_rehash(stored_hash)


@cache
def _dummy_hash(time_cost: int, memory_cost: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_cost, parallelism).hash("no-such-account-dummy-password")


def burn_verification(secret: str) -> None:
    """Spend the same work as a real verification, for unknown accounts (no enumeration)."""
    p = current_settings().passwords
    verify_secret(_dummy_hash(p.time_cost, p.memory_cost, p.parallelism), secret)


# --- the policy for new passwords (NIST SP 800-63B §5.1.1.2) ---------------------------------------
COMMON_PASSWORDS_FILE = "data/common-passwords.txt"


class PasswordRefused(ValueError):
    """A new password the policy refuses: `code` is stable, `message` a translatable string."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (normalised, case-folded), read once per process."""
    from importlib.resources import files

    text = files("idp").joinpath(COMMON_PASSWORDS_FILE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """Whether the password (case-insensitively, after NFKC) is in the common-passwords list."""
    return normalise(password).casefold() in common_passwords()


def _identifier_forms(identifier: str) -> set[str]:
    """The digits of a personal ID or tax code; a branch tax code (0101234567-001) also as its base."""
    digits = "".join(c for c in identifier if c.isalnum()).casefold()
    forms = {digits} if len(digits) >= 6 else set()
    base = identifier.strip().split("-")[0]
    if base != identifier.strip() and len(base) >= 6:
        forms.add(base.casefold())
    return forms


def _is_repetitive_or_sequential(value: str) -> bool:
    """'aaaaaaaa', '12121212' (fewer than 3 distinct characters) or a plain run like 'abcdefgh'/'98765432'."""
    if len(set(value)) < 3:
        return True
    steps = {ord(b) - ord(a) for a, b in zip(value, value[1:], strict=False)}
    return steps in ({1}, {-1})


def check_new_password(password: str, identifiers: tuple[str, ...] = (), settings: PasswordSettings | None = None,
                       ) -> None:
    """Apply NIST SP 800-63B §5.1.1.2 to a new password; raise PasswordRefused with a clear message.

    Length counts Unicode code points after NFKC; no composition rules. Refused: too short or too
    long, in the common-passwords list, repetitive or sequential, or containing the account's personal
    ID number / tax code (`identifiers`).
    """
    from idp.i18n import N_

    policy = settings or current_settings().passwords
    value = normalise(password)
    if len(value) < policy.min_length:
        raise PasswordRefused("password_too_short", N_("The password is too short."))
    if len(value) > policy.max_length:
        raise PasswordRefused("password_too_long", N_("The password is too long."))
    folded = value.casefold()
    compact = "".join(c for c in folded if c.isalnum())
    if any(form and form in compact for identifier in identifiers if identifier
           for form in _identifier_forms(identifier)):
        raise PasswordRefused("password_contains_identifier", N_(
            "The password must not contain your personal ID number or tax code."))
    if folded in common_passwords():
        raise PasswordRefused("password_common", N_(
            "This password is too common: it is on the lists attackers try first. Choose another one."))
    if _is_repetitive_or_sequential(folded):
        raise PasswordRefused("password_repetitive", N_(
            "This password is too easy to guess (repeated or sequential characters). Choose another one."))
