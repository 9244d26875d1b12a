"""Settings of a certificate source: validated once at start-up, ConfigError naming the bad key.

```toml
[verifiers.certificate]
kind = "certificate"
trusted_proxies = ["10.0.0.5"]          # TLS terminators allowed to forward a client certificate
[[verifiers.certificate.anchors]]
file = "/etc/idp/ca/vnpt-ca.pem"
kind = "public"                         # or "government" (Ban Cơ yếu Chính phủ): officials, HIGH
```
Every key is described in docs/sources/certificate.md.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from idp.verifiers.base import Level
from idp.verifiers.certificate.fetch import is_http_url
from idp.verifiers.certificate.pem import PemError
from idp.verifiers.certificate.pem import load_certificates
from idp.verifiers.errors import ConfigError

log = logging.getLogger(__name__)

KEYS = frozenset({"names", "anchors", "development_pki", "challenge_ttl", "client_cert_header", "trusted_proxies",
                  "revocation_timeout", "crl_max_bytes"})
ANCHOR_KEYS = frozenset({"file", "pem", "name", "kind", "level", "in_person_policy_oids", "hardware_key_policy_oids",
                         "software_key_policy_oids", "extended_key_usages", "revocation", "crl_urls", "ocsp",
                         "intermediates"})
KINDS = ("public", "government")
REVOCATION_MODES = ("hard", "soft", "off")
# Names accepted in `extended_key_usages`; any dotted OID is accepted too.
EKU_NAMES = {
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,  # RFC 5280 §4.2.1.12 id-kp-clientAuth
    "email_protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,  # id-kp-emailProtection (S/MIME signing)
    "document_signing": x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # RFC 9336 id-kp-documentSigning
}
DEFAULT_NAMES = {"vi": "Chứng thư số (chữ ký số)", "en": "Digital certificate"}
MAX_PEM_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class Anchor:
    """One trust anchor and the policy for certificates that chain to it (no personal data)."""

    label: str
    certificate: x509.Certificate
    kind: str
    level: Level
    in_person_policy_oids: frozenset[str]
    hardware_key_policy_oids: frozenset[str]
    software_key_policy_oids: frozenset[str]
    extended_key_usages: frozenset[x509.ObjectIdentifier]
    revocation: str
    crl_urls: tuple[str, ...]
    ocsp: str  # "off", "aia" (the certificate's Authority Information Access) or a URL
    intermediates: tuple[x509.Certificate, ...]

    @property
    def is_government(self) -> bool:
        return self.kind == "government"

    @property
    def max_level(self) -> Level:
        return Level.HIGH if self.in_person_policy_oids else self.level


@dataclass(frozen=True)
class CertificateSettings:
    names: Mapping[str, str]
    anchors: tuple[Anchor, ...]
    challenge_ttl: timedelta
    client_cert_header: str
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    revocation_timeout: float
    crl_max_bytes: int


def parse_settings(verifier_id: str, settings: Mapping[str, Any], now: datetime, sandbox: bool) -> CertificateSettings:
    """Validate every setting; raise ConfigError("verifiers.<id>.<key>", ...) for the first bad one."""
    prefix = f"verifiers.{verifier_id}"
    for key in sorted(set(settings) - KEYS):
        raise ConfigError(f"{prefix}.{key}", f"Unknown setting {prefix}.{key}.")
    names = settings.get("names", DEFAULT_NAMES)
    if not isinstance(names, Mapping) or not names or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in names.items()):
        raise ConfigError(f"{prefix}.names", f"{prefix}.names must be a table of locale = display name.")
    anchors: list[Anchor] = []
    raw_anchors = settings.get("anchors", [])
    if not isinstance(raw_anchors, list) or not all(isinstance(a, Mapping) for a in raw_anchors):
        raise ConfigError(f"{prefix}.anchors", f"{prefix}.anchors must be a list of tables.")
    for index, raw in enumerate(raw_anchors):
        anchors.append(_anchor(f"{prefix}.anchors[{index}]", raw, now, sandbox))
    if "development_pki" in settings:
        anchors.append(_development_anchor(f"{prefix}.development_pki", settings["development_pki"], now, sandbox))
    if not anchors:
        raise ConfigError(f"{prefix}.anchors", f"{prefix}.anchors must list at least one trust anchor.")
    return CertificateSettings(
        names=dict(names), anchors=tuple(anchors),
        challenge_ttl=timedelta(seconds=_integer(f"{prefix}.challenge_ttl", settings.get("challenge_ttl", 300),
                                                 60, 900)),
        client_cert_header=_header(f"{prefix}.client_cert_header",
                                   settings.get("client_cert_header", "X-SSL-Client-Cert")),
        trusted_proxies=_networks(f"{prefix}.trusted_proxies", settings.get("trusted_proxies", [])),
        revocation_timeout=_number(f"{prefix}.revocation_timeout", settings.get("revocation_timeout", 5), 0.1, 30),
        crl_max_bytes=_integer(f"{prefix}.crl_max_bytes", settings.get("crl_max_bytes", 20_000_000),
                               1_000, 200_000_000),
    )


def _anchor(key: str, raw: Mapping[str, Any], now: datetime, sandbox: bool) -> Anchor:
    for extra in sorted(set(raw) - ANCHOR_KEYS):
        raise ConfigError(f"{key}.{extra}", f"Unknown setting {key}.{extra}.")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind", f"{key}.kind must be \"public\" or \"government\".")
    if ("file" in raw) == ("pem" in raw):
        raise ConfigError(f"{key}.file", f"{key} needs exactly one of file (a PEM file path) or pem (inline PEM).")
    source = "file" if "file" in raw else "pem"
    certificate = _single_certificate(f"{key}.{source}", raw[source], source == "file")
    _check_ca(f"{key}.{source}", certificate, now)
    try:
        level = Level.parse(raw.get("level", "high" if kind == "government" else "substantial"))
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{key}.level", f"{key}.level: use low, substantial or high.") from exc
    if level < Level.LOW:
        raise ConfigError(f"{key}.level", f"{key}.level: use low, substantial or high.")
    revocation = raw.get("revocation", "hard")
    if revocation not in REVOCATION_MODES:
        raise ConfigError(f"{key}.revocation", f"{key}.revocation must be \"hard\" or \"soft\".")
    if revocation == "soft" and kind == "government":
        raise ConfigError(f"{key}.revocation", f"{key}.revocation: government anchors always hard-fail "
                                               "(an official's certificate must be known not to be revoked).")
    if revocation == "off" and not sandbox:
        raise ConfigError(f"{key}.revocation", f"{key}.revocation = \"off\" is for development only.")
    ocsp = raw.get("ocsp", "off")
    if not isinstance(ocsp, str) or not (ocsp in ("off", "aia") or is_http_url(ocsp)):
        raise ConfigError(f"{key}.ocsp", f"{key}.ocsp must be \"off\", \"aia\" or an http(s) URL.")
    intermediates = []
    raw_intermediates = raw.get("intermediates", [])
    if not isinstance(raw_intermediates, list):
        raise ConfigError(f"{key}.intermediates", f"{key}.intermediates must be a list of PEM files or PEM texts.")
    for position, item in enumerate(raw_intermediates):
        item_key = f"{key}.intermediates[{position}]"
        if not isinstance(item, str):
            raise ConfigError(item_key, f"{item_key} must be a PEM file path or PEM text.")
        for certificate_item in _certificates(item_key, item, not item.lstrip().startswith("-----BEGIN")):
            _check_ca(item_key, certificate_item, now)
            intermediates.append(certificate_item)
    label = raw.get("name", certificate.subject.rfc4514_string()[:80])
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"{key}.name", f"{key}.name must be a non-empty string.")
    return Anchor(
        label=label, certificate=certificate, kind=kind, level=level,
        in_person_policy_oids=_oids(f"{key}.in_person_policy_oids", raw.get("in_person_policy_oids", [])),
        hardware_key_policy_oids=_oids(f"{key}.hardware_key_policy_oids", raw.get("hardware_key_policy_oids", [])),
        software_key_policy_oids=_oids(f"{key}.software_key_policy_oids", raw.get("software_key_policy_oids", [])),
        extended_key_usages=_ekus(f"{key}.extended_key_usages", raw.get("extended_key_usages", ["client_auth"])),
        revocation=revocation, crl_urls=_urls(f"{key}.crl_urls", raw.get("crl_urls", [])), ocsp=ocsp,
        intermediates=tuple(intermediates),
    )


def _development_anchor(key: str, value: Any, now: datetime, sandbox: bool) -> Anchor:
    """The development test CA (devpki): created when missing, trusted only with the sandbox on.

    Its issuing CA is not configured as an intermediate: the chain is sent with the signature
    (chain.pem), as signing software does."""
    from idp.verifiers.certificate import devpki

    if not sandbox:
        raise ConfigError(key, f"{key} trusts a development test CA: refused outside development (sandbox off).")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"{key} must be the directory of the development test CA.")
    directory = Path(value)
    if not (directory / devpki.ROOT_FILE).exists():
        log.warning("writing a development test CA to %s (development only)", directory)
        try:
            devpki.write(directory, now)
        except OSError as exc:
            raise ConfigError(key, f"{key}: cannot write the development test CA to {directory}: {exc}") from exc
    log.warning("trusting the development test CA in %s: for development only", directory)
    root = _single_certificate(key, str(directory / devpki.ROOT_FILE), True)
    issuing = _single_certificate(key, str(directory / devpki.ISSUING_FILE), True)
    for certificate in (root, issuing):
        if certificate.not_valid_after_utc <= now:
            raise ConfigError(key, f"{key}: the development test CA in {directory} has expired; delete the "
                                   "directory and start again to make a new one.")
        _check_ca(key, certificate, now)
    return Anchor(label="development test CA", certificate=root, kind="public", level=Level.SUBSTANTIAL,
                  in_person_policy_oids=frozenset(), hardware_key_policy_oids=frozenset(),
                  software_key_policy_oids=frozenset(), extended_key_usages=frozenset({EKU_NAMES["client_auth"]}),
                  revocation="off", crl_urls=(), ocsp="off", intermediates=())


def _certificates(key: str, value: Any, is_file: bool) -> list[x509.Certificate]:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"{key} must be a {'file path' if is_file else 'PEM text'}.")
    text = value
    if is_file:
        try:
            with open(value, "rb") as handle:
                data = handle.read(MAX_PEM_FILE_BYTES + 1)
            text = data.decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(key, f"{key}: cannot read {value}: {exc}") from exc
    try:
        certificates = load_certificates(text, limit=20, max_chars=MAX_PEM_FILE_BYTES)
    except PemError as exc:
        raise ConfigError(key, f"{key} is not a PEM certificate ({exc}).") from exc
    if not certificates:
        raise ConfigError(key, f"{key} holds no PEM certificate.")
    return certificates


def _single_certificate(key: str, value: Any, is_file: bool) -> x509.Certificate:
    certificates = _certificates(key, value, is_file)
    if len(certificates) != 1:
        raise ConfigError(key, f"{key} must hold exactly one certificate (one anchor per table).")
    return certificates[0]


def _check_ca(key: str, certificate: x509.Certificate, now: datetime) -> None:
    """An anchor or configured intermediate must be a CA certificate valid now."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise ConfigError(key, f"{key} is not a CA certificate (basicConstraints cA is not set).")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        raise ConfigError(key, f"{key} may not sign certificates (keyUsage lacks keyCertSign).")
    if certificate.not_valid_after_utc <= now:
        raise ConfigError(key, f"{key} expired on {certificate.not_valid_after_utc:%Y-%m-%d}.")
    if certificate.not_valid_before_utc > now:
        raise ConfigError(key, f"{key} is not valid before {certificate.not_valid_before_utc:%Y-%m-%d}.")


def _oids(key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(key, f"{key} must be a list of dotted OIDs such as \"1.2.3.4\".")
    for item in value:
        try:
            x509.ObjectIdentifier(item)
        except ValueError as exc:
            raise ConfigError(key, f"{key}: {item!r} is not a dotted OID.") from exc
    return frozenset(value)


def _ekus(key: str, value: Any) -> frozenset[x509.ObjectIdentifier]:
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise ConfigError(key, f"{key} must be a non-empty list: {', '.join(EKU_NAMES)} or dotted OIDs.")
    found = set()
    for item in value:
        if item in EKU_NAMES:
            found.add(EKU_NAMES[item])
            continue
        try:
            found.add(x509.ObjectIdentifier(item))
        except ValueError as exc:
            raise ConfigError(key, f"{key}: {item!r} is not one of {', '.join(EKU_NAMES)} nor a dotted OID.") from exc
    return frozenset(found)


def _urls(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and is_http_url(item) for item in value):
        raise ConfigError(key, f"{key} must be a list of http(s) URLs.")
    return tuple(value)


def _networks(key: str, value: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(key, f"{key} must be a list of IP addresses or networks (\"10.0.0.5\", \"10.0.0.0/24\").")
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ConfigError(key, f"{key}: {item!r} is not an IP address or network.") from exc
    return tuple(networks)


def _header(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or not all(c.isascii() and (c.isalnum() or c == "-") for c in value):
        raise ConfigError(key, f"{key} must be an HTTP header name such as \"X-SSL-Client-Cert\".")
    return value


def _integer(key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(key, f"{key} must be a whole number from {low} to {high}.")
    return value


def _number(key: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(key, f"{key} must be a number from {low} to {high}.")
    return float(value)
