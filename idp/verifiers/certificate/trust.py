"""Path validation to the configured trust anchors, and the checks the X.509 API leaves to us.

`cryptography.x509.verification` (a client verifier per anchor, at `services.now()`) enforces,
for every certificate of the path: X.509 v3, validity at the given time, permitted signature and
key algorithms (RSA >= 2048 for issuers), CA basicConstraints (critical, cA) and keyUsage
keyCertSign, pathLenConstraint, name constraints, no unknown critical extension; for the end
entity: not a CA, no keyCertSign, an authorityKeyIdentifier.

What it does not do, and this module does:
- the end entity's validity is checked first, to say "expired" or "not yet valid" clearly;
- its extended key usage must include one the anchor accepts (default clientAuth; the API only
  knows clientAuth, so the API's own EKU check is replaced: for the end entity by ours, for CAs
  by one that accepts the anchor's set or anyExtendedKeyUsage);
- its keyUsage, when present, must allow signatures (digitalSignature or contentCommitment);
- its own key must be RSA >= 2048 or EC P-256/P-384/P-521 (the API checks only issuers' keys);
- the API requires a subjectAltName on client certificates; Vietnamese personal certificates
  often have none, so it may be absent here;
- revocation (revocation.py) and the subject's identity (identity.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import Criticality
from cryptography.x509.verification import ExtensionPolicy
from cryptography.x509.verification import Policy
from cryptography.x509.verification import PolicyBuilder
from cryptography.x509.verification import Store
from cryptography.x509.verification import VerificationError

from idp.i18n import N_
from idp.verifiers.base import Level
from idp.verifiers.certificate.config import Anchor
from idp.verifiers.errors import VerificationFailed

ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def check_validity(leaf: x509.Certificate, now: datetime) -> None:
    """RFC 5280 §4.1.2.5: the certificate must be valid now."""
    if now > leaf.not_valid_after_utc:
        raise VerificationFailed("certificate_expired", N_(
            "This certificate has expired. Renew it with your certificate authority, then try again."))
    if now < leaf.not_valid_before_utc:
        raise VerificationFailed("certificate_not_yet_valid", N_(
            "This certificate is not valid yet. Check the date and time of your device, or try again later."))


class PathValidator:
    """Build a path from a certificate to one of the anchors (RFC 5280 §6), tried in order."""

    def __init__(self, anchors: Sequence[Anchor]) -> None:
        self._anchors = tuple(anchors)
        self._policies = {id(anchor): (_ca_policy(anchor), _ee_policy()) for anchor in self._anchors}

    def validate(self, leaf: x509.Certificate, supplied: Sequence[x509.Certificate],
                 now: datetime) -> tuple[Anchor, list[x509.Certificate]]:
        """Return the anchor reached and the path (leaf first, anchor last); raise certificate_untrusted."""
        for anchor in self._anchors:
            ca_policy, ee_policy = self._policies[id(anchor)]
            verifier = (PolicyBuilder().store(Store([anchor.certificate])).time(now)
                        .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy).build_client_verifier())
            try:
                return anchor, list(verifier.verify(leaf, [*supplied, *anchor.intermediates]).chain)
            except (VerificationError, x509.UnsupportedGeneralNameType, ValueError):
                continue  # the message names certificates (personal data): never logged
        raise VerificationFailed("certificate_untrusted", N_(
            "This certificate was not issued by a certificate authority we trust, or its chain of "
            "certificates is incomplete or invalid."))


def check_usage(leaf: x509.Certificate, anchor: Anchor) -> None:
    """The end entity may sign, for a purpose the anchor accepts, with an accepted key."""
    key = leaf.public_key()  # the caller turns ValueError / UnsupportedAlgorithm into certificate_format
    allowed_key = (isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048) or (
        isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ACCEPTED_CURVES))
    usage = _extension(leaf, x509.KeyUsage)
    allowed_usage = usage is None or usage.digital_signature or usage.content_commitment
    ekus = _extension(leaf, x509.ExtendedKeyUsage)
    # RFC 5280 §4.2.1.12: without the extension the key may be used for any purpose.
    allowed_purpose = ekus is None or bool(set(ekus) & anchor.extended_key_usages)
    if not (allowed_key and allowed_usage and allowed_purpose):
        raise VerificationFailed("certificate_usage", N_(
            "This certificate cannot be used to log in: its key or its permitted uses do not allow it. "
            "Use your authentication or signing certificate."))


def policy_oids(leaf: x509.Certificate) -> frozenset[str]:
    """The certificate policies the CA asserted (RFC 5280 §4.2.1.4)."""
    policies = _extension(leaf, x509.CertificatePolicies)
    return frozenset(info.policy_identifier.dotted_string for info in policies or ())


def level_and_amr(leaf: x509.Certificate, anchor: Anchor) -> tuple[Level, tuple[str, ...]]:
    """The anchor's level, HIGH when a policy says the subject was identified in person; amr
    `x509`, plus `hwk`/`swk` (RFC 8176) only when a configured policy OID says where the key is."""
    oids = policy_oids(leaf)
    level = Level.HIGH if oids & anchor.in_person_policy_oids else anchor.level
    if oids & anchor.hardware_key_policy_oids:
        return level, ("hwk", "x509")
    if oids & anchor.software_key_policy_oids:
        return level, ("swk", "x509")
    return level, ("x509",)


def _extension(certificate: x509.Certificate, kind: type) -> object | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _ee_policy() -> ExtensionPolicy:
    # CA/B defaults, except: subjectAltName optional; EKU left to check_usage (the API would
    # demand clientAuth even when the anchor accepts signing certificates).
    return (ExtensionPolicy.webpki_defaults_ee()
            .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
            .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None))


def _ca_policy(anchor: Anchor) -> ExtensionPolicy:
    accepted = anchor.extended_key_usages | {ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}

    def ca_extended_key_usage(_policy: Policy, _certificate: x509.Certificate,
                              value: x509.ExtendedKeyUsage | None) -> None:
        # An EKU in a CA certificate constrains what it may issue for (CA/B 7.1.2.10.6).
        if value is not None and not set(value) & accepted:
            raise ValueError("the CA may not issue certificates for an accepted purpose")

    return ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.NON_CRITICAL,
                                                               ca_extended_key_usage)
