"""Revocation over real loopback HTTP: CRLs (RFC 5280 §5, §6.3) and OCSP (RFC 6960) published by a
test server, with the hard-fail / soft-fail policy of each anchor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from werkzeug.wrappers import Response

from idp.errors import SourceUnavailable
from idp.errors import VerificationFailed
from idp.verifiers.base import IdentityAssertion
from idp.verifiers.certificate import create
from idp.verifiers.conformance import Harness
from tests.verifiers.pki import CITIZEN_ID
from tests.verifiers.pki import Holder
from tests.verifiers.pki import JumpingClock
from tests.verifiers.pki import OcspResponder
from tests.verifiers.pki import StallingServer
from tests.verifiers.pki import closed_port_url
from tests.verifiers.pki import make_ca
from tests.verifiers.pki import make_crl
from tests.verifiers.pki import make_leaf
from tests.verifiers.pki import name
from tests.verifiers.pki import new_key
from tests.verifiers.pki import now
from tests.verifiers.pki import sign


@pytest.fixture
def harness() -> Harness:
    return Harness()


def build(pki, harness: Harness, public: dict[str, Any] | None = None, government: dict[str, Any] | None = None,
          **settings: Any):
    anchors = [{"pem": pki.root.pem, "kind": "public", "name": "Test public CA", **(public or {})},
               {"pem": pki.gov_root.pem, "kind": "government", "name": "Test government CA", **(government or {})}]
    return create("cert", {"anchors": anchors, **settings}, harness.services)


def login(verifier, harness: Harness, holder: Holder, chain: str):  # noqa: ANN201
    attempt = harness.new_attempt(verifier.id)
    challenge = verifier.begin(attempt).fields["challenge"]
    return verifier.complete(attempt, {"certificate": holder.pem, "chain": chain,
                                       "signature": sign(holder, challenge)})


def refused(verifier, harness: Harness, holder: Holder, chain: str) -> str:
    with pytest.raises((VerificationFailed, SourceUnavailable)) as info:
        login(verifier, harness, holder, chain)
    return info.value.code


# --- CRL -------------------------------------------------------------------------------------------
def test_crl_from_the_distribution_point_says_good_and_revoked(pki, harness):
    verifier = build(pki, harness)  # ocsp off by default: CRLs only
    assert login(verifier, harness, pki.citizen, pki.chain).extra["revocation"] == "checked"
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 1 and pki.server.hits["/root.crl"] == 1  # cached


def test_revoked_intermediate_is_refused(pki, harness):
    """Every certificate below the anchor is checked: the root's CRL revokes the issuing CA."""
    pki.server.crls["/root.crl"] = make_crl(pki.root, [pki.intermediate.serial])
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "certificate_revoked"


def test_configured_crl_url_replaces_the_distribution_point(pki, harness):
    pki.server.crls["/mirror.crl"] = make_crl(pki.intermediate, [pki.citizen.serial])
    verifier = build(pki, harness, {"crl_urls": [pki.server.url("/mirror.crl")], "revocation": "hard"})
    assert refused(verifier, harness, pki.citizen, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 0


def test_configured_crl_url_does_not_leave_the_intermediate_without_its_crl(pki, harness):
    """The mirror is the issuing CA's CRL; the intermediate is still checked on its own distribution
    point (root.crl), so `hard` accepts a good chain instead of refusing every login."""
    pki.server.crls["/mirror.crl"] = make_crl(pki.intermediate)
    verifier = build(pki, harness, {"crl_urls": [pki.server.url("/mirror.crl")], "revocation": "hard"})
    assert isinstance(login(verifier, harness, pki.citizen, pki.chain), IdentityAssertion)
    assert pki.server.hits["/root.crl"] >= 1 and pki.server.hits["/public.crl"] == 0


def test_crl_is_cached_until_its_next_update(pki, harness):
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, next_update=now() + timedelta(hours=2))
    verifier = build(pki, harness)
    login(verifier, harness, pki.citizen, pki.chain)
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, [pki.citizen.serial],
                                              next_update=now() + timedelta(days=1))
    login(verifier, harness, pki.citizen, pki.chain)  # still the cached CRL: not yet revoked
    assert pki.server.hits["/public.crl"] == 1
    harness.clock.advance(timedelta(hours=2, minutes=1))
    assert refused(verifier, harness, pki.citizen, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 2


def test_crl_signed_by_the_wrong_key_is_not_used(pki, harness):
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, signer=new_key())
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"


def test_crl_of_another_issuer_is_not_used(pki, harness):
    pki.server.crls["/public.crl"] = make_crl(pki.root)
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"


def test_stale_crl_is_not_used(pki, harness):
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, this_update=now() - timedelta(days=3),
                                              next_update=now() - timedelta(days=1))
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"


def test_crl_that_is_too_large_or_broken_is_not_used(pki, harness):
    pki.server.crls["/public.crl"] = b"\x30" * 5_000
    assert refused(build(pki, harness, crl_max_bytes=4_000), harness, pki.citizen, pki.chain) == \
        "revocation_unavailable"
    pki.server.handlers["/public.crl"] = lambda request: Response(b"<html>not a CRL</html>")
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"


def test_server_errors_and_redirects_are_not_followed(pki, harness):
    pki.server.handlers["/public.crl"] = lambda request: Response("", status=302,
                                                                  headers={"Location": "/elsewhere.crl"})
    pki.server.crls["/elsewhere.crl"] = make_crl(pki.intermediate)
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"
    assert pki.server.hits["/elsewhere.crl"] == 0
    pki.server.handlers["/public.crl"] = lambda request: Response("down", status=500)
    assert refused(build(pki, harness), harness, pki.citizen, pki.chain) == "revocation_unavailable"


def test_soft_fail_accepts_a_public_certificate_when_the_crl_is_unreachable(pki, harness, caplog):
    pki.server.handlers["/public.crl"] = lambda request: Response("down", status=503)
    verifier = build(pki, harness, {"revocation": "soft"})
    result = login(verifier, harness, pki.citizen, pki.chain)
    assert result.extra["revocation"] == "unchecked"
    assert "soft-fail" in caplog.text
    # Soft-fail never hides a known revocation.
    pki.server.handlers.clear()
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"


def test_certificate_without_any_revocation_source(pki, harness):
    bare = make_leaf(pki.intermediate, name("Nguyễn Văn An", uid=[f"CCCD:{CITIZEN_ID}"]))
    assert refused(build(pki, harness), harness, bare, pki.chain) == "revocation_unavailable"
    assert login(build(pki, harness, {"revocation": "soft"}), harness, bare, pki.chain).extra["revocation"] == \
        "unchecked"


# --- OCSP ------------------------------------------------------------------------------------------
def test_ocsp_good_and_revoked_from_the_certificate(pki, harness):
    verifier = build(pki, harness, {"ocsp": "aia"}, {"ocsp": "aia"})
    assert login(verifier, harness, pki.citizen, pki.chain).extra["revocation"] == "checked"
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"
    assert refused(verifier, harness, pki.official_revoked, pki.gov_chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 0 and pki.server.hits["/ocsp/public"] == 2


def test_ocsp_from_a_configured_url(pki, harness):
    pki.server.ocsp["/responder"] = OcspResponder(pki.intermediate, {pki.citizen.serial})
    verifier = build(pki, harness, {"ocsp": pki.server.url("/responder")})
    assert refused(verifier, harness, pki.citizen, pki.chain) == "certificate_revoked"


def test_ocsp_by_a_delegated_responder(pki, harness):
    """RFC 6960 §4.2.2.2: a responder certificate issued by the CA with id-kp-OCSPSigning."""
    responder = make_leaf(pki.intermediate, name("OCSP responder"), ekus=[ExtendedKeyUsageOID.OCSP_SIGNING])
    pki.server.ocsp["/ocsp/public"] = OcspResponder(pki.intermediate, {pki.revoked.serial}, signer=responder)
    verifier = build(pki, harness, {"ocsp": "aia"})
    assert login(verifier, harness, pki.citizen, pki.chain).extra["revocation"] == "checked"
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 0


@pytest.mark.parametrize("case", ["no_ocsp_signing_eku", "issued_by_another_ca", "signed_by_a_stranger"])
def test_ocsp_by_an_unauthorised_responder_is_not_used(pki, harness, case):
    """A response the CA did not authorise is ignored; with no CRL either, hard-fail refuses."""
    stranger = make_ca("Stranger")
    responder = {
        "no_ocsp_signing_eku": lambda: make_leaf(pki.intermediate, name("OCSP"),
                                                 ekus=[ExtendedKeyUsageOID.CLIENT_AUTH]),
        "issued_by_another_ca": lambda: make_leaf(stranger, name("OCSP"), ekus=[ExtendedKeyUsageOID.OCSP_SIGNING]),
        "signed_by_a_stranger": lambda: stranger,
    }[case]()
    pki.server.ocsp["/ocsp/public"] = OcspResponder(pki.intermediate, signer=responder)
    pki.server.handlers["/public.crl"] = lambda request: Response("down", status=503)
    assert refused(build(pki, harness, {"ocsp": "aia"}), harness, pki.citizen, pki.chain) == "revocation_unavailable"


@pytest.mark.parametrize("responder", [
    {"wrong_nonce": True},
    {"next_update": timedelta(minutes=-30), "this_update": timedelta(hours=-2)},
    {"next_update": None, "this_update": timedelta(hours=-2)},
    {"this_update": timedelta(hours=1)},
    {"status": ocsp.OCSPResponseStatus.TRY_LATER},
])
def test_ocsp_answers_that_cannot_be_relied_on_fall_back_to_the_crl(pki, harness, responder):
    """Nonce mismatch, stale, too old without nextUpdate, dated in the future, tryLater: the CRL decides."""
    pki.server.ocsp["/ocsp/public"] = OcspResponder(pki.intermediate, **responder)
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, [pki.citizen.serial])
    assert refused(build(pki, harness, {"ocsp": "aia"}), harness, pki.citizen, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/ocsp/public"] == 1 and pki.server.hits["/public.crl"] == 1


def test_ocsp_without_nonce_but_fresh_is_accepted(pki, harness):
    pki.server.ocsp["/ocsp/public"] = OcspResponder(pki.intermediate, {pki.citizen.serial}, echo_nonce=False)
    assert refused(build(pki, harness, {"ocsp": "aia"}), harness, pki.citizen, pki.chain) == "certificate_revoked"
    assert pki.server.hits["/public.crl"] == 0


def test_ocsp_unreachable_hard_fails_for_an_official(pki, harness):
    """Government anchors always hard-fail: no revocation answer, no login."""
    dead = closed_port_url("/ocsp")
    pki.server.handlers["/gov.crl"] = lambda request: Response("down", status=503)
    verifier = build(pki, harness, government={"ocsp": dead})
    with pytest.raises(SourceUnavailable) as info:
        login(verifier, harness, pki.official, pki.gov_chain)
    assert info.value.code == "revocation_unavailable"


def test_ocsp_unreachable_soft_fails_for_a_public_anchor_when_configured(pki, harness):
    dead = closed_port_url("/ocsp")
    pki.server.handlers["/public.crl"] = lambda request: Response("down", status=503)
    hard = build(pki, harness, {"ocsp": dead})
    assert refused(hard, harness, pki.citizen, pki.chain) == "revocation_unavailable"
    soft = build(pki, harness, {"ocsp": dead, "revocation": "soft"})
    assert login(soft, harness, pki.citizen, pki.chain).extra["revocation"] == "unchecked"


def test_ocsp_unreachable_falls_back_to_the_crl(pki, harness):
    verifier = build(pki, harness, {"ocsp": closed_port_url("/ocsp")})
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"
    assert login(verifier, harness, pki.citizen, pki.chain).extra["revocation"] == "checked"


def test_revocation_off_is_only_for_development(pki, harness):
    verifier = build(pki, harness, {"revocation": "off"})
    result = login(verifier, harness, pki.revoked, pki.chain)  # not even asked
    assert result.extra["revocation"] == "off" and sum(pki.server.hits.values()) == 0


def test_a_server_that_stalls_mid_body_is_abandoned_at_the_deadline(monkeypatch):
    """The transfer deadline is checked after every socket read, not only after a full 64 KiB chunk,
    which a server dripping bytes could delay for hours (each byte within the read timeout)."""
    from idp.verifiers.certificate import fetch as fetch_module

    monkeypatch.setattr(fetch_module, "time", JumpingClock())
    with StallingServer() as server, pytest.raises(fetch_module.FetchFailed, match="took too long"):
        fetch_module.fetch(server.url, timeout=5, max_bytes=1_000_000)


def _scope(**flags: Any) -> x509.IssuingDistributionPoint:
    values = {"full_name": None, "relative_name": None, "only_contains_user_certs": False,
              "only_contains_ca_certs": False, "only_some_reasons": None, "indirect_crl": False,
              "only_contains_attribute_certs": False, **flags}
    return x509.IssuingDistributionPoint(**values)


@pytest.mark.parametrize("extension", [
    lambda pki: x509.DeltaCRLIndicator(1),
    lambda pki: _scope(only_contains_ca_certs=True),
    lambda pki: _scope(only_some_reasons=frozenset({x509.ReasonFlags.key_compromise})),
    lambda pki: _scope(full_name=[x509.UniformResourceIdentifier(pki.server.url("/partition-2.crl"))]),
], ids=["delta", "ca-certificates-only", "some-reasons-only", "another-partition"])
def test_a_crl_that_does_not_cover_the_certificate_is_not_used(pki, harness, extension):
    """RFC 5280 §6.3.3 (b): a delta, partial or partitioned CRL that does not list the certificate
    says nothing about it; hard-fail refuses instead of taking it for "good"."""
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, extensions=[extension(pki)])
    assert refused(build(pki, harness), harness, pki.revoked, pki.chain) == "revocation_unavailable"


def test_a_crl_whose_scope_covers_the_certificate_is_used(pki, harness):
    own = _scope(only_contains_user_certs=True, full_name=[x509.UniformResourceIdentifier(
        pki.server.url("/public.crl"))])
    pki.server.crls["/public.crl"] = make_crl(pki.intermediate, [pki.revoked.serial], extensions=[own])
    verifier = build(pki, harness)
    assert refused(verifier, harness, pki.revoked, pki.chain) == "certificate_revoked"
    assert login(verifier, harness, pki.citizen, pki.chain).extra["revocation"] == "checked"
