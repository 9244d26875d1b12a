"""Hostile input at the WebAuthn JSON endpoints: no CSRF token, bodies that are not JSON, too large,
of the wrong shape, bad base64url, garbage CBOR/COSE/authenticator data. Every answer is a 400 (or
401 for a well-formed but refused answer) with a JSON error; never a 500, nothing stored. Plus the
relying party derived from the issuer, and the software authenticator checked by py_webauthn itself."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import struct
from typing import Any

import cbor2
import pytest
from webauthn import verify_authentication_response
from webauthn import verify_registration_response

from idp import create_app
from idp.auth.mfa.webauthn import relying_party
from tests.auth.soft_authenticator import FLAG_AT
from tests.auth.soft_authenticator import FLAG_UP
from tests.auth.soft_authenticator import FLAG_UV
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.auth.soft_authenticator import b64url
from tests.auth.soft_authenticator import from_b64url
from tests.auth.test_webauthn import PIN
from tests.auth.test_webauthn import keys
from tests.auth.test_webauthn import login_rows
from tests.auth.test_webauthn import logout
from tests.auth.test_webauthn import page_token
from tests.auth.test_webauthn import post_json
from tests.auth.test_webauthn import register
from tests.conftest import base_settings
from tests.conftest import dispose

JSON_ENDPOINTS = ["/auth/passkeys/options", "/auth/passkeys/login", "/accounts/passkeys/options",
                  "/accounts/passkeys"]
LONG = "A" * 20000  # more than a body may hold
HOSTILE_VALUES: list[Any] = [None, 1, True, [], {}, "", "!!!!", "a", "=", LONG, "é", "AAAA====",
                             b64url(b"\x00")]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Many requests from one address and many failures for one account: the limits are tested elsewhere.
    return {"login": {"per_ip": "10000 per minute", "per_account_failures": 10000}}


@pytest.fixture
def account(make_account, browser) -> int:  # noqa: ANN001
    account_id = make_account(PIN, email="key@example.vn")
    browser.login(PIN)
    return account_id


def assert_json_error(response, status: int | tuple[int, ...] = 400) -> str:  # noqa: ANN001
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] and body["error_description"]
    return body["error"]


# --- the HTTP body -------------------------------------------------------------------------------
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_csrf_is_required_on_every_json_endpoint(app, client, account, url):
    """A cross-site page cannot start or finish a ceremony: the token must come in X-CSRFToken."""
    assert assert_json_error(post_json(client, url, {}, None)) == "csrf_failed"
    assert assert_json_error(post_json(client, url, {}, "forged-token")) == "csrf_failed"
    form = client.post(url, data={"csrf_token": "forged-token"})
    assert assert_json_error(form) == "csrf_failed"


@pytest.mark.parametrize("url", JSON_ENDPOINTS)
def test_bodies_that_are_not_a_json_object_get_a_json_400(app, client, account, url):
    token = page_token(client)
    headers = {"X-CSRFToken": token}
    cases = [
        client.post(url, data="{", content_type="application/json", headers=headers),
        client.post(url, data="[1, 2]", content_type="application/json", headers=headers),
        client.post(url, data='"text"', content_type="application/json", headers=headers),
        client.post(url, data=b"\xff\xfe\xfa{}", content_type="application/json", headers=headers),
        client.post(url, data="name=x", content_type="text/plain", headers=headers),
        client.post(url, data=json.dumps({"x": "A" * 17000}), content_type="application/json", headers=headers),
        client.post(url, data=json.dumps({"x": "A" * 70000}), content_type="application/json", headers=headers),
    ]
    codes = [assert_json_error(response) for response in cases]
    assert codes == ["invalid_json"] * 5 + ["request_too_large"] * 2


def test_a_body_without_content_length_is_still_bounded(app, client, account):
    """A chunked body larger than the limit is refused while reading (Werkzeug's MAX_CONTENT_LENGTH)."""
    token = page_token(client)
    response = client.post("/auth/passkeys/login", input_stream=io.BytesIO(b"{" + b" " * 70000 + b"}"),
                           content_type="application/json",
                           headers={"X-CSRFToken": token, "Transfer-Encoding": "chunked"})
    assert_json_error(response)


# --- the credential inside ---------------------------------------------------------------------------
def _mutated(valid: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`valid` with one field replaced by a hostile value (or removed)."""
    candidate = json.loads(json.dumps(valid))
    node = candidate
    *parents, leaf = path.split(".")
    for name in parents:
        node = node[name]
    if value == "<removed>":
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return candidate


ASSERTION_FIELDS = ["id", "rawId", "type", "response", "response.clientDataJSON", "response.authenticatorData",
                    "response.signature", "response.userHandle"]
ATTESTATION_FIELDS = ["id", "rawId", "type", "response", "response.clientDataJSON", "response.attestationObject"]
HARMLESS_ATTESTATION_FIELDS = ["response.transports", "clientExtensionResults", "authenticatorAttachment"]


def test_every_broken_field_of_an_assertion_is_refused_without_a_500(app, client, account):
    """Each field of a fresh, otherwise valid assertion replaced by junk: refused with a JSON error."""
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    token = page_token(client, "/auth/login")
    for path in ASSERTION_FIELDS:
        for value in [*HOSTILE_VALUES, "<removed>"]:
            bad = _mutated(authenticator.get(_login_options(client, token)), path, value)
            response = post_json(client, "/auth/passkeys/login", {"credential": bad}, token)
            assert response.status_code != 200, f"accepted {path}={value!r}"
            assert_json_error(response, (400, 401))
    assert login_rows(app) == []
    for body in [{}, {"credential": None}, {"credential": "not json"}, {"credential": "A" * 15000},
                 {"credential": [1]}, {"credential": {"type": "public-key"}}, {"credential": {}, "next": ["/"]}]:
        _login_options(client, token)
        assert assert_json_error(post_json(client, "/auth/passkeys/login", body, token), 400) in (
            "malformed_credential", "request_too_large")
    assert keys(app)[0].sign_count == 0


def test_garbage_bytes_inside_valid_base64url_are_refused(app, client, account):
    """Well-encoded but meaningless client data, authenticator data and signatures."""
    authenticator = SoftAuthenticator()
    register(client, authenticator)
    logout(client)
    token = page_token(client, "/auth/login")
    garbage = {
        "clientDataJSON": [b"", b"not json", b"[]", b'{"type":1}', b"\xff" * 40, json.dumps({"type": "webauthn.get",
                           "challenge": 7, "origin": ["x"]}).encode()],
        "authenticatorData": [b"", b"\x00" * 36, os.urandom(37), os.urandom(200), b"\xff" * 37],
        "signature": [b"", b"\x30\x00", os.urandom(72), b"\x30\x06\x02\x01\x00\x02\x01\x00"],
        "userHandle": [b"", os.urandom(64)],
    }
    for field, values in garbage.items():
        for value in values:
            options = _login_options(client, token)
            credential = authenticator.get(options)
            credential["response"][field] = b64url(value)
            response = post_json(client, "/auth/passkeys/login", {"credential": credential}, token)
            assert_json_error(response, (400, 401))
    assert login_rows(app) == []


def test_every_broken_field_of_a_registration_is_refused_without_a_500(app, client, account):
    """Each field of a fresh, otherwise valid attestation replaced by junk: refused; informational fields
    (transports, extension results) are only cleaned."""
    token = page_token(client)
    for path in ATTESTATION_FIELDS + HARMLESS_ATTESTATION_FIELDS:
        for value in [*HOSTILE_VALUES, "<removed>"]:
            bad = _mutated(SoftAuthenticator().create(_registration_options(client, token)), path, value)
            response = post_json(client, "/accounts/passkeys", {"name": "k", "credential": bad}, token)
            if path in HARMLESS_ATTESTATION_FIELDS and value != LONG:
                assert response.status_code == 201, (path, value, response.get_json())
            else:
                assert_json_error(response, 400)
    stored = keys(app)
    assert len(stored) == len(HARMLESS_ATTESTATION_FIELDS) * len(HOSTILE_VALUES)
    assert all(isinstance(k.transports, list) and k.discoverable in (None, True) for k in stored)
    for name in [None, "", "   ", "x" * 65, "tab\there", 7, ["k"]]:
        credential = SoftAuthenticator().create(_registration_options(client, token))
        assert assert_json_error(post_json(client, "/accounts/passkeys", {"name": name, "credential": credential},
                                           token)) == "name_invalid"
    assert len(keys(app)) == len(stored)


def test_garbage_attestation_objects_are_refused(app, client, account):
    """CBOR that is not an attestation object, authenticator data without the attested credential,
    a COSE key that is not a point on P-256, an unsupported algorithm."""
    rp_hash = hashlib.sha256(b"localhost").digest()
    flags = bytes([FLAG_UP | FLAG_UV | FLAG_AT])
    cred_id = os.urandom(16)

    def auth_data(cose: bytes, cid: bytes = cred_id) -> bytes:
        return rp_hash + flags + struct.pack(">I", 0) + bytes(16) + struct.pack(">H", len(cid)) + cid + cose

    bad_point = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: b"\x01" * 32, -3: b"\x02" * 32})
    unsupported = cbor2.dumps({1: 2, 3: -36, -1: 3, -2: b"\x01" * 66, -3: b"\x02" * 66})
    objects = [
        b"", b"\xa0", cbor2.dumps([1, 2]), cbor2.dumps({"fmt": "none"}), cbor2.dumps({"fmt": 5, "authData": b""}),
        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": rp_hash + bytes([FLAG_UP]) + bytes(4)}),
        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data(bad_point)}),
        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data(unsupported)}),
        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data(b"\xff\xff")}),
        cbor2.dumps({"fmt": "none", "attStmt": {"sig": b"x"}, "authData": auth_data(bad_point)}),
        cbor2.dumps({"fmt": "packed", "attStmt": {"alg": -7, "sig": b"x"}, "authData": auth_data(bad_point)}),
        cbor2.dumps({"fmt": "unknown", "attStmt": {}, "authData": auth_data(bad_point)}),
        cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data(bad_point, b"")}),
    ]
    token = page_token(client)
    authenticator = SoftAuthenticator()
    for blob in objects:
        credential = authenticator.create(_registration_options(client, token), ignore_exclude=True)
        credential["response"]["attestationObject"] = b64url(blob)
        response = post_json(client, "/accounts/passkeys", {"name": "k", "credential": credential}, token)
        assert_json_error(response, 400)
    assert keys(app) == []


def test_a_credential_id_longer_than_1023_bytes_is_refused(app, client, account):
    """WebAuthn L3 §4: a credential ID is at most 1023 bytes."""
    token = page_token(client)
    credential = SoftAuthenticator().create(_registration_options(client, token), credential_id=os.urandom(1024))
    response = post_json(client, "/accounts/passkeys", {"name": "k", "credential": credential}, token)
    assert assert_json_error(response) == "malformed_credential" and keys(app) == []


def _login_options(client, token: str) -> dict[str, Any]:  # noqa: ANN001
    return post_json(client, "/auth/passkeys/options", {}, token).get_json()


def _registration_options(client, token: str) -> dict[str, Any]:  # noqa: ANN001
    response = post_json(client, "/accounts/passkeys/options", {}, token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the relying party, and the soft authenticator against the library alone ------------------
@pytest.mark.parametrize(("issuer", "rp_id", "origin"), [
    ("http://localhost", "localhost", "http://localhost"),
    ("http://localhost:5000", "localhost", "http://localhost:5000"),
    ("https://sso.gov.vn", "sso.gov.vn", "https://sso.gov.vn"),
    ("https://SSO.gov.vn:443/idp", "sso.gov.vn", "https://sso.gov.vn"),
    ("https://sso.gov.vn:8443", "sso.gov.vn", "https://sso.gov.vn:8443"),
])
def test_the_relying_party_is_the_issuer(database_url, keys_dir, issuer, rp_id, origin):
    """RP ID = the issuer's host (§5.1.2 rp.id); origin = the issuer's origin as browsers serialise it."""
    app = create_app(base_settings(database_url, keys_dir, issuer=issuer))
    try:
        with app.app_context():
            assert relying_party() == (rp_id, [origin])
    finally:
        dispose(app)


def test_the_soft_authenticator_satisfies_py_webauthn_on_its_own():
    """The test authenticator is real: the library alone verifies its attestation and assertion."""
    authenticator = SoftAuthenticator()
    challenge = os.urandom(32)
    options = {"rp": {"id": "localhost"}, "user": {"id": b64url(b"h" * 32)}, "challenge": b64url(challenge),
               "authenticatorSelection": {"residentKey": "required"}}
    registered = verify_registration_response(credential=authenticator.create(options), expected_challenge=challenge,
                                              expected_rp_id="localhost", expected_origin="http://localhost",
                                              require_user_verification=True)
    assert registered.fmt == "none" and registered.user_verified
    again = os.urandom(32)
    assertion = authenticator.get({"rpId": "localhost", "challenge": b64url(again)})
    used = verify_authentication_response(credential=assertion, expected_challenge=again, expected_rp_id="localhost",
                                          expected_origin="http://localhost",
                                          credential_public_key=registered.credential_public_key,
                                          credential_current_sign_count=0, require_user_verification=True)
    assert used.new_sign_count == 1 and from_b64url(assertion["response"]["userHandle"]) == b"h" * 32
    assert base64.urlsafe_b64decode(assertion["rawId"] + "==") == registered.credential_id
