"""Settings of one upstream OpenID provider (`[verifiers.<id>]`, kind vneid), validated at start-up.

Every problem raises ConfigError naming the key, so the provider refuses to start rather than fail
at a person's login. Nothing here talks to the network: discovery happens at the first login.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey

from idp.verifiers.base import Level
from idp.verifiers.errors import ConfigError

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
# Only asymmetric signatures: `none` and HS* (a secret shared with everyone holding the JWKS) never.
# Ed25519 is the fully specified name (RFC 9864), which deprecates the polymorphic "EdDSA".
ASYMMETRIC_ALGS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "Ed25519")
# RFC 8176 §2 registry. Passed on by default: the values that name an authenticator or factor the
# person presented upstream. Left out: pwd (a portal would read it as a password at our provider),
# and the values that describe context rather than a method (geo, rba, wia, tel, user, kba).
RFC8176_AMR = frozenset({"face", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
                         "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm", "wia"})
DEFAULT_AMR_PASSTHROUGH = ("face", "fpt", "hwk", "iris", "mca", "mfa", "otp", "pin", "pop", "retina", "sc", "sms",
                           "swk", "vbm")
CLAIM_ROLES = ("personal_id", "full_name", "birthdate", "gender", "level")
DEFAULT_CLAIMS = {"personal_id": "personal_id", "full_name": "name", "birthdate": "birthdate", "gender": "gender",
                  "level": "vneid_level"}
DEFAULT_LEVEL_MAP = {"1": "substantial", "2": "high"}
DEFAULT_NAMES = {"vi": "Định danh điện tử VNeID", "en": "VNeID electronic identity"}
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
# Authorization request parameters the module sets itself; `authorize_params` may not replace them.
RESERVED_PARAMS = frozenset({"response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                             "code_challenge", "code_challenge_method", "request", "request_uri"})
KNOWN = frozenset({"names", "issuer", "client_id", "client_auth", "client_secret", "private_key", "private_key_id",
                   "client_assertion_alg", "scope", "discovery", *ENDPOINTS, "require_iss", "userinfo", "claims",
                   "level_map", "max_level", "amr", "amr_passthrough", "report_vn_eid_level", "id_token_algs",
                   "timeout", "cache_ttl", "leeway", "sandbox", "authorize_params"})
PEM_PREFIX = "-----BEGIN"


@dataclass(frozen=True)
class ClientKey:
    """Our private key for private_key_jwt (RFC 7523); repr shows the key id only."""

    key: RSAKey | ECKey | OKPKey
    kid: str
    alg: str

    def __repr__(self) -> str:
        return f"ClientKey(kid={self.kid!r}, alg={self.alg!r})"


@dataclass(frozen=True)
class UpstreamConfig:
    """Validated settings of one upstream provider."""

    verifier_id: str
    names: Mapping[str, str]
    issuer: str
    client_id: str
    client_auth: str
    client_secret: str | None
    client_key: ClientKey | None
    scope: str
    discovery: bool
    endpoints: Mapping[str, str]  # explicit ones; they win over discovered values
    require_iss: bool
    userinfo: bool
    claims: Mapping[str, str]  # role -> upstream claim name
    level_map: Mapping[str, Level]
    max_level: Level
    amr: str
    amr_passthrough: frozenset[str]
    report_vn_eid_level: bool
    id_token_algs: tuple[str, ...]
    timeout: float
    cache_ttl: int
    leeway: int
    sandbox: bool
    authorize_params: Mapping[str, str]

    def __repr__(self) -> str:  # no client secret or key material
        return f"UpstreamConfig(verifier_id={self.verifier_id!r}, issuer={self.issuer!r})"


def is_loopback(url: str) -> bool:
    """Tell whether the URL's host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_http: bool) -> str | None:
    """Return why the URL cannot be used for an upstream endpoint, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment or parts.username:
        return "must be an absolute http(s) URL without fragment or credentials"
    if parts.scheme == "http" and not (allow_http or is_loopback(url)):
        return "must use https (http only for a sandbox or a loopback address)"
    return None


class _Reader:
    """Read one instance's settings, naming `verifiers.<id>.<key>` in every error."""

    def __init__(self, verifier_id: str, settings: Mapping[str, Any]) -> None:
        self.prefix, self.settings = f"verifiers.{verifier_id}.", settings

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.prefix + key, f"{self.prefix}{key} {message}.")

    def string(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.settings.get(key, default)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def boolean(self, key: str, default: bool) -> bool:
        value = self.settings.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.settings.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise self.fail(key, f"must be a number from {low:g} to {high:g}")
        return value

    def table(self, key: str, default: Mapping[str, Any]) -> dict[str, str]:
        value = self.settings.get(key, default)
        if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in value.items()):
            raise self.fail(key, "must be a table of strings")
        return {k: v.strip() for k, v in value.items()}

    def strings(self, key: str, default: tuple[str, ...], allowed: frozenset[str] | tuple[str, ...]) -> tuple[str, ...]:
        value = self.settings.get(key, list(default))
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise self.fail(key, "must be a list of strings")
        wrong = sorted(set(value) - set(allowed))
        if wrong:
            raise self.fail(key, f"has {wrong[0]!r}; allowed: {', '.join(sorted(allowed))}")
        return tuple(value)


def parse_settings(verifier_id: str, settings: Mapping[str, Any], sandbox_allowed: bool) -> UpstreamConfig:
    """Validate every setting; raise ConfigError naming the first bad key."""
    read = _Reader(verifier_id, settings)
    unknown = sorted(set(settings) - KNOWN)
    if unknown:
        raise read.fail(unknown[0], "is not a setting of the vneid kind")
    sandbox = read.boolean("sandbox", False)
    if sandbox and not sandbox_allowed:
        raise read.fail("sandbox", "is refused in production: point issuer at the real provider")
    issuer = read.string("issuer", required=True)
    if (problem := check_url(issuer, sandbox)) or urlsplit(issuer).query:
        raise read.fail("issuer", problem or "must not have a query")
    endpoints = {}
    for key in ENDPOINTS:
        url = read.string(key)
        if url is not None:
            if problem := check_url(url, sandbox):
                raise read.fail(key, problem)
            endpoints[key] = url
    discovery = read.boolean("discovery", True)
    userinfo = read.boolean("userinfo", False)
    if not discovery:
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri") + (("userinfo_endpoint",) if userinfo else ())
        for key in needed:
            if key not in endpoints:
                raise read.fail(key, "is required when discovery = false")
    client_auth = read.string("client_auth", "client_secret_basic")
    if client_auth not in CLIENT_AUTH_METHODS:
        raise read.fail("client_auth", f"must be one of {', '.join(CLIENT_AUTH_METHODS)}")
    secret, client_key = None, None
    if client_auth == "private_key_jwt":
        if "client_secret" in settings:
            raise read.fail("client_secret", "is not used with client_auth = private_key_jwt; remove it")
        client_key = _client_key(read)
    else:
        for key in ("private_key", "private_key_id", "client_assertion_alg"):
            if key in settings:
                raise read.fail(key, "is used only with client_auth = private_key_jwt")
        secret = read.string("client_secret", required=True)
    scope = read.string("scope", "openid profile")
    if "openid" not in scope.split():
        raise read.fail("scope", "must include openid")
    return UpstreamConfig(
        verifier_id=verifier_id, names=_names(read), issuer=issuer, client_id=read.string("client_id", required=True),
        client_auth=client_auth, client_secret=secret, client_key=client_key, scope=scope, discovery=discovery,
        endpoints=endpoints, require_iss=read.boolean("require_iss", False), userinfo=userinfo, claims=_claims(read),
        level_map=_level_map(read), max_level=_level(read, "max_level", "high"), amr=_amr(read),
        amr_passthrough=frozenset(read.strings("amr_passthrough", DEFAULT_AMR_PASSTHROUGH, RFC8176_AMR)),
        report_vn_eid_level=read.boolean("report_vn_eid_level", True),
        id_token_algs=read.strings("id_token_algs", ASYMMETRIC_ALGS, ASYMMETRIC_ALGS) or _empty(read, "id_token_algs"),
        timeout=float(read.number("timeout", 5, 0.1, 30)), cache_ttl=int(read.number("cache_ttl", 3600, 60, 86400)),
        leeway=int(read.number("leeway", 60, 0, 300)), sandbox=sandbox, authorize_params=_authorize_params(read))


def _empty(read: _Reader, key: str) -> tuple[str, ...]:
    raise read.fail(key, "must not be empty")


def _names(read: _Reader) -> dict[str, str]:
    names = read.table("names", DEFAULT_NAMES)
    if not names.get("vi") and not names.get("en"):
        raise read.fail("names", "needs a vi or en name")
    return names


def _level(read: _Reader, key: str, default: str) -> Level:
    value = read.string(key, default)
    try:
        return Level.parse(value)
    except ValueError as exc:
        raise read.fail(key, "must be none, low, substantial or high") from exc


def _claims(read: _Reader) -> dict[str, str]:
    given = read.table("claims", {})
    unknown = sorted(set(given) - set(CLAIM_ROLES))
    if unknown:
        raise read.fail(f"claims.{unknown[0]}", f"is not a claim role; roles: {', '.join(CLAIM_ROLES)}")
    claims = {**DEFAULT_CLAIMS, **given}
    for role in ("personal_id", "level"):
        if not claims[role]:
            raise read.fail(f"claims.{role}", "must name the upstream claim")
    return claims


def _level_map(read: _Reader) -> dict[str, Level]:
    raw = read.table("level_map", DEFAULT_LEVEL_MAP)
    if not raw:
        raise read.fail("level_map", "must map at least one upstream level")
    result = {}
    for upstream, name in raw.items():
        try:
            result[upstream.strip()] = Level.parse(name)
        except ValueError as exc:
            raise read.fail(f"level_map.{upstream}", "must be none, low, substantial or high") from exc
    return result


def _amr(read: _Reader) -> str:
    value = read.string("amr", "vneid")
    if not (value.isascii() and value.replace("_", "").isalnum() and len(value) <= 32):
        raise read.fail("amr", "must be a short ASCII word such as vneid")
    return value


def _authorize_params(read: _Reader) -> dict[str, str]:
    params = read.table("authorize_params", {})
    for name in params:
        if name in RESERVED_PARAMS:
            raise read.fail(f"authorize_params.{name}", "is set by the module and cannot be configured")
    return params


def _client_key(read: _Reader) -> ClientKey:
    """Load our private key: PEM text (from `env:`/`file:`) or the path of a PEM file."""
    value = read.string("private_key", required=True)
    pem = value
    if not value.startswith(PEM_PREFIX):
        try:
            pem = Path(value).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise read.fail("private_key", "names a file that cannot be read") from exc
    try:
        private = load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise read.fail("private_key", "is not an unencrypted PEM private key") from exc
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise read.fail("private_key", "is an RSA key shorter than 2048 bits")
        key, algs = RSAKey.import_key(private), ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        key = ECKey.import_key(private)
        algs = {"secp256r1": ("ES256",), "secp384r1": ("ES384",), "secp521r1": ("ES512",)}.get(private.curve.name, ())
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        key, algs = OKPKey.import_key(private), ("Ed25519",)
    else:
        algs = ()
    if not algs:
        raise read.fail("private_key", "must be an RSA, EC (P-256/384/521) or Ed25519 key")
    alg = read.string("client_assertion_alg", algs[0])
    if alg not in algs:
        raise read.fail("client_assertion_alg", f"must suit the key: {', '.join(algs)}")
    return ClientKey(key=key, kid=read.string("private_key_id", key.thumbprint()), alg=alg)
