"""The signed challenge: proof that the person holds the certificate's private key.

The challenge is one line of ASCII naming our service (its origin), the time and a random nonce,
so a signature made for it cannot be reused elsewhere or later. The person's signing software
signs its UTF-8 bytes (a "raw" signature, not CMS/PKCS#7) and returns it in Base64.

Accepted signatures: RSA PKCS#1 v1.5 or PSS (MGF1, any salt length) with SHA-256; ECDSA with
SHA-256 or SHA-384 on P-256/P-384/P-521, DER-encoded or as raw r||s (what WebCrypto gives).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_SIGNATURE_CHARS = 4096


def new_challenge(origin: str, now: datetime) -> str:
    """Return a fresh challenge text for `origin` (e.g. "https://sso.gov.vn") at `now`."""
    return f"Login to {origin} at {now:%Y-%m-%dT%H:%M:%SZ} nonce {secrets.token_urlsafe(24)}"


def decode_signature(value: str) -> bytes | None:
    """Base64 (standard or URL-safe, padding optional, whitespace ignored); None if it is not."""
    if not isinstance(value, str) or len(value) > MAX_SIGNATURE_CHARS or not value.isascii():
        return None
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw or None


def is_valid_signature(public_key: object, signature: bytes, message: bytes) -> bool:
    """Tell whether `signature` over `message` verifies with `public_key` under an accepted scheme."""
    if isinstance(public_key, rsa.RSAPublicKey):
        schemes = (padding.PKCS1v15(), padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO))
        return any(_verifies(lambda s=scheme: public_key.verify(signature, message, s, hashes.SHA256()))
                   for scheme in schemes)
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        candidates = [signature]
        size = (public_key.curve.key_size + 7) // 8
        if len(signature) == 2 * size:  # IEEE P1363 r||s
            candidates.append(encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                                   int.from_bytes(signature[size:], "big")))
        return any(_verifies(lambda c=candidate, h=algorithm: public_key.verify(c, message, ec.ECDSA(h)))
                   for candidate in candidates for algorithm in (hashes.SHA256(), hashes.SHA384()))
    return False


def _verifies(check: object) -> bool:
    try:
        check()  # type: ignore[operator]
    except (InvalidSignature, ValueError):
        return False
    return True
