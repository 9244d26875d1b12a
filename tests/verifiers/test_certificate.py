"""The certificate source through its contract (begin/complete) with the in-memory harness: proof of
possession, path validation, usage, identity, the forwarded client certificate and hostile input.

Revocation has its own file (test_certificate_revocation.py); configuration too
(test_certificate_config.py); the end-to-end logins are in test_certificate_login.py.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.base import Level
from idp.verifiers.base import ReadsHeaders
from idp.verifiers.base import Revalidating
from idp.verifiers.certificate import create
from idp.verifiers.conformance import Harness
from tests.verifiers.pki import BUSINESS_TAX_CODE
from tests.verifiers.pki import CITIZEN_ID
from tests.verifiers.pki import OFFICIAL_ID
from tests.verifiers.pki import Holder
from tests.verifiers.pki import key_usage
from tests.verifiers.pki import make_ca
from tests.verifiers.pki import make_leaf
from tests.verifiers.pki import name
from tests.verifiers.pki import new_key
from tests.verifiers.pki import now
from tests.verifiers.pki import sign

IN_PERSON_OID = "1.3.6.1.4.1.99999.1.2"
HARDWARE_OID = "1.3.6.1.4.1.99999.2.1"




@pytest.fixture
def harness() -> Harness:
    return Harness()


def anchors(pki, **public: Any) -> list[dict[str, Any]]:
    return [{"pem": pki.root.pem, "kind": "public", "name": "Test public CA", "ocsp": "aia", **public},
            {"pem": pki.gov_root.pem, "kind": "government", "name": "Test government CA", "ocsp": "aia"}]


def build(pki, harness: Harness, public: dict[str, Any] | None = None, **settings: Any):
    return create("cert", {"anchors": anchors(pki, **(public or {})), **settings}, harness.services)


def attempt_for(verifier, harness: Harness):
    attempt = harness.new_attempt(verifier.id)
    step = verifier.begin(attempt)
    return attempt, step.fields["challenge"]


def login(verifier, harness: Harness, holder: Holder, chain: str, scheme: str = "default",
          **params: str) -> IdentityAssertion:
    attempt, challenge = attempt_for(verifier, harness)
    answer = {"certificate": holder.pem, "chain": chain, "signature": sign(holder, challenge, scheme), **params}
    return verifier.complete(attempt, answer)


def failure(verifier, harness: Harness, holder: Holder, chain: str, **params: str) -> str:
    with pytest.raises(VerificationFailed) as info:
        login(verifier, harness, holder, chain, **params)
    return info.value.code


# --- success -------------------------------------------------------------------------------------
def test_citizen_signed_challenge_gives_a_substantial_assertion(pki, harness):
    """A public-CA certificate proves the person at SUBSTANTIAL (docs/assurance.md), amr x509."""
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    assert challenge.startswith("Login to http://localhost at ") and " nonce " in challenge
    result = verifier.complete(attempt, {"certificate": pki.citizen.pem, "chain": pki.chain,
                                         "signature": sign(pki.citizen, challenge)})
    assert result.level == Level.SUBSTANTIAL and result.amr == ("x509",)
    assert result.claims == {"personal_id": CITIZEN_ID, "full_name": "Nguyễn Văn An", "kind": "citizen"}
    assert result.subject.startswith("x509:") and len(result.subject) == 5 + 64
    assert result.evidence_ref == "sha256:" + pki.citizen.certificate.fingerprint(hashes.SHA256()).hex()
    assert result.verified_at == harness.clock()
    assert result.extra["revocation"] == "checked" and result.extra["proof"] == "signature"


@pytest.mark.parametrize(("holder", "scheme"), [("citizen_rsa", "default"), ("citizen_rsa", "pss"),
                                                ("citizen", "raw"), ("p384", "sha384")])
def test_every_accepted_signature_scheme(pki, harness, holder, scheme):
    """RSA PKCS#1 v1.5 and PSS with SHA-256; ECDSA DER or raw r||s; P-384 with SHA-384."""
    verifier = build(pki, harness, {"revocation": "off"})
    if holder == "p384":
        certificate = make_leaf(pki.intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]),
                                key=new_key("p384"))
    else:
        certificate = getattr(pki, holder)
    assert login(verifier, harness, certificate, pki.chain, scheme).claims["personal_id"] == CITIZEN_ID


def test_the_same_certificate_is_the_same_subject_and_a_renewed_one_is_not(pki, harness):
    """subject = SHA-256(issuer DN, serial): stable per certificate; the core links renewals by personal_id."""
    verifier = build(pki, harness)
    first = login(verifier, harness, pki.citizen, pki.chain)
    again = login(verifier, harness, pki.citizen, pki.chain)
    renewed = login(verifier, harness, pki.citizen_rsa, pki.chain)
    assert first.subject == again.subject != renewed.subject
    assert first.claims["personal_id"] == renewed.claims["personal_id"]


def test_business_certificate_gives_a_tax_code(pki, harness):
    result = login(build(pki, harness), harness, pki.business, pki.chain)
    assert result.claims == {"tax_code": BUSINESS_TAX_CODE, "full_name": "CÔNG TY TNHH THỬ NGHIỆM", "kind": "business"}


def test_official_under_the_government_root_is_high_with_agency(pki, harness):
    """A Government Cipher Committee certificate: kind official, agency from O, level HIGH."""
    result = login(build(pki, harness), harness, pki.official, pki.gov_chain)
    assert result.level == Level.HIGH
    assert result.claims == {"personal_id": OFFICIAL_ID, "full_name": "Lê Văn Cán Bộ", "kind": "official",
                             "agency": "Bộ Nội vụ"}


def test_in_person_policy_raises_a_public_certificate_to_high_and_hwk_is_only_from_policy(pki, harness):
    verifier = build(pki, harness, {"in_person_policy_oids": [IN_PERSON_OID],
                                    "hardware_key_policy_oids": [HARDWARE_OID]})
    assert verifier.info.max_level == Level.HIGH
    token = make_leaf(pki.intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]),
                      policies=[IN_PERSON_OID, HARDWARE_OID], crl_url=pki.server.url("/public.crl"))
    result = login(verifier, harness, token, pki.chain)
    assert result.level == Level.HIGH and result.amr == ("hwk", "x509")
    plain = login(verifier, harness, pki.citizen, pki.chain)
    assert plain.level == Level.SUBSTANTIAL and plain.amr == ("x509",)


def test_intermediates_may_be_configured_instead_of_sent(pki, harness):
    verifier = build(pki, harness, {"intermediates": [pki.intermediate.pem]})
    assert login(verifier, harness, pki.citizen, "").claims["personal_id"] == CITIZEN_ID


def test_signing_certificates_are_accepted_only_when_configured(pki, harness):
    """EKU: clientAuth by default; emailProtection (or document signing) only when the anchor lists it."""
    signing = make_leaf(pki.intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]),
                        ekus=[ExtendedKeyUsageOID.EMAIL_PROTECTION], crl_url=pki.server.url("/public.crl"))
    assert failure(build(pki, harness), harness, signing, pki.chain) == "certificate_usage"
    verifier = build(pki, harness, {"extended_key_usages": ["client_auth", "email_protection"]})
    assert login(verifier, harness, signing, pki.chain).claims["personal_id"] == CITIZEN_ID


# --- proof of possession and the challenge -------------------------------------------------------
def test_signature_by_another_key_is_signature_invalid(pki, harness):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": pki.citizen.pem, "chain": pki.chain,
                                    "signature": sign(pki.business, challenge)})
    assert info.value.code == "signature_invalid"


def test_signature_over_another_text_is_signature_invalid(pki, harness):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": pki.citizen.pem, "chain": pki.chain,
                                    "signature": sign(pki.citizen, challenge + " ")})
    assert info.value.code == "signature_invalid"


def test_challenge_expires_after_its_lifetime(pki, harness):
    verifier = build(pki, harness, challenge_ttl=120)
    attempt, challenge = attempt_for(verifier, harness)
    answer = {"certificate": pki.citizen.pem, "chain": pki.chain, "signature": sign(pki.citizen, challenge)}
    harness.clock.advance(timedelta(seconds=121))
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, answer)
    assert info.value.code == "challenge_expired"


def test_challenge_is_single_use(pki, harness):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    answer = {"certificate": pki.citizen.pem, "chain": pki.chain, "signature": sign(pki.citizen, challenge)}
    assert isinstance(verifier.complete(attempt, answer), IdentityAssertion)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, answer)
    assert info.value.code == "challenge_replayed"


def test_failures_are_counted_and_end_the_attempt(pki, harness):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    for _ in range(5):
        with pytest.raises(VerificationFailed):
            verifier.complete(attempt, {"certificate": "x", "signature": "AAAA"})
    good = {"certificate": pki.citizen.pem, "chain": pki.chain, "signature": sign(pki.citizen, challenge)}
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, good)
    assert info.value.code == "too_many_attempts"


def test_complete_without_begin_is_attempt_unknown(pki, harness):
    verifier = build(pki, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(harness.new_attempt("cert"), {"certificate": pki.citizen.pem, "signature": "AAAA"})
    assert info.value.code == "attempt_unknown"


def test_empty_answer_asks_for_the_signature(pki, harness):
    verifier = build(pki, harness)
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {})
    assert info.value.code == "proof_missing"


# --- path validation -----------------------------------------------------------------------------
def test_unknown_ca_is_untrusted(pki, harness):
    stranger = make_ca("Some Other Root")
    leaf = make_leaf(stranger, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]))
    assert failure(build(pki, harness), harness, leaf, stranger.pem) == "certificate_untrusted"


def test_self_signed_impostor_with_the_real_ca_subject_is_untrusted(pki, harness):
    """RFC 5280 §6.1: names alone prove nothing; the anchor's key must verify the path."""
    impostor_root = make_ca("Test Public Root CA")  # same subject as the real root, another key
    impostor_ca = make_ca("Test Public Issuing CA", impostor_root, path_length=0)  # same subject as the real one
    assert impostor_ca.certificate.subject == pki.intermediate.certificate.subject
    leaf = make_leaf(impostor_ca, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]))
    assert failure(build(pki, harness), harness, leaf, impostor_ca.pem + impostor_root.pem) == "certificate_untrusted"


def test_self_signed_end_entity_is_untrusted(pki, harness):
    key = new_key()
    subject = name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"])
    me = make_leaf(Holder(make_ca("unused").certificate, key), subject, key=key, issuer_name=subject)
    assert me.certificate.issuer == me.certificate.subject
    assert failure(build(pki, harness), harness, me, "") == "certificate_untrusted"


def test_missing_chain_is_untrusted(pki, harness):
    assert failure(build(pki, harness), harness, pki.citizen, "") == "certificate_untrusted"


def test_certificate_signed_with_the_wrong_key_is_untrusted(pki, harness):
    forged = make_leaf(pki.intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]), signer=new_key())
    assert failure(build(pki, harness), harness, forged, pki.chain) == "certificate_untrusted"


def test_path_length_constraint_is_enforced(pki, harness):
    """RFC 5280 §4.2.1.9: the intermediate has pathLenConstraint 0, so it may not issue a CA."""
    sub_ca = make_ca("Sub CA under a pathlen-0 CA", pki.intermediate)
    leaf = make_leaf(sub_ca, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]))
    assert failure(build(pki, harness, {"revocation": "off"}), harness, leaf,
                   sub_ca.pem + pki.intermediate.pem) == "certificate_untrusted"


def test_a_ca_restricted_to_other_purposes_cannot_issue_login_certificates(pki, harness):
    server_only = make_ca("Server-only CA", pki.root, path_length=0, ekus=[ExtendedKeyUsageOID.SERVER_AUTH])
    leaf = make_leaf(server_only, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]))
    assert failure(build(pki, harness, {"revocation": "off"}), harness, leaf, server_only.pem) == \
        "certificate_untrusted"


def test_expired_and_not_yet_valid(pki, harness):
    verifier = build(pki, harness)
    subject = name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"])
    expired = make_leaf(pki.intermediate, subject, not_before=now() - timedelta(days=400),
                        not_after=now() - timedelta(days=1))
    future = make_leaf(pki.intermediate, subject, not_before=now() + timedelta(days=1))
    assert failure(verifier, harness, expired, pki.chain) == "certificate_expired"
    assert failure(verifier, harness, future, pki.chain) == "certificate_not_yet_valid"


def test_expiry_follows_the_services_clock(pki, harness):
    verifier = build(pki, harness)
    harness.clock.advance(timedelta(days=366))  # the citizen certificate is valid for 365 days
    assert failure(verifier, harness, pki.citizen, pki.chain) == "certificate_expired"


@pytest.mark.parametrize("case", ["server_auth_only", "key_encipherment_only", "rsa_1024"])
def test_wrong_usage(pki, harness, case):
    subject = name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"])
    leaf = {"server_auth_only": lambda: make_leaf(pki.intermediate, subject, ekus=[ExtendedKeyUsageOID.SERVER_AUTH]),
            "key_encipherment_only": lambda: make_leaf(pki.intermediate, subject,
                                                       usage=key_usage(key_encipherment=True)),
            "rsa_1024": lambda: make_leaf(pki.intermediate, subject, key=new_key("rsa1024"))}[case]()
    assert failure(build(pki, harness), harness, leaf, pki.chain) == "certificate_usage"


# --- identity ------------------------------------------------------------------------------------
def test_certificate_without_identifier(pki, harness):
    verifier = build(pki, harness)
    for subject in (name("Nguyễn Văn An"), name("Nguyễn Văn An", uid=["CMND:123456789"]),
                    name("Nguyễn Văn An", uid=["CCCD:001090012345", "CCCD:001090054321"])):
        assert failure(verifier, harness, make_leaf(pki.intermediate, subject), pki.chain) == "no_identifier"


def test_government_organisation_certificate_is_not_an_official(pki, harness):
    agency_cert = make_leaf(pki.gov_intermediate, name("Sở Y tế", uid=[f"MST:{BUSINESS_TAX_CODE}", "MNS:1047665"],
                                                      o="UBND Thành phố"))
    assert failure(build(pki, harness), harness, agency_cert, pki.gov_chain) == "official_without_personal_id"


# --- hostile input -------------------------------------------------------------------------------
@pytest.mark.parametrize("certificate", [
    "", "not a certificate", "9" * 20_000, "\x00<script>alert(1)</script>'\"", "Nguyễn",
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----",
])
def test_malformed_certificate_is_certificate_format(pki, harness, certificate):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": certificate, "signature": sign(pki.citizen, challenge)})
    assert info.value.code == "certificate_format"


def test_text_around_the_pem_block_is_refused(pki, harness):
    verifier = build(pki, harness)
    for tampered in (pki.citizen.pem + "A", "x" + pki.citizen.pem, pki.citizen.pem + pki.business.pem):
        attempt, challenge = attempt_for(verifier, harness)
        with pytest.raises(VerificationFailed) as info:
            verifier.complete(attempt, {"certificate": tampered, "chain": pki.chain,
                                        "signature": sign(pki.citizen, challenge)})
        assert info.value.code == "certificate_format"


def test_unknown_key_type_is_refused(pki, harness):
    """A key algorithm cryptography does not know (the SPKI OID rewritten) never reaches a crash."""
    der = pki.citizen.certificate.public_bytes(Encoding.DER)
    ec_public_key = bytes.fromhex("2a8648ce3d0201")  # id-ecPublicKey
    at = der.index(ec_public_key)
    strange = x509.load_der_x509_certificate(der[:at] + bytes.fromhex("2a8648ce3d0209") + der[at + 7:])
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": strange.public_bytes(Encoding.PEM).decode(), "chain": pki.chain,
                                    "signature": sign(pki.citizen, challenge)})
    assert info.value.code == "signature_invalid"


def test_malformed_extension_the_path_validation_ignores_is_certificate_format(pki, harness):
    """A CA-signed certificate whose certificatePolicies cannot be parsed is refused cleanly."""
    broken = x509.UnrecognizedExtension(x509.oid.ExtensionOID.CERTIFICATE_POLICIES, b"\x01\x02")
    subject = name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"])
    key = new_key()
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(pki.intermediate.certificate.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now() - timedelta(days=1)).not_valid_after(now() + timedelta(days=30))
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       pki.intermediate.key.public_key()), critical=False)
                   .add_extension(broken, critical=False).sign(pki.intermediate.key, hashes.SHA256()))
    assert failure(build(pki, harness, {"revocation": "off"}), harness, Holder(certificate, key),
                   pki.chain) == "certificate_format"


def _with_version(holder: Holder, version: int) -> str:
    """The certificate's PEM with its version field ([0] EXPLICIT INTEGER) rewritten."""
    der = holder.certificate.public_bytes(Encoding.DER)
    at = der.index(bytes.fromhex("a003020102"))
    raw = der[:at] + bytes.fromhex("a0030201") + bytes([version]) + der[at + 5:]
    body = base64.encodebytes(raw).decode("ascii")
    return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


def test_unknown_certificate_version_is_certificate_format(pki, harness):
    """cryptography raises InvalidVersion (not a ValueError) for it: never a server error."""
    verifier = build(pki, harness, trusted_proxies=[PROXY])
    odd = _with_version(pki.citizen, 57)
    for params in ({"certificate": odd, "chain": pki.chain}, {"certificate": pki.citizen.pem,
                                                               "chain": _with_version(pki.intermediate, 9)}):
        attempt, challenge = attempt_for(verifier, harness)
        with pytest.raises(VerificationFailed) as info:
            verifier.complete(attempt, {**params, "signature": sign(pki.citizen, challenge)})
        assert info.value.code == "certificate_format"
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {HEADER: quote(odd), "peer_addr": PROXY})
    assert info.value.code == "certificate_format"


@pytest.mark.parametrize("chain", ["junk", "9" * 70_000, "\x00", "Nguyễn"])
def test_malformed_chain_is_certificate_format(pki, harness, chain):
    verifier = build(pki, harness)
    attempt, challenge = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": pki.citizen.pem, "chain": chain,
                                    "signature": sign(pki.citizen, challenge)})
    assert info.value.code == "certificate_format"


@pytest.mark.parametrize("signature", ["***", "9" * 5000, "\x00<script>", "Nguyễn", "AAAA"])
def test_malformed_signature_is_signature_invalid(pki, harness, signature):
    verifier = build(pki, harness)
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {"certificate": pki.citizen.pem, "chain": pki.chain, "signature": signature})
    assert info.value.code == "signature_invalid"


# --- a client certificate forwarded by the TLS terminator ----------------------------------------
PROXY = "10.1.2.3"
HEADER = "header:x-ssl-client-cert"


def test_forwarded_certificate_from_a_trusted_proxy(pki, harness):
    """nginx `$ssl_client_escaped_cert` (URL-encoded PEM) from a configured proxy address."""
    verifier = build(pki, harness, {"intermediates": [pki.intermediate.pem]}, trusted_proxies=["10.1.2.0/24"])
    assert isinstance(verifier, ReadsHeaders) and verifier.headers == ("X-SSL-Client-Cert",)
    attempt, _ = attempt_for(verifier, harness)
    result = verifier.complete(attempt, {HEADER: quote(pki.citizen.pem), "peer_addr": PROXY, "mode": "tls"})
    assert result.claims["personal_id"] == CITIZEN_ID and result.extra["proof"] == "tls"


def test_forwarded_certificate_flattened_by_apache(pki, harness):
    verifier = build(pki, harness, {"intermediates": [pki.intermediate.pem]}, trusted_proxies=[PROXY],
                     client_cert_header="SSL-Client-Cert")
    assert verifier.headers == ("SSL-Client-Cert",)
    attempt, _ = attempt_for(verifier, harness)
    flattened = pki.citizen.pem.replace("\n", " ")
    result = verifier.complete(attempt, {"header:ssl-client-cert": flattened, "peer_addr": PROXY})
    assert result.claims["personal_id"] == CITIZEN_ID


def test_forwarded_certificate_from_another_peer_is_ignored(pki, harness):
    verifier = build(pki, harness, {"intermediates": [pki.intermediate.pem]}, trusted_proxies=[PROXY])
    for peer in ("10.1.2.4", "127.0.0.1", "", "not an address", "::ffff:10.1.2.4"):
        attempt, _ = attempt_for(verifier, harness)
        with pytest.raises(VerificationFailed) as info:
            verifier.complete(attempt, {HEADER: quote(pki.citizen.pem), "peer_addr": peer})
        assert info.value.code == "header_untrusted_proxy"


def test_forwarded_certificate_is_ignored_when_no_proxy_is_configured(pki, harness):
    verifier = build(pki, harness)
    assert verifier.headers == ()
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {HEADER: quote(pki.citizen.pem), "peer_addr": PROXY})
    assert info.value.code == "proof_missing"


def test_signature_wins_over_an_untrusted_forwarded_certificate(pki, harness):
    verifier = build(pki, harness, trusted_proxies=[PROXY])
    result = login(verifier, harness, pki.citizen, pki.chain, **{HEADER: quote(pki.business.pem),
                                                                 "peer_addr": "192.0.2.1"})
    assert result.claims["personal_id"] == CITIZEN_ID


@pytest.mark.parametrize("value", ["", "(null)"])
def test_tls_mode_without_a_forwarded_certificate(pki, harness, value):
    verifier = build(pki, harness, trusted_proxies=[PROXY])
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {HEADER: value, "peer_addr": PROXY, "mode": "tls"})
    assert info.value.code == "client_certificate_missing"


@pytest.mark.parametrize("value", ["junk", "%00%3Cscript%3E", "9" * 20_000])
def test_malformed_forwarded_certificate(pki, harness, value):
    verifier = build(pki, harness, trusted_proxies=[PROXY])
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {HEADER: value, "peer_addr": PROXY})
    assert info.value.code == "certificate_format"


def test_forwarded_certificate_still_gets_every_check(pki, harness):
    verifier = build(pki, harness, {"intermediates": [pki.intermediate.pem]}, trusted_proxies=[PROXY])
    attempt, _ = attempt_for(verifier, harness)
    with pytest.raises(VerificationFailed) as info:
        verifier.complete(attempt, {HEADER: quote(pki.revoked.pem), "peer_addr": PROXY})
    assert info.value.code == "certificate_revoked"


# --- revalidation and privacy --------------------------------------------------------------------
def test_revalidate_rechecks_revocation(pki, harness):
    verifier = build(pki, harness)
    assert isinstance(verifier, Revalidating)
    first = login(verifier, harness, pki.citizen, pki.chain)
    harness.clock.advance(timedelta(minutes=10))
    again = verifier.revalidate(first)
    assert again.verified_at == harness.clock() and again.subject == first.subject
    pki.server.ocsp["/ocsp/public"].revoked.add(pki.citizen.serial)
    with pytest.raises(VerificationFailed) as info:
        verifier.revalidate(first)
    assert info.value.code == "certificate_revoked"


def test_revalidate_refuses_an_assertion_without_its_certificate(pki, harness):
    verifier = build(pki, harness)
    bare = IdentityAssertion(source="cert", subject="x509:00", level=Level.SUBSTANTIAL, amr=("x509",),
                             verified_at=harness.clock(), claims={})
    with pytest.raises(VerificationFailed) as info:
        verifier.revalidate(bare)
    assert info.value.code == "certificate_format"


def test_no_personal_data_in_repr_or_logs(pki, harness, caplog):
    verifier = build(pki, harness)
    caplog.set_level("DEBUG")
    result = login(verifier, harness, pki.official, pki.gov_chain)
    with pytest.raises((VerificationFailed, SourceUnavailable)):
        login(verifier, harness, pki.official_revoked, pki.gov_chain)
    shown = " ".join((repr(verifier), repr(result), caplog.text))
    for value in (OFFICIAL_ID, "Lê Văn Cán Bộ", "Bộ Nội vụ", "001080000999", "Phạm Văn Cũ"):
        assert value not in shown
