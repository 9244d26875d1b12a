"""The sandbox provider behaves like a strict OpenID provider, so that development against it does not
hide mistakes: registered redirect URIs only, PKCE S256 required (RFC 7636), single-use codes, the
registered client authentication method only (OIDC Core §9), and no private keys in its JWKS."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from idp.identifiers import check_personal_id
from idp.verifiers.vneid.demo_citizens import DEMO_CITIZENS
from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import create_sandbox_app
from idp.verifiers.vneid.sandbox import main
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.verifiers.drivers.vneid import answer_at_sandbox
from tests.verifiers.drivers.vneid import query

REDIRECT = "http://localhost/auth/sources/vneid/callback"
CLIENT_KEY = ECKey.generate_key("P-256", parameters={"kid": "rp-key"})


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    running = start_in_thread({
        "basic": {"redirect_uris": [REDIRECT], "secret": "basic-secret"},
        "jwt": {"redirect_uris": [REDIRECT], "auth_method": "private_key_jwt",
                "jwks": {"keys": [CLIENT_KEY.as_dict(private=False)]}},
    })
    yield running
    running.stop()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize_url(sandbox: RunningSandbox, **changes: str) -> str:
    params = {"response_type": "code", "client_id": "basic", "redirect_uri": REDIRECT, "scope": "openid profile",
              "state": "st", "nonce": "n", "code_challenge": pkce()[1], "code_challenge_method": "S256", **changes}
    return sandbox.issuer + "/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def code_for(sandbox: RunningSandbox, client_id: str = "basic") -> tuple[str, str]:
    verifier, challenge = pkce()
    location = answer_at_sandbox(authorize_url(sandbox, client_id=client_id, code_challenge=challenge))
    return query(location)["code"], verifier


def redeem(sandbox: RunningSandbox, code: str, verifier: str, auth: tuple[str, str] | None = ("basic", "basic-secret"),
           **extra: str) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": REDIRECT,
            **extra}
    return requests.post(sandbox.issuer + "/token", data=form, auth=auth, timeout=5)


def client_assertion(sandbox: RunningSandbox, **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": "jwt", "sub": "jwt", "aud": sandbox.issuer + "/token", "jti": secrets.token_hex(8), "iat": now,
              "exp": now + 60, **changes}
    return jwt.encode({"alg": "ES256", "kid": "rp-key"}, claims, CLIENT_KEY)


def test_demo_citizens_are_valid_and_cover_both_levels():
    """Every demo personal ID passes the national rules (province, century/sex digit, birth year)."""
    for citizen in DEMO_CITIZENS:
        assert check_personal_id(citizen.personal_id, date.fromisoformat(citizen.birthdate), citizen.gender)
        assert citizen.personal_id not in repr(citizen) and citizen.personal_id not in citizen.subject
    assert {citizen.level for citizen in DEMO_CITIZENS} == {1, 2}
    assert len({citizen.subject for citizen in DEMO_CITIZENS}) == len(DEMO_CITIZENS)


def test_discovery_and_jwks(sandbox):
    document = requests.get(sandbox.issuer + "/.well-known/openid-configuration", timeout=5).json()
    assert document["issuer"] == sandbox.issuer and document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert set(document["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post",
                                                                       "private_key_jwt"}
    keys = requests.get(document["jwks_uri"], timeout=5).json()["keys"]
    assert keys and all("d" not in key and key["kid"] for key in keys)


def test_the_page_is_accessible_and_in_both_languages(sandbox):
    page = requests.get(authorize_url(sandbox), timeout=5).text
    inputs = re.findall(r'<input type="radio" id="([^"]+)"', page)
    assert len(inputs) == len(DEMO_CITIZENS)
    assert all(f'<label for="{name}">' in page for name in inputs) and "<legend>" in page
    assert '<html lang="vi">' in page
    english = requests.get(authorize_url(sandbox), headers={"Accept-Language": "en"}, timeout=5).text
    assert '<html lang="en">' in english and "VNeID sandbox" in english


@pytest.mark.parametrize("changes", [{"client_id": "unknown"}, {"redirect_uri": "https://evil.example/cb"},
                                     {"redirect_uri": REDIRECT + "/x"}])
def test_unknown_client_or_redirect_uri_is_a_page_never_a_redirect(sandbox, changes):
    """OIDC Core §3.1.2.6 / RFC 6749 §4.1.2.1: never redirect to an unvalidated URI."""
    answer = requests.get(authorize_url(sandbox, **changes), allow_redirects=False, timeout=5)
    assert answer.status_code == 400 and "Location" not in answer.headers and 'role="alert"' in answer.text


@pytest.mark.parametrize(("changes", "error"), [
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"scope": "profile"}, "invalid_scope"),
])
def test_bad_requests_are_redirected_with_an_error(sandbox, changes, error):
    """RFC 7636 §4.4.1: a server that requires PKCE answers invalid_request without it."""
    answer = requests.get(authorize_url(sandbox, **changes), allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    back = query(answer.headers["Location"])
    assert back["error"] == error and back["state"] == "st" and back["iss"] == sandbox.issuer


def test_the_decision_form_is_single_use_and_needs_a_citizen(sandbox):
    page = requests.get(authorize_url(sandbox), timeout=5).text
    request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
    again = requests.post(sandbox.issuer + "/authorize", data={"request_id": request_id, "action": "login",
                                                               "personal_id": "999999999999"}, timeout=5)
    assert again.status_code == 400 and 'role="alert"' in again.text
    assert request_id not in again.text  # a fresh request id replaces the used one
    stale = requests.post(sandbox.issuer + "/authorize", data={"request_id": request_id, "action": "login",
                                                               "personal_id": "001090012345"}, timeout=5)
    assert stale.status_code == 400


def test_codes_are_single_use_and_bound_to_pkce_and_redirect_uri(sandbox):
    code, verifier = code_for(sandbox)
    assert redeem(sandbox, code, "x" * 43).json()["error"] == "invalid_grant"
    assert redeem(sandbox, code, verifier).json()["error"] == "invalid_grant"  # burnt by the failed try
    code, verifier = code_for(sandbox)
    assert redeem(sandbox, code, verifier, redirect_uri="https://evil.example/cb").json()["error"] == "invalid_grant"
    code, verifier = code_for(sandbox)
    answer = redeem(sandbox, code, verifier)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    tokens = answer.json()
    assert tokens["token_type"] == "Bearer" and tokens["id_token"].count(".") == 2
    assert redeem(sandbox, code, verifier).json()["error"] == "invalid_grant"
    info = requests.get(sandbox.issuer + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"},
                        timeout=5).json()
    assert info["personal_id"] == "001090012345" and info["vneid_level"] == 2
    assert requests.get(sandbox.issuer + "/userinfo", headers={"Authorization": "Bearer nope"},
                        timeout=5).status_code == 401


def test_client_authentication_must_be_the_registered_method(sandbox):
    code, verifier = code_for(sandbox)
    assert redeem(sandbox, code, verifier, auth=("basic", "wrong")).status_code == 401
    code, verifier = code_for(sandbox)
    post = redeem(sandbox, code, verifier, auth=None, client_id="basic", client_secret="basic-secret")
    assert post.status_code == 401 and post.json()["error"] == "invalid_client"
    code, verifier = code_for(sandbox)
    assert redeem(sandbox, code, verifier, grant_type="password").json()["error"] == "unsupported_grant_type"


def test_private_key_jwt_assertions_are_checked_and_single_use(sandbox):
    """RFC 7523 §3: iss = sub = client_id, aud = the token endpoint (or issuer), unexpired, jti once."""
    jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = client_assertion(sandbox)
    code, verifier = code_for(sandbox, "jwt")
    good = redeem(sandbox, code, verifier, auth=None, client_id="jwt", client_assertion_type=jwt_bearer,
                  client_assertion=assertion)
    assert good.status_code == 200
    for bad in (assertion, client_assertion(sandbox, aud="https://elsewhere.example/token"),
                client_assertion(sandbox, exp=int(time.time()) - 10), client_assertion(sandbox, iss="basic"),
                jwt.encode({"alg": "ES256", "kid": "rp-key"}, {"iss": "jwt", "sub": "jwt", "jti": "j"},
                           ECKey.generate_key("P-256"))):
        code, verifier = code_for(sandbox, "jwt")
        answer = redeem(sandbox, code, verifier, auth=None, client_id="jwt", client_assertion_type=jwt_bearer,
                        client_assertion=bad)
        assert answer.status_code == 401


def test_the_sandbox_refuses_production_and_odd_algorithms(monkeypatch):
    monkeypatch.setenv("IDP_ENV", "production")
    with pytest.raises(SystemExit):
        main(["--port", "0"])
    with pytest.raises(ValueError):
        create_sandbox_app("http://127.0.0.1:1", {}, alg="HS256")
