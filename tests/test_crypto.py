"""Secrets at rest (idp/crypto.py): sealed per purpose, tamper-evident, never stored in clear."""

from __future__ import annotations

import base64

import pytest

from idp.crypto import SealError
from idp.crypto import seal
from idp.crypto import unseal


def test_sealed_values_open_only_for_their_purpose_and_unaltered(app):
    with app.app_context():
        token = seal(b"JBSWY3DPEHPK3PXP", "totp")
        assert b"JBSWY3DPEHPK3PXP" not in token.encode() and unseal(token, "totp") == b"JBSWY3DPEHPK3PXP"
        assert seal(b"same", "totp") != seal(b"same", "totp")  # a fresh nonce each time
        with pytest.raises(SealError):
            unseal(token, "recovery")
        raw = bytearray(base64.urlsafe_b64decode(token[3:]))
        raw[20] ^= 1  # one bit of the ciphertext (editing the text could touch only base64 padding bits)
        altered = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode()
        for bad in (altered, "v0." + token[3:], "v1.!!!", "v1."):
            with pytest.raises(SealError):
                unseal(bad, "totp")
