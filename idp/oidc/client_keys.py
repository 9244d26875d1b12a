"""A portal's public keys for private_key_jwt (RFC 7523 §2.2): inline `jwks` or published at `jwks_uri`.

Registration checks the set with `check_jwks` (public keys only, key types and algorithms this provider
verifies, unique `kid`s) and, for `jwks_uri`, fetches it first with the safe fetcher (idp.outbound).
Client authentication reads the keys through `ClientKeyCache`, one per application: per portal, kept
`outbound.jwks_cache_ttl` seconds and fetched again once for an unknown `kid` (the portal rotated its
key), but never more than once per `outbound.jwks_refetch_interval` per portal and worker process, so
assertions with made-up kids cannot make the provider hammer the portal's server.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import current_app
from flask_babel import gettext
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jwk import KeySet

from idp.i18n import N_
from idp.outbound import FetchError
from idp.outbound import FetchPolicy
from idp.outbound import fetch_json
from idp.outbound import policy_from_settings
from idp.settings import current_settings

log = logging.getLogger(__name__)

# Algorithms a client assertion may be signed with (discovery: token_endpoint_auth_signing_alg_values_supported).
# Ed25519 is the fully specified name (RFC 9864), which deprecates the polymorphic "EdDSA".
CLIENT_ASSERTION_ALGS = ("ES256", "RS256", "PS256", "Ed25519")
ALGS_FOR_KEY = {("RSA", None): ("RS256", "PS256"), ("EC", "P-256"): ("ES256",), ("OKP", "Ed25519"): ("Ed25519",)}
KEY_TYPES = ("RSA", "EC", "OKP")
# RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2 (d), §6.4.1 (k): members only a private or secret key has.
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_KEYS = 20
MAX_KID_LENGTH = 200
MIN_RSA_BITS = 2048  # NIST SP 800-131A


class DocumentError(Exception):
    """A portal's key set or sector document is not acceptable; `message` starts with the metadata field."""

    def __init__(self, field_name: str, template: str, **params: Any) -> None:  # noqa: ANN401
        self.field, self.template, self.params = field_name, template, params
        super().__init__(self.message)

    @classmethod
    def from_fetch(cls, field_name: str, error: FetchError) -> DocumentError:
        return cls(field_name, error.template, **error.params)

    @property
    def message(self) -> str:
        return f"{self.field}: {self.template % self.params}"

    def translated(self) -> str:
        """The message in the current request's language (the field name stays as the standard spells it)."""
        return f"{self.field}: {gettext(self.template, **self.params)}"


def _modulus_bits(n: Any) -> int:  # noqa: ANN401
    """RFC 7518 §6.3.1.1: the modulus as base64url; its size in bits (0 when unreadable)."""
    if not isinstance(n, str) or len(n) > 4096:
        return 0
    try:
        return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()
    except ValueError:
        return 0


def _signing_algs(entry: dict) -> tuple[str, ...]:
    kty = entry.get("kty")
    return ALGS_FOR_KEY.get((kty, None if kty == "RSA" else entry.get("crv")), ())


def check_jwks(value: Any, field_name: str = "jwks") -> dict:  # noqa: ANN401 - parsed JSON
    """Return `value` if it is a JWK Set of public keys that can verify client assertions.

    Keys marked `"use": "enc"` may be present and are not used. Raise DocumentError naming the problem."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list) or not value["keys"]:
        raise DocumentError(field_name, N_("must be a JWK Set with a non-empty keys array (RFC 7517 §5)."))
    entries = value["keys"]
    if len(entries) > MAX_KEYS:
        raise DocumentError(field_name, N_("at most %(count)d keys."), count=MAX_KEYS)
    signing, kids = [], []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise DocumentError(field_name, N_("key %(number)d is not a JSON object."), number=number)
        private = [name for name in PRIVATE_MEMBERS if name in entry]
        if private:
            raise DocumentError(field_name, N_("key %(number)d holds private key material (%(members)s): publish "
                                               "public keys only."), number=number, members=", ".join(private))
        if entry.get("kty") not in KEY_TYPES:
            raise DocumentError(field_name, N_("key %(number)d has key type %(kty)s; RSA, EC and OKP keys are "
                                               "accepted."), number=number, kty=str(entry.get("kty"))[:20])
        if entry["kty"] == "RSA" and _modulus_bits(entry.get("n")) < MIN_RSA_BITS:  # before joserfc warns about it
            raise DocumentError(field_name, N_("key %(number)d: RSA keys need at least %(bits)d bits."),
                                number=number, bits=MIN_RSA_BITS)
        try:
            JWKRegistry.import_key(entry)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise DocumentError(field_name, N_("key %(number)d is not a valid JWK."), number=number) from exc
        kid = entry.get("kid")
        if kid is not None and (not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH):
            raise DocumentError(field_name, N_("key %(number)d: kid must be a string of 1 to %(length)d "
                                               "characters."), number=number, length=MAX_KID_LENGTH)
        kids.append(kid)
        if entry.get("use") == "enc":
            continue
        if entry.get("use") not in (None, "sig"):
            raise DocumentError(field_name, N_("key %(number)d: use must be sig or enc."), number=number)
        usable = _signing_algs(entry)
        if not usable or entry.get("alg", usable[0]) not in usable:
            raise DocumentError(field_name, N_("key %(number)d cannot sign client assertions this provider verifies "
                                               "(%(algs)s; EC keys on P-256, OKP keys on Ed25519)."),
                                number=number, algs=", ".join(CLIENT_ASSERTION_ALGS))
        signing.append(kid)
    present = [kid for kid in kids if kid is not None]
    if len(present) != len(set(present)):
        raise DocumentError(field_name, N_("every key needs a different kid."))
    if not signing:
        raise DocumentError(field_name, N_("no key can verify signatures (every key is marked for encryption)."))
    if len(signing) > 1 and None in signing:
        raise DocumentError(field_name, N_("with several signing keys each needs a kid (the assertion's kid header "
                                           "selects the key)."))
    return value


def signing_keys(value: dict) -> KeySet:
    """The keys of a checked JWK Set that verify signatures."""
    return KeySet.import_key_set({"keys": [entry for entry in value["keys"] if entry.get("use") != "enc"]})


def current_policy() -> FetchPolicy:
    return policy_from_settings(current_settings())


def fetch_jwks(jwks_uri: str, policy: FetchPolicy | None = None) -> dict:
    """Fetch and check the JWK Set at `jwks_uri`; DocumentError says what is wrong with it."""
    try:
        document = fetch_json(jwks_uri, policy or current_policy())
    except FetchError as exc:
        raise DocumentError.from_fetch("jwks_uri", exc) from exc
    return check_jwks(document, "jwks_uri")


# --- keys at client authentication ----------------------------------------------------------------
@dataclass
class _Entry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    jwks_uri: str | None = None
    keys: KeySet | None = None
    kids: frozenset = frozenset()
    fetched_at: float = 0.0
    attempted_at: float | None = None


class ClientKeyCache:
    """Keys fetched from portals' jwks_uri, per portal; see the module docstring for the rules."""

    def __init__(self, ttl: float, refetch_interval: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl, self.refetch_interval, self.clock = ttl, refetch_interval, clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientKeyCache(portals={len(self._entries)})"

    def keys_for(self, client_id: str, jwks_uri: str, kid: str | None, policy: FetchPolicy) -> KeySet | None:
        """The portal's current keys (None when they were never fetched successfully)."""
        with self._lock:
            entry = self._entries.setdefault(client_id, _Entry())
        with entry.lock:
            if entry.jwks_uri != jwks_uri:  # registered anew with another URL: forget the old keys
                entry.jwks_uri, entry.keys, entry.kids, entry.attempted_at = jwks_uri, None, frozenset(), None
            now = self.clock()
            expired = entry.keys is None or now - entry.fetched_at >= self.ttl
            unknown_kid = kid is not None and kid not in entry.kids
            allowed = entry.attempted_at is None or now - entry.attempted_at >= self.refetch_interval
            if (expired or unknown_kid) and allowed:
                self._fetch(client_id, entry, now, policy)
            return entry.keys

    def _fetch(self, client_id: str, entry: _Entry, now: float, policy: FetchPolicy) -> None:
        entry.attempted_at = now
        try:
            document = fetch_jwks(entry.jwks_uri or "", policy)
        except DocumentError as exc:
            # Keep the keys we had: a portal's web server being down must not stop its logins at once.
            log.warning("client %s: keys from jwks_uri not refreshed: %s", client_id, exc.message)
            return
        entry.keys = signing_keys(document)
        entry.kids = frozenset(key.kid for key in entry.keys.keys if key.kid)
        entry.fetched_at = now


def key_cache() -> ClientKeyCache:
    """This application's cache (one per app, made on first use)."""
    cache = current_app.extensions.get("idp.client_keys")
    if cache is None:
        outbound = current_settings().outbound
        cache = current_app.extensions.setdefault(
            "idp.client_keys", ClientKeyCache(outbound.jwks_cache_ttl, outbound.jwks_refetch_interval))
    return cache


def client_public_keys(client: Any) -> KeySet | Callable[[Any], KeySet]:  # noqa: ANN401 - Client model
    """What verifies the portal's client assertion: its inline keys, or a resolver reading its jwks_uri."""
    if client.jwks:
        return signing_keys(client.jwks)
    if not client.jwks_uri:
        raise InvalidRequestError("The client has no registered keys for private_key_jwt.")
    client_id, jwks_uri, policy = client.client_id, client.jwks_uri, current_policy()

    def resolve(token: Any) -> KeySet:  # noqa: ANN401 - joserfc's GuestProtocol
        kid = token.headers().get("kid")
        keys = key_cache().keys_for(client_id, jwks_uri, kid if isinstance(kid, str) else None, policy)
        if keys is None:
            raise InvalidClientError(description="The client's keys could not be fetched from its jwks_uri.")
        return keys

    return resolve
