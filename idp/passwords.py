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
