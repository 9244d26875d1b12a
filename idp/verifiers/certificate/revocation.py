"""Revocation status by OCSP (RFC 6960) and CRL (RFC 5280 §5, §6.3), fetched over bounded HTTP.

Order for one certificate: OCSP when the anchor configures it (`ocsp = "aia"` or a URL); then, if
OCSP gave no answer, the CRLs (the anchor's `crl_urls`, else the certificate's CRL distribution
points). The first authoritative answer wins; none at all is UNKNOWN, which the anchor's policy
turns into a refusal (hard) or a logged acceptance (soft).

CRLs are cached per URL and issuer until their nextUpdate. A CRL must be signed by the issuer of
the certificate (indirect CRLs and delta CRLs are not supported) and be current. OCSP responses
must be signed by the issuer or by a responder certificate it issued with the OCSPSigning EKU,
name the certificate asked about, echo our nonce when they carry one, and be fresh.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import SignatureAlgorithmOID

from idp.verifiers.certificate.config import Anchor
from idp.verifiers.certificate.fetch import FetchFailed
from idp.verifiers.certificate.fetch import fetch
from idp.verifiers.certificate.fetch import is_http_url

log = logging.getLogger(__name__)
CLOCK_SKEW = timedelta(minutes=5)
OCSP_MAX_AGE = timedelta(hours=1)  # for a response without nextUpdate
OCSP_MAX_BYTES = 1_000_000


class Status(enum.Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    detail: str  # for logs: which source answered or why none did (URLs, no personal data)


class Unavailable(Exception):
    """This source gave no usable answer."""


class RevocationChecker:
    """Ask OCSP and CRLs about one certificate at a time; thread-safe CRL cache per instance."""

    def __init__(self, now: Callable[[], datetime], timeout: float, crl_max_bytes: int) -> None:
        self._now, self._timeout, self._crl_max_bytes = now, timeout, crl_max_bytes
        self._crls: dict[tuple[str, bytes], x509.CertificateRevocationList] = {}
        self._lock = threading.Lock()

    def status(self, certificate: x509.Certificate, issuer: x509.Certificate, anchor: Anchor) -> Outcome:
        """Say whether `certificate` (issued by `issuer`) is revoked, by the anchor's sources."""
        reasons: list[str] = []
        if anchor.ocsp != "off":
            url = anchor.ocsp if anchor.ocsp != "aia" else ocsp_url(certificate)
            if url is None:
                reasons.append("no OCSP URL in the certificate")
            else:
                try:
                    return self._ocsp(certificate, issuer, url)
                except (Unavailable, ValueError) as exc:  # ValueError: a malformed part of the response
                    reasons.append(f"OCSP {url}: {exc}")
        # The configured URLs (a mirror) first, then the certificate's own distribution points: a
        # mirror of the issuing CA's CRL must not leave the intermediate without one.
        urls = tuple(dict.fromkeys((*anchor.crl_urls, *crl_urls(certificate))))
        if not urls:
            reasons.append("no CRL distribution point")
        for url in urls:
            try:
                crl = self._crl(url, issuer)
                _check_scope(crl, certificate)
                entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            except (Unavailable, ValueError) as exc:  # ValueError: a malformed entry
                reasons.append(f"CRL {url}: {exc}")
                continue
            return Outcome(Status.REVOKED if entry is not None else Status.GOOD, f"CRL {url}")
        return Outcome(Status.UNKNOWN, "; ".join(reasons))

    # --- CRL ----------------------------------------------------------------------------------
    def _crl(self, url: str, issuer: x509.Certificate) -> x509.CertificateRevocationList:
        key = (url, issuer.fingerprint(hashes.SHA256()))
        now = self._now()
        with self._lock:
            cached = self._crls.get(key)
        if cached is not None and cached.next_update_utc is not None and now <= cached.next_update_utc:
            return cached
        try:
            body = fetch(url, timeout=self._timeout, max_bytes=self._crl_max_bytes)
        except FetchFailed as exc:
            raise Unavailable(str(exc)) from exc
        crl = _load_crl(body)
        _check_crl(crl, issuer, now)
        with self._lock:
            self._crls[key] = crl
        return crl

    # --- OCSP ---------------------------------------------------------------------------------
    def _ocsp(self, certificate: x509.Certificate, issuer: x509.Certificate, url: str) -> Outcome:
        nonce = os.urandom(16)
        request = (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())  # noqa: S303
                   .add_extension(x509.OCSPNonce(nonce), critical=False).build())
        try:
            body = fetch(url, data=request.public_bytes(Encoding.DER), content_type="application/ocsp-request",
                         timeout=self._timeout, max_bytes=OCSP_MAX_BYTES)
            response = ocsp.load_der_ocsp_response(body)
        except FetchFailed as exc:
            raise Unavailable(str(exc)) from exc
        except ValueError as exc:
            raise Unavailable("not an OCSP response") from exc
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise Unavailable(f"responder answered {response.response_status.name}")
        try:
            signer = _ocsp_signer(response, issuer, self._now())
            _verify(signer.public_key(), response.signature, response.tbs_response_bytes,
                    response.signature_hash_algorithm, response.signature_algorithm_oid)
            nonces = [ext.value for ext in response.extensions if isinstance(ext.value, x509.OCSPNonce)]
        except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError) as exc:
            raise Unavailable(f"response not verifiable ({type(exc).__name__}: {exc})") from exc
        if nonces and nonces[0].nonce != nonce:
            raise Unavailable("nonce does not match the request")
        single = _single_response(response, certificate, issuer)
        _check_fresh(single, self._now())
        if single.certificate_status == ocsp.OCSPCertStatus.GOOD:
            return Outcome(Status.GOOD, f"OCSP {url}")
        if single.certificate_status == ocsp.OCSPCertStatus.REVOKED:
            return Outcome(Status.REVOKED, f"OCSP {url}")
        raise Unavailable("the responder does not know the certificate")


def crl_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """The http(s) URLs of the certificate's CRL distribution points (LDAP ones are skipped)."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(name.value for point in points for name in point.full_name or ()
                 if isinstance(name, x509.UniformResourceIdentifier) and is_http_url(name.value))


def ocsp_url(certificate: x509.Certificate) -> str | None:
    """The first http(s) OCSP responder in the certificate's Authority Information Access."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for description in access:
        location = description.access_location
        if (description.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(location, x509.UniformResourceIdentifier) and is_http_url(location.value)):
            return location.value
    return None


def _load_crl(body: bytes) -> x509.CertificateRevocationList:
    try:
        if body.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(body)
        return x509.load_der_x509_crl(body)
    except ValueError as exc:
        raise Unavailable("not a CRL") from exc


def _check_crl(crl: x509.CertificateRevocationList, issuer: x509.Certificate, now: datetime) -> None:
    """RFC 5280 §6.3.3: issued by the certificate's issuer, signed with its key, current."""
    if crl.issuer != issuer.subject:
        raise Unavailable("the CRL names another issuer")
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            raise Unavailable("the issuer may not sign CRLs")
    except x509.ExtensionNotFound:
        pass
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise Unavailable("the CRL signature cannot be checked") from exc
    if not valid:
        raise Unavailable("the CRL signature is invalid")
    if crl.last_update_utc > now + CLOCK_SKEW:
        raise Unavailable("the CRL is dated in the future")
    if crl.next_update_utc is None or crl.next_update_utc < now:
        raise Unavailable("the CRL is stale (past its nextUpdate)")


def _check_scope(crl: x509.CertificateRevocationList, certificate: x509.Certificate) -> None:
    """RFC 5280 §6.3.3 (b): use only a complete CRL whose scope covers the certificate. A delta CRL,
    an indirect one, one limited to some reasons, or one for the other kind of certificate (CA or end
    entity), or for another distribution point (a partition) would say "good" for a certificate it
    does not list because it does not cover it."""
    extensions = crl.extensions
    if any(isinstance(extension.value, x509.DeltaCRLIndicator) for extension in extensions):
        raise Unavailable("a delta CRL is not a complete list")
    try:
        scope = extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return
    if scope.indirect_crl or scope.only_some_reasons or scope.only_contains_attribute_certs:
        raise Unavailable("the CRL covers only part of the revocations (indirect or by reason)")
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if (scope.only_contains_ca_certs and not is_ca) or (scope.only_contains_user_certs and is_ca):
        raise Unavailable("the CRL covers another kind of certificate")
    if scope.full_name:
        try:
            points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            return  # no distribution point to compare with: the configured crl_urls decide
        names = {name for point in points for name in point.full_name or ()}
        if names and not names & set(scope.full_name):
            raise Unavailable("the CRL is a partition for other certificates")


def _responder_is(candidate: x509.Certificate, response: ocsp.OCSPResponse) -> bool:
    if response.responder_key_hash is not None:
        # RFC 6960 §4.2.1: byKey is the SHA-1 hash of the responder's public key bits.
        return x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest == response.responder_key_hash
    return response.responder_name == candidate.subject


def _ocsp_signer(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate:
    """RFC 6960 §4.2.2.2: the issuer itself, or a responder it delegated with id-kp-OCSPSigning."""
    if _responder_is(issuer, response):
        return issuer
    for candidate in response.certificates:
        if not _responder_is(candidate, response) or candidate.issuer != issuer.subject:
            continue
        candidate.verify_directly_issued_by(issuer)  # raises InvalidSignature / ValueError / TypeError
        try:
            purposes = candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound as exc:
            raise ValueError("the responder certificate lacks the OCSPSigning purpose") from exc
        if ExtendedKeyUsageOID.OCSP_SIGNING not in purposes:
            raise ValueError("the responder certificate lacks the OCSPSigning purpose")
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise ValueError("the responder certificate is not valid now")
        return candidate
    raise ValueError("the response is signed by neither the issuer nor a responder it delegated")


def _single_response(response: ocsp.OCSPResponse, certificate: x509.Certificate,
                     issuer: x509.Certificate) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        expected = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, single.hash_algorithm).build()
        if (single.serial_number == certificate.serial_number and single.issuer_key_hash == expected.issuer_key_hash
                and single.issuer_name_hash == expected.issuer_name_hash):
            return single
    raise Unavailable("the response is about another certificate")


def _check_fresh(single: ocsp.OCSPSingleResponse, now: datetime) -> None:
    """RFC 6960 §4.2.2.1 / §3.2 (5): thisUpdate recent enough, nextUpdate not passed."""
    if single.this_update_utc > now + CLOCK_SKEW:
        raise Unavailable("the response is dated in the future")
    if single.next_update_utc is not None:
        if single.next_update_utc < now - CLOCK_SKEW:
            raise Unavailable("the response is stale (past its nextUpdate)")
    elif single.this_update_utc < now - OCSP_MAX_AGE:
        raise Unavailable("the response is too old")


def _verify(key: object, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None,
            oid: x509.ObjectIdentifier) -> None:
    if algorithm is None:
        raise UnsupportedAlgorithm("no hash algorithm")
    if isinstance(key, rsa.RSAPublicKey):
        scheme = (padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if oid == SignatureAlgorithmOID.RSASSA_PSS
                  else padding.PKCS1v15())
        key.verify(signature, data, scheme, algorithm)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, data, ec.ECDSA(algorithm))
    else:
        raise TypeError("unsupported responder key type")
