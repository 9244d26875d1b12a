"""Human-typable codes: counter references and letter codes in an unambiguous alphabet.

Crockford's base 32 (digits and capital letters without I, L, O and U): 5 bits a character, so
10 characters carry 50 bits. People read them aloud and type them; input is forgiving: case,
spaces and dashes are ignored, O reads as 0 and I or L as 1.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
MAX_INPUT = 40  # longer input is refused before any work
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})
# scrypt (RFC 7914) makes an offline search of the 2^50 codes infeasible should the table leak;
# 4 MiB and ~8 ms a hash keeps a batch export of 10,000 letters near a minute.
_SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}


def new_code() -> str:
    """Return a fresh random code of LENGTH characters (no separators)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """Show a code in two groups of five: `ABCDE-12345`."""
    return f"{code[:5]}-{code[5:]}"


def normalise(typed: object) -> str | None:
    """Return the code a person typed in canonical form, or None when it cannot be one."""
    if not isinstance(typed, str) or len(typed) > MAX_INPUT or not typed.isascii():
        return None
    code = "".join(typed.split()).replace("-", "").upper().translate(_CONFUSABLE)
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def hash_code(code: str, salt: bytes) -> str:
    """Hash a letter code for storage (scrypt with a per-letter salt), hex."""
    return hashlib.scrypt(code.encode("ascii"), salt=salt, **_SCRYPT).hex()


def matches(code: str, salt_hex: str, stored_hex: str) -> bool:
    """Compare a typed code with a stored hash in constant time."""
    return hmac.compare_digest(hash_code(code, bytes.fromhex(salt_hex)), stored_hex)
