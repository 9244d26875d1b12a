"""Read certificates from what people and proxies send: PEM text, URL-encoded PEM, flattened PEM.

Strict about what surrounds the blocks (only whitespace), lenient about whitespace inside them,
because proxies flatten line breaks (Apache's `%{SSL_CLIENT_CERT}s` in a header turns them into
spaces) or URL-encode the whole text (nginx's `$ssl_client_escaped_cert`).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote

from cryptography import x509

MAX_PEM_CHARS = 16_000  # one certificate: RSA-4096 with many extensions stays well under 8 KB of PEM
MAX_CHAIN_CHARS = 64_000
MAX_CHAIN_CERTS = 8
_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----")


class PemError(ValueError):
    """The text is not one or more certificates in PEM."""


def load_certificates(text: str, limit: int = MAX_CHAIN_CERTS,
                      max_chars: int = MAX_CHAIN_CHARS) -> list[x509.Certificate]:
    """Parse every PEM certificate block in `text`; raise PemError for anything else in it."""
    if not isinstance(text, str) or len(text) > max_chars or not text.isascii():
        raise PemError("not ASCII PEM text of an acceptable size")
    blocks: list[x509.Certificate] = []
    position = 0
    for match in _BLOCK.finditer(text):
        if text[position:match.start()].strip():
            raise PemError("text outside the PEM blocks")
        position = match.end()
        body = re.sub(r"\s+", "", match.group(1))
        try:
            der = base64.b64decode(body, validate=True)
            blocks.append(x509.load_der_x509_certificate(der))
        except (binascii.Error, ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is no ValueError
            raise PemError("a PEM block is not a certificate") from exc
        if len(blocks) > limit:
            raise PemError("too many certificates")
    if text[position:].strip():
        raise PemError("text outside the PEM blocks")
    return blocks


def load_certificate(text: str) -> x509.Certificate:
    """Parse exactly one PEM certificate."""
    certificates = load_certificates(text, limit=1, max_chars=MAX_PEM_CHARS)
    if len(certificates) != 1:
        raise PemError("expected exactly one certificate")
    return certificates[0]


def load_forwarded(value: str) -> x509.Certificate | None:
    """Read a client certificate forwarded by a TLS terminator in a header; None when it sent none.

    nginx sends `$ssl_client_escaped_cert` (URL-encoded PEM) and an empty value without one;
    Apache's mod_ssl sends "(null)". Both URL-encoded and raw (possibly flattened) PEM are read.
    """
    text = value.strip()
    if text in ("", "(null)", "-"):
        return None
    if "%" in text:
        text = unquote(text)
    return load_certificate(text)


def to_pem(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return certificate.public_bytes(Encoding.PEM).decode("ascii")
