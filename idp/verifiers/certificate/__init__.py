"""Digital certificates (X.509) as an identity source: public CAs and the Government Cipher Committee.

Owns: proof of possession (a signed challenge, or a client certificate forwarded by a trusted TLS
terminator), path validation to configured trust anchors (trust.py), revocation by OCSP and CRL
(revocation.py), and reading the subject's identifier (identity.py). Must not import accounts,
login sessions or tokens: it returns an IdentityAssertion. Documented in docs/sources/certificate.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes

from idp.i18n import N_
from idp.verifiers.base import Attempt
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Interaction
from idp.verifiers.base import Prompt
from idp.verifiers.base import Services
from idp.verifiers.base import VerifierInfo
from idp.verifiers.certificate.challenge import decode_signature
from idp.verifiers.certificate.challenge import is_valid_signature
from idp.verifiers.certificate.challenge import new_challenge
from idp.verifiers.certificate.config import Anchor
from idp.verifiers.certificate.config import CertificateSettings
from idp.verifiers.certificate.config import parse_settings
from idp.verifiers.certificate.identity import read_identity
from idp.verifiers.certificate.pem import MAX_CHAIN_CHARS
from idp.verifiers.certificate.pem import PemError
from idp.verifiers.certificate.pem import load_certificate
from idp.verifiers.certificate.pem import load_certificates
from idp.verifiers.certificate.pem import load_forwarded
from idp.verifiers.certificate.pem import to_pem
from idp.verifiers.certificate.revocation import RevocationChecker
from idp.verifiers.certificate.revocation import Status
from idp.verifiers.certificate.trust import PathValidator
from idp.verifiers.certificate.trust import check_usage
from idp.verifiers.certificate.trust import check_validity
from idp.verifiers.certificate.trust import level_and_amr
from idp.verifiers.errors import SourceUnavailable
from idp.verifiers.errors import VerificationFailed

log = logging.getLogger(__name__)
ATTRIBUTES = ("personal_id", "tax_code", "full_name", "kind", "agency")
MAX_FAILURES = 5
# Failures that end the attempt (listed in FINAL_FAILURES of idp/auth/sources.py): not counted.
FINAL_CODES = frozenset({"attempt_unknown", "challenge_expired", "challenge_replayed", "too_many_attempts"})


class CertificateVerifier:
    """One configured certificate source (its anchors, proxies and revocation cache)."""

    def __init__(self, verifier_id: str, settings: CertificateSettings, services: Services) -> None:
        self.id = verifier_id
        self.info = VerifierInfo(kind="certificate", names=dict(settings.names),
                                 max_level=max(anchor.max_level for anchor in settings.anchors),
                                 attributes=ATTRIBUTES, interaction=Interaction.CHALLENGE)
        # ReadsHeaders: the forwarded client certificate, only when some proxy is trusted to send it.
        self.headers: tuple[str, ...] = (settings.client_cert_header,) if settings.trusted_proxies else ()
        self._settings, self._services = settings, services
        self._paths = PathValidator(settings.anchors)
        self._revocation = RevocationChecker(services.now, settings.revocation_timeout, settings.crl_max_bytes)
        parts = urlsplit(services.callback_url(verifier_id))
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        return f"CertificateVerifier(id={self.id!r}, anchors={len(self._settings.anchors)})"

    # --- the flow ------------------------------------------------------------------------------
    def begin(self, attempt: Attempt) -> Prompt:
        now = self._services.now()
        challenge = new_challenge(self._origin, now)
        attempt.data.update({"challenge": challenge, "issued_at": now.isoformat(), "failures": 0})
        return Prompt("verifiers/certificate.html", {
            "challenge": challenge, "ttl_minutes": int(self._settings.challenge_ttl.total_seconds() // 60),
            "tls_enabled": bool(self.headers)})

    def complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion:
        try:
            return self._complete(attempt, params)
        except VerificationFailed as exc:
            log.info("certificate source %s: %s", self.id, exc.code)
            if exc.code not in FINAL_CODES:
                attempt.data["failures"] = int(attempt.data.get("failures") or 0) + 1
            raise

    def revalidate(self, assertion: IdentityAssertion) -> IdentityAssertion:
        """Re-check an earlier assertion's certificate (path and revocation) now.

        Needs `assertion.extra["certificate_chain"]` (PEM texts, leaf first) as `complete` puts
        it; raises VerificationFailed (e.g. certificate_revoked) or SourceUnavailable.
        """
        pems = assertion.extra.get("certificate_chain")
        if not isinstance(pems, Sequence) or not pems or not all(isinstance(p, str) for p in pems):
            raise VerificationFailed("certificate_format", _FORMAT_MESSAGE)
        leaf, supplied = _parse(pems[0], "".join(pems[1:]))
        fresh = self._assert(leaf, supplied, mode=str(assertion.extra.get("proof", "signature")))
        if fresh.subject != assertion.subject:
            raise VerificationFailed("certificate_format", _FORMAT_MESSAGE)
        return dataclasses.replace(assertion, verified_at=fresh.verified_at, level=min(assertion.level, fresh.level))

    # --- steps -----------------------------------------------------------------------------------
    def _complete(self, attempt: Attempt, params: Mapping[str, str]) -> IdentityAssertion:
        state = attempt.data
        if state.get("used"):
            raise VerificationFailed("challenge_replayed", N_(
                "This text was already used to log in. Start again to get a new text to sign."))
        challenge, issued = state.get("challenge"), _parse_time(state.get("issued_at"))
        if not isinstance(challenge, str) or issued is None:
            raise VerificationFailed("attempt_unknown", N_("This verification is not known. Please start again."))
        if int(state.get("failures") or 0) >= MAX_FAILURES:
            raise VerificationFailed("too_many_attempts", N_("Too many failed tries. Please start again."))
        if self._services.now() > issued + self._settings.challenge_ttl:
            raise VerificationFailed("challenge_expired", N_(
                "The text to sign has expired. Start again to get a new one."))
        signature = params.get("signature")
        if isinstance(signature, str) and signature.strip():
            leaf, supplied = _parse(params.get("certificate"), params.get("chain"))
            raw = decode_signature(signature)
            if raw is None or not is_valid_signature(_public_key(leaf), raw, challenge.encode("utf-8")):
                raise VerificationFailed("signature_invalid", N_(
                    "The signature does not match the text shown and this certificate. Sign exactly the text "
                    "shown, with the certificate you paste."))
            assertion = self._assert(leaf, supplied, mode="signature")
        else:
            assertion = self._assert(self._forwarded(params), [], mode="tls")
        state["used"] = True  # single use: only a successful completion consumes the challenge
        state.pop("challenge", None)
        return assertion

    def _forwarded(self, params: Mapping[str, str]) -> x509.Certificate:
        """The client certificate a trusted TLS terminator forwarded (ReadsHeaders)."""
        value = params.get(f"header:{self._settings.client_cert_header.lower()}") if self.headers else None
        present = isinstance(value, str) and value.strip() not in ("", "(null)", "-")
        if not present:
            if params.get("mode") == "tls" and self.headers:
                raise VerificationFailed("client_certificate_missing", N_(
                    "Your browser did not present a certificate. Choose your certificate when the browser asks, "
                    "or sign the text instead."))
            raise VerificationFailed("proof_missing", N_(
                "Sign the text shown with your certificate, then paste the signature and your certificate."))
        if not self._is_trusted_proxy(params.get("peer_addr")):
            log.warning("certificate source %s: forwarded client certificate from an untrusted peer ignored", self.id)
            raise VerificationFailed("header_untrusted_proxy", N_(
                "The certificate from your browser was not accepted because it did not come through our secure "
                "gateway. Sign the text shown instead."))
        try:
            certificate = load_forwarded(value)  # type: ignore[arg-type]
        except PemError as exc:
            raise VerificationFailed("certificate_format", _FORMAT_MESSAGE) from exc
        if certificate is None:
            raise VerificationFailed("certificate_format", _FORMAT_MESSAGE)
        return certificate

    def _is_trusted_proxy(self, peer: object) -> bool:
        try:
            address = ipaddress.ip_address(str(peer).strip())
        except ValueError:
            return False
        return any(address in network for network in self._settings.trusted_proxies)

    def _assert(self, leaf: x509.Certificate, supplied: Sequence[x509.Certificate], mode: str) -> IdentityAssertion:
        now = self._services.now()
        check_validity(leaf, now)
        anchor, chain = self._paths.validate(leaf, supplied, now)
        try:  # extensions the path validation did not read are parsed here: a malformed one is refused
            check_usage(leaf, anchor)
            identity = read_identity(leaf.subject)
            level, amr = level_and_amr(leaf, anchor)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise VerificationFailed("certificate_format", _FORMAT_MESSAGE) from exc
        if anchor.is_government and identity.personal_id is None:
            raise VerificationFailed("official_without_personal_id", N_(
                "This government certificate belongs to an organisation, not to a person. Officials log in "
                "with their personal certificate."))
        revocation = self._check_revocation(chain, anchor)
        claims = {"full_name": identity.full_name}
        if identity.personal_id:
            claims["personal_id"] = identity.personal_id
            claims["kind"] = "official" if anchor.is_government else "citizen"
        else:
            claims["tax_code"] = identity.tax_code or ""
            claims["kind"] = "business"
        if anchor.is_government and identity.organization:
            claims["agency"] = identity.organization
        fingerprint = leaf.fingerprint(hashes.SHA256()).hex()
        log.info("certificate source %s: verified certificate %s under %s (%s, revocation %s)", self.id,
                 fingerprint[:16], anchor.label, mode, revocation)
        return IdentityAssertion(
            source=self.id, subject=_subject(leaf), level=level, amr=amr, verified_at=now,
            claims={name: value for name, value in claims.items() if value}, evidence_ref=f"sha256:{fingerprint}",
            extra={"certificate_chain": tuple(to_pem(c) for c in chain[:-1]), "proof": mode,
                   "revocation": revocation})

    def _check_revocation(self, chain: Sequence[x509.Certificate], anchor: Anchor) -> str:
        """Check every certificate below the anchor; return "checked", "unchecked" (soft) or "off"."""
        if anchor.revocation == "off":
            return "off"
        unknown = []
        for position, certificate in enumerate(chain[:-1]):
            outcome = self._revocation.status(certificate, chain[position + 1], anchor)
            if outcome.status is Status.REVOKED:
                log.warning("certificate source %s: revoked certificate (%s)", self.id, outcome.detail)
                raise VerificationFailed("certificate_revoked", N_(
                    "This certificate has been revoked by its certificate authority. It can no longer be used."))
            if outcome.status is Status.UNKNOWN:
                unknown.append(outcome.detail)
        if not unknown:
            return "checked"
        if anchor.revocation == "hard":
            log.warning("certificate source %s: revocation status unavailable under %s: %s", self.id, anchor.label,
                        "; ".join(unknown))
            raise SourceUnavailable("revocation_unavailable", N_(
                "We could not check whether this certificate has been revoked: the certificate authority's "
                "revocation service did not answer. Try again later."))
        log.warning("certificate source %s: revocation status unavailable under %s, accepted (soft-fail): %s",
                    self.id, anchor.label, "; ".join(unknown))
        return "unchecked"


_FORMAT_MESSAGE = N_("The certificate could not be read. Paste your certificate in PEM format: the text from "
                     "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----.")


def _parse(certificate: object, chain: object) -> tuple[x509.Certificate, list[x509.Certificate]]:
    if not isinstance(certificate, str) or not certificate.strip():
        raise VerificationFailed("certificate_format", _FORMAT_MESSAGE)
    try:
        leaf = load_certificate(certificate)
        supplied = load_certificates(chain, max_chars=MAX_CHAIN_CHARS) if isinstance(chain, str) else []
    except PemError as exc:
        raise VerificationFailed("certificate_format", _FORMAT_MESSAGE) from exc
    return leaf, supplied


def _public_key(leaf: x509.Certificate) -> object | None:
    """The certificate's key, or None for a key type cryptography does not know."""
    try:
        return leaf.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def _parse_time(value: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is not None and parsed.tzinfo is not None else None


def _subject(leaf: x509.Certificate) -> str:
    """A stable id per certificate: SHA-256 of (issuer DN, serial number), RFC 5280 §4.1.2.2 unique pair."""
    digest = hashlib.sha256(leaf.issuer.public_bytes() + b"\x00" + str(leaf.serial_number).encode("ascii"))
    return f"x509:{digest.hexdigest()}"


def create(verifier_id: str, settings: Mapping[str, Any], services: Services) -> CertificateVerifier:
    """Build a certificate source; ConfigError names the first bad setting (docs/sources/certificate.md)."""
    parsed = parse_settings(verifier_id, settings, services.now(), services.sandbox)
    return CertificateVerifier(verifier_id, parsed, services)
