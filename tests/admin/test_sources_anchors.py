"""Trust anchors of the certificate source managed in the admin console (issue 6: upload, inspect
subject/validity/fingerprint, remove): an uploaded CA certificate is checked, stored and used beside
the configured anchors — a citizen's certificate issued under it logs in, and is refused once it is
removed. The PKI is built at run time (tests/verifiers/pki.py), revocation served on loopback."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes

from idp.accounts.roles import AUDITOR
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db
from idp.verifiers.overrides import StoredAnchor
from tests.admin.sources_support import ADMIN_SETTINGS
from tests.admin.sources_support import audit_events
from tests.admin.sources_support import bearer
from tests.admin.sources_support import post_page
from tests.conftest import press_source
from tests.conftest import submit_form
from tests.verifiers.pki import Hierarchy
from tests.verifiers.pki import RevocationServer
from tests.verifiers.pki import build_pki
from tests.verifiers.pki import key_usage
from tests.verifiers.pki import make_ca
from tests.verifiers.pki import now
from tests.verifiers.pki import sign
from tests.verifiers.test_certificate_login import challenge_of

UNTRUSTED = "không do tổ chức chứng thực được hệ thống tin cậy cấp"  # certificate_untrusted, in Vietnamese


@pytest.fixture(scope="module")
def pki() -> Iterator[Hierarchy]:
    with RevocationServer() as server:
        yield build_pki(server)


@pytest.fixture
def settings_overrides(pki) -> dict[str, Any]:
    # Only the government root is configured in the file; the public root is uploaded by the tests.
    return {**ADMIN_SETTINGS, "verifiers": {"mock": {"kind": "mock"}, "certificate": {
        "kind": "certificate",
        "anchors": [{"pem": pki.gov_root.pem, "kind": "government", "name": "Test government CA", "ocsp": "aia"}]}}}


def upload(client, token: str, pem: str, **fields: str):  # noqa: ANN001, ANN201
    return client.post("/admin/api/sources/certificate/anchors", headers=bearer(token),
                       json={"pem": pem, "kind": fields.pop("kind", "public"), **fields})


def citizen_login(app, pki: Hierarchy):  # noqa: ANN001, ANN201
    """A new browser logs in with the citizen's certificate (issued under the public intermediate)."""
    browser = app.test_client()
    prompt = press_source(browser, "certificate")
    assert prompt.status_code == 200
    return submit_form(browser, prompt, certificate=pki.citizen.pem, chain=pki.chain,
                       signature=sign(pki.citizen, challenge_of(prompt)))


def test_an_uploaded_anchor_is_trusted_until_it_is_removed(app, client, api_token, pki):
    token = api_token("admin:national")
    refused = citizen_login(app, pki)
    assert refused.status_code == 400 and UNTRUSTED in refused.get_data(as_text=True)  # only the gov root so far
    response = upload(client, token, pki.root.pem, name="Test public CA")
    assert response.status_code == 201, response.get_json()
    anchor = response.get_json()
    assert anchor["origin"] == "console" and anchor["name"] == "Test public CA"
    assert anchor["sha256_fingerprint"] == pki.root.certificate.fingerprint(hashes.SHA256()).hex()
    assert anchor["subject"] == pki.root.certificate.subject.rfc4514_string()
    assert citizen_login(app, pki).status_code == 303  # accepted: logged in
    removed = client.delete(f"/admin/api/sources/certificate/anchors/{anchor['id']}", headers=bearer(token))
    assert removed.status_code == 204
    again = citizen_login(app, pki)
    assert again.status_code == 400 and UNTRUSTED in again.get_data(as_text=True)
    added, gone = audit_events(app, "admin.source.anchor_added"), audit_events(app, "admin.source.anchor_removed")
    assert added[-1].data["target_id"] == f"certificate:{anchor['sha256_fingerprint']}"
    assert added[-1].data["after"]["name"] == "Test public CA" and gone[-1].data["after"] is None


def test_upload_through_the_page_and_inspect(app, staff, pki):
    browser = staff(NATIONAL_ADMIN)
    response = post_page(browser, "/admin/sources/certificate/anchors", multipart=True,
                         pem_file=(io.BytesIO(pki.root.pem.encode()), "root.pem"), name="Gốc công cộng",
                         kind="public", level="", revocation="hard", ocsp="off")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=anchor_added")
    with app.app_context():
        row = db.session.query(StoredAnchor).one()
        anchor_id, fingerprint = row.id, row.fingerprint
        assert row.level == "substantial" and row.created_by == f"account:{browser.account_id}"
    detail = browser.get("/admin/sources/certificate").get_data(as_text=True)
    assert "Gốc công cộng" in detail and "Test government CA" in detail  # uploaded and configured
    page = browser.get(f"/admin/sources/certificate/anchors/{anchor_id}").get_data(as_text=True)
    colons = ":".join(fingerprint[n:n + 2] for n in range(0, 64, 2)).upper()
    assert colons in page and "CN=Test Public Root CA" in page
    assert pki.root.certificate.not_valid_after_utc.strftime("%d/%m/%Y") in page
    response = post_page(browser, f"/admin/sources/certificate/anchors/{anchor_id}/remove")
    assert response.status_code == 303 and response.headers["Location"].endswith("done=anchor_removed")
    with app.app_context():
        assert db.session.query(StoredAnchor).count() == 0


def test_auditor_inspects_but_cannot_upload(app, staff, client, api_token, pki):
    assert upload(client, api_token("admin:national"), pki.root.pem).status_code == 201
    browser = staff(AUDITOR)
    page = browser.get("/admin/sources/certificate").get_data(as_text=True)
    assert "Test Public Root CA" in page and "/admin/sources/certificate/anchors\"" not in page
    listed = client.get("/admin/api/sources/certificate/anchors", headers=bearer(api_token("admin:auditor")))
    assert {a["origin"] for a in listed.get_json()["anchors"]} == {"console", "file"}


@pytest.mark.parametrize(("make", "words"), [
    (lambda pki: "hello", "PEM"),
    (lambda pki: pki.citizen.pem, "not a CA"),
    (lambda pki: make_ca("No signing", usage=key_usage(crl_sign=True, digital_signature=True)).pem, "keyCertSign"),
    (lambda pki: make_ca("Expired", not_before=now() - timedelta(days=30), not_after=now() - timedelta(days=1)).pem,
     "expired"),
    (lambda pki: make_ca("Future", not_before=now() + timedelta(days=3)).pem, "not valid before"),
    (lambda pki: pki.root.pem + pki.intermediate.pem, "PEM"),
    (lambda pki: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM"),
])
def test_bad_uploads_are_refused_and_nothing_is_stored(app, client, api_token, pki, make, words):
    response = upload(client, api_token("admin:national"), make(pki))
    assert response.status_code == 400, response.get_json()
    assert words in response.get_json()["error_description"]
    with app.app_context():
        assert db.session.query(StoredAnchor).count() == 0
    assert audit_events(app, "admin.source.refused")[-1].data["key"] == "pem"


def test_oversized_and_malformed_bodies(app, client, api_token, pki, staff):
    token = api_token("admin:national")
    huge = upload(client, token, pki.root.pem + " " * 20_000)
    assert huge.status_code == 400 and huge.get_json()["error"] == "invalid_request"
    assert upload(client, token, pki.root.pem, kind="private").status_code == 400
    assert upload(client, token, pki.root.pem, level="ultra").status_code == 400
    soft = upload(client, token, pki.root.pem, kind="government", revocation="soft")
    assert soft.status_code == 400 and "hard" in soft.get_json()["error_description"]
    page = post_page(staff(NATIONAL_ADMIN), "/admin/sources/certificate/anchors", multipart=True,
                     pem_file=(io.BytesIO(b"\xff\xfe binary"), "ca.der"), kind="public", level="", revocation="hard",
                     ocsp="off")
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'role="alert"' in html
    assert 'aria-invalid="true"' in html and 'id="pem_text-error"' in html  # shown at the field too
    with app.app_context():
        assert db.session.query(StoredAnchor).count() == 0


def test_duplicates_are_conflicts(client, api_token, pki):
    token = api_token("admin:national")
    assert upload(client, token, pki.root.pem).status_code == 201
    twice = upload(client, token, pki.root.pem)
    assert twice.status_code == 409 and twice.get_json()["error"] == "conflict"
    configured = upload(client, token, pki.gov_root.pem, kind="government")
    assert configured.status_code == 409 and "configuration file" in configured.get_json()["error_description"]


def test_the_last_anchor_cannot_be_removed(app, client, api_token, pki):
    """Nothing saved that would not start: a certificate source needs at least one anchor."""
    token = api_token("admin:national")
    anchor_id = upload(client, token, pki.root.pem).get_json()["id"]
    emptied = client.patch("/admin/api/sources/certificate/settings", headers=bearer(token),
                           json={"settings": {"anchors": []}})
    assert emptied.status_code == 200, emptied.get_json()
    assert [a["origin"] for a in emptied.get_json()["anchors"]] == ["console"]
    refused = client.delete(f"/admin/api/sources/certificate/anchors/{anchor_id}", headers=bearer(token))
    assert refused.status_code == 400 and "anchor" in refused.get_json()["error_description"]
    with app.app_context():
        assert db.session.get(StoredAnchor, anchor_id) is not None


def test_unknown_anchor_and_sources_without_anchors(client, api_token, staff):
    token = api_token("admin:national")
    assert client.get("/admin/api/sources/certificate/anchors/999", headers=bearer(token)).status_code == 404
    assert client.delete("/admin/api/sources/certificate/anchors/999", headers=bearer(token)).status_code == 404
    assert staff(NATIONAL_ADMIN).get("/admin/sources/certificate/anchors/999").status_code == 404
    response = client.post("/admin/api/sources/mock/anchors", headers=bearer(token),
                           json={"pem": "x", "kind": "public"})
    assert response.status_code == 400 and "trust anchors" in json.dumps(response.get_json())
