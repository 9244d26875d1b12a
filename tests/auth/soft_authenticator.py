"""A software WebAuthn authenticator (and the browser around it) for tests.

It builds what a real authenticator and client send, byte for byte, with `cryptography` and `cbor2`
(W3C WebAuthn Level 3): an EC P-256 key pair per credential (COSE ES256, RFC 9053 §2.1), the
authenticator data (§6.1: rpIdHash, flags UP/UV/BE/BS/AT, signCount, attested credential data with
AAGUID, credential id and COSE_Key), a "none" attestation object (§8.7), the client data JSON
(§5.8.1: type, challenge, origin, crossOrigin) and an assertion signature over
authenticatorData || SHA-256(clientDataJSON) (§6.3.3). Every part can be bent by a test: another
origin or RP ID, no UV, a stale counter (a clone), a tampered signature.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost"
RP_ID = "localhost"

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidStateError(Exception):
    """What navigator.credentials.create() throws for a credential listed in excludeCredentials (§6.3.2 step 3)."""


class NotAllowedError(Exception):
    """What navigator.credentials.get() throws when no credential fits the request."""


@dataclass
class SoftCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    discoverable: bool
    sign_count: int = 0

    def cose_key(self) -> bytes:
        """RFC 9052 §7 / RFC 9053 §7.1.1: kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})


class SoftAuthenticator:
    """One authenticator (a security key, or a phone holding passkeys) and the client in front of it."""

    def __init__(self, *, aaguid: bytes = bytes(16), uv: bool = True, counter: bool = True,
                 backup_eligible: bool = False, backed_up: bool = False, origin: str = ORIGIN,
                 rp_id: str = RP_ID) -> None:
        self.aaguid, self.uv, self.counter = aaguid, uv, counter
        self.backup_eligible, self.backed_up = backup_eligible, backed_up
        self.origin, self.rp_id = origin, rp_id
        self.credentials: dict[bytes, SoftCredential] = {}

    def clone(self) -> SoftAuthenticator:
        """A copy of every key and counter as they are now (what an attacker who copied the key holds)."""
        return copy.deepcopy(self)

    # --- navigator.credentials.create() ---------------------------------------------------------
    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
               uv: bool | None = None, up: bool = True, discoverable: bool | None = None,
               challenge: str | None = None, client_type: str = "webauthn.create",
               ignore_exclude: bool = False, credential_id: bytes | None = None,
               cross_origin: bool = False) -> dict[str, Any]:
        """Answer PublicKeyCredentialCreationOptionsJSON with RegistrationResponseJSON (fmt "none")."""
        rp_id = rp_id or options["rp"].get("id") or self.rp_id
        if not ignore_exclude:
            for excluded in options.get("excludeCredentials") or []:
                if from_b64url(excluded["id"]) in self.credentials:
                    raise InvalidStateError("this authenticator already holds a credential of this account")
        selection = options.get("authenticatorSelection") or {}
        if discoverable is None:
            discoverable = selection.get("residentKey") in ("required", "preferred")
        credential = SoftCredential(credential_id=credential_id or os.urandom(32),
                                    private_key=ec.generate_private_key(ec.SECP256R1()), rp_id=rp_id,
                                    user_handle=from_b64url(options["user"]["id"]), discoverable=discoverable)
        self.credentials[credential.credential_id] = credential
        attested = (self.aaguid + struct.pack(">H", len(credential.credential_id)) + credential.credential_id
                    + credential.cose_key())
        auth_data = self._auth_data(rp_id, up=up, uv=self.uv if uv is None else uv, count=credential.sign_count,
                                    attested=attested)
        client_data = self._client_data(client_type, challenge or options["challenge"], origin, cross_origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                         "transports": ["usb", "internal"]},
            "clientExtensionResults": {"credProps": {"rk": discoverable}},
            "authenticatorAttachment": "cross-platform",
        }

    # --- navigator.credentials.get() ------------------------------------------------------------
    def get(self, options: dict[str, Any], *, credential_id: bytes | None = None, origin: str | None = None,
            rp_id: str | None = None, uv: bool | None = None, up: bool = True, sign_count: int | None = None,
            challenge: str | None = None, client_type: str = "webauthn.get",
            user_handle: bytes | None = None, tamper: bool = False, cross_origin: bool = False) -> dict[str, Any]:
        """Answer PublicKeyCredentialRequestOptionsJSON with AuthenticationResponseJSON.

        Without `allowCredentials` only a discoverable credential answers, with its user handle (§6.3.3)."""
        credential = self._choose(options, credential_id)
        rp_id = rp_id or options.get("rpId") or self.rp_id
        if self.counter:
            credential.sign_count += 1
        count = credential.sign_count if sign_count is None else sign_count
        auth_data = self._auth_data(rp_id, up=up, uv=self.uv if uv is None else uv, count=count)
        client_data = self._client_data(client_type, challenge or options["challenge"], origin, cross_origin)
        signature = credential.private_key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                                ec.ECDSA(hashes.SHA256()))
        if tamper:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])  # still DER, no longer valid
        handle = credential.user_handle if user_handle is None else user_handle
        return {
            "id": b64url(credential.credential_id), "rawId": b64url(credential.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                         "signature": b64url(signature),
                         "userHandle": b64url(handle) if credential.discoverable or user_handle else None},
            "clientExtensionResults": {},
            "authenticatorAttachment": "cross-platform",
        }

    def _choose(self, options: dict[str, Any], credential_id: bytes | None) -> SoftCredential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [from_b64url(c["id"]) for c in options.get("allowCredentials") or []]
        for candidate in self.credentials.values():
            if (candidate.credential_id in allowed) if allowed else candidate.discoverable:
                return candidate
        raise NotAllowedError("no credential of this authenticator fits the request")

    def _auth_data(self, rp_id: str, *, up: bool, uv: bool, count: int, attested: bytes = b"") -> bytes:
        flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0) | (FLAG_AT if attested else 0)
        flags |= (FLAG_BE if self.backup_eligible else 0) | (FLAG_BS if self.backed_up else 0)
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count) + attested

    def _client_data(self, client_type: str, challenge: str, origin: str | None, cross_origin: bool) -> bytes:
        return json.dumps({"type": client_type, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": cross_origin}, separators=(",", ":")).encode()
