"""Secrets encrypted at rest (TOTP seeds, ...): AES-256-GCM with a key per purpose.

The key is derived with HKDF-SHA256 from `subject_secret`, the deployment secret that must never
change (docs/operations.md), with the purpose as HKDF info and as associated data, so a value
sealed for one purpose never opens for another. The sealed form is text: "v1." + base64url of
nonce || ciphertext || tag.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.settings import DEV_SECRET
from idp.settings import current_settings

VERSION = "v1."
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed value that does not open: altered, for another purpose, or another deployment's."""


def seal(plaintext: bytes, purpose: str) -> str:
    """Encrypt `plaintext` for `purpose` (e.g. "totp"); return text safe to store in a column."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(purpose)).encrypt(nonce, plaintext, purpose.encode())
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(token: str, purpose: str) -> bytes:
    """Decrypt what `seal` returned for the same purpose; raise SealError otherwise."""
    if not token.startswith(VERSION):
        raise SealError("unknown sealed-value version")
    try:
        raw = base64.urlsafe_b64decode(token[len(VERSION):].encode("ascii"))
        return AESGCM(_key(purpose)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
    except (ValueError, InvalidTag) as exc:
        raise SealError("the sealed value does not open") from exc


def _key(purpose: str) -> bytes:
    secret = (current_settings().subject_secret or DEV_SECRET).encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp at-rest", info=purpose.encode()).derive(secret)
