"""The upstream's signing keys (JWKS, cached with a TTL) and the check of its ID tokens.

OpenID Connect Core 1.0 §3.1.3.7: the signature against the upstream JWKS with an algorithm we
accept (asymmetric only: never `none`, never HS*), then `iss`, `aud` (and `azp` when several
audiences), `exp`, `iat`, `nbf` (with a small leeway) and `nonce`.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jwk import JWKRegistry
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey

from idp.i18n import N_
from idp.verifiers.errors import VerificationFailed
from idp.verifiers.vneid.http import fetch_json
from idp.verifiers.vneid.http import unreachable

log = logging.getLogger(__name__)
MAX_TOKEN_BYTES = 16 * 1024
MAX_TOKEN_AGE = 600  # seconds: a fresh code exchange gives a token issued moments ago
MAX_KEYS = 50
CURVE_OF_ALG = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
PublicKey = RSAKey | ECKey | OKPKey


def key_suits(key: PublicKey, alg: str) -> bool:
    """Tell whether a JWK can verify `alg` (RFC 7518 §3.1: the key type follows the algorithm)."""
    if key.get("use") not in (None, "sig") or key.get("alg") not in (None, alg):
        return False
    if alg.startswith(("RS", "PS")):
        return isinstance(key, RSAKey)
    if alg.startswith("ES"):
        return isinstance(key, ECKey) and key.get("crv") == CURVE_OF_ALG[alg]
    return alg == "Ed25519" and isinstance(key, OKPKey) and key.get("crv") == "Ed25519"


class JwksCache:
    """The upstream's public keys, kept for `ttl` seconds and fetched again once for an unknown `kid`."""

    def __init__(self, verifier_id: str, now: Callable[[], datetime], ttl: int, timeout: float) -> None:
        self._verifier_id, self._now, self._ttl, self._timeout = verifier_id, now, ttl, timeout
        self._lock = threading.Lock()
        self._keys: list[PublicKey] = []
        self._source: str | None = None
        self._fetched_at: float | None = None

    def __repr__(self) -> str:
        return f"JwksCache(verifier_id={self._verifier_id!r}, keys={len(self._keys)})"

    def key_for(self, jwks_uri: str, kid: str | None, alg: str) -> PublicKey | None:
        """The key that verifies a token with this header; None when the upstream has no such key."""
        with self._lock:
            now = self._now().timestamp()
            fresh = self._source == jwks_uri and self._fetched_at is not None and now - self._fetched_at < self._ttl
            if not fresh:
                self._fetch(jwks_uri, now)
            found = self._pick(kid, alg)
            if found is None and fresh:  # perhaps rotated: ask again, once
                self._fetch(jwks_uri, now)
                found = self._pick(kid, alg)
            return found

    def _fetch(self, jwks_uri: str, now: float) -> None:
        body = fetch_json(self._verifier_id, "jwks", "GET", jwks_uri, self._timeout).body
        entries = body.get("keys")
        if not isinstance(entries, list) or len(entries) > MAX_KEYS:
            raise unreachable(self._verifier_id, "jwks", "no keys list")
        keys = []
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC", "OKP") or "d" in entry:
                continue  # symmetric or private material is never used to verify
            try:
                keys.append(JWKRegistry.import_key(entry))
            except (JoseError, ValueError, TypeError):
                log.warning("upstream of verifier %s: a JWKS entry could not be imported", self._verifier_id)
        self._keys, self._source, self._fetched_at = keys, jwks_uri, now

    def _pick(self, kid: str | None, alg: str) -> PublicKey | None:
        suitable = [key for key in self._keys if key_suits(key, alg)]
        if kid is not None:
            return next((key for key in suitable if key.kid == kid), None)
        return suitable[0] if len(suitable) == 1 else None


def _failed(code: str, message: str) -> VerificationFailed:
    return VerificationFailed(code, message)


def _header(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: deeply nested JSON
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again.")) \
            from exc
    if not isinstance(header, dict):
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    return header


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    try:  # JSON as Python reads it also has NaN, Infinity and integers too large for a float
        number = float(value) if not isinstance(value, bool) and isinstance(value, int | float) else math.nan
    except OverflowError:
        number = math.nan
    if not math.isfinite(number):
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    return number


def check_id_token(token: Any, *, issuer: str, client_id: str, nonce: str, algs: tuple[str, ...], leeway: int,
                   now: datetime, keys: Callable[[str | None, str], PublicKey | None]) -> dict[str, Any]:
    """Verify the ID token and return its claims; VerificationFailed names what is wrong.

    `keys(kid, alg)` finds the verifying key (JwksCache.key_for bound to the jwks_uri).
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES or not token.isascii():
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    header = _header(token)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in algs:
        raise _failed("id_token_alg", N_("The identity provider's answer is signed in a way we do not accept."))
    if kid is not None and not isinstance(kid, str):
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    key = keys(kid, alg)
    if key is None:
        raise _failed("id_token_key_unknown",
                      N_("The identity provider's answer is signed with a key it does not publish."))
    try:
        claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
    except BadSignatureError as exc:
        raise _failed("id_token_signature", N_("The signature on the identity provider's answer is not valid.")) \
            from exc
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again.")) \
            from exc
    _check_claims(claims, issuer, client_id, nonce, leeway, now.timestamp())
    return claims


def _check_claims(claims: dict[str, Any], issuer: str, client_id: str, nonce: str, leeway: int, now: float) -> None:
    if claims.get("iss") != issuer:
        raise _failed("id_token_issuer", N_("The answer did not come from the expected identity provider."))
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise _failed("id_token_audience", N_("The identity provider's answer was meant for another service."))
    # OIDC Core §3.1.3.7 items 4-5: several audiences need azp; a present azp must be us.
    azp = claims.get("azp")
    if (len(audiences) > 1 and azp is None) or (azp is not None and azp != client_id):
        raise _failed("id_token_audience", N_("The identity provider's answer was meant for another service."))
    expires, issued, not_before = _number(claims, "exp"), _number(claims, "iat"), _number(claims, "nbf")
    if expires is None or issued is None:
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
    if now >= expires + leeway or now > issued + MAX_TOKEN_AGE + leeway:
        raise _failed("id_token_expired", N_("The identity provider's answer has expired. Start again."))
    if issued > now + leeway or (not_before is not None and not_before > now + leeway):
        raise _failed("id_token_not_yet_valid",
                      N_("The identity provider's answer is dated in the future. Start again in a moment."))
    received = claims.get("nonce")
    if not isinstance(received, str) or not hmac.compare_digest(received.encode(), nonce.encode()):
        raise _failed("id_token_nonce", N_("The identity provider's answer belongs to another login. Start again."))
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise _failed("id_token_malformed", N_("The identity provider's answer could not be read. Start again."))
