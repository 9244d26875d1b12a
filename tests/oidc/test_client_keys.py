"""A portal's keys by reference: `jwks_uri` (RFC 7591 §2, OIDC Registration §2) for private_key_jwt
(RFC 7523 §2.2, OIDC Core §9), fetched from a real server on loopback by the safe fetcher.

Registration fetches and checks the set (public keys only, usable kids and algorithms); client
authentication keeps the keys per portal, fetches again once for an unknown `kid` (key rotation) and at
most once per refetch interval (so made-up kids cannot make the provider hammer the portal).
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from joserfc import jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey
from joserfc.jwk import OctKey
from joserfc.jwk import OKPKey
from joserfc.jwk import RSAKey
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest
from tests.conftest import ISSUER
from tests.conftest import csrf_from
from tests.docserver import DocumentServer

CALLBACK = "https://portal.example.vn/callback"
PIN = "001090007001"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TTL, INTERVAL = 300, 60


@pytest.fixture
def settings_overrides() -> dict:
    return {"outbound": {"connect_timeout": 1, "read_timeout": 1, "jwks_cache_ttl": TTL,
                         "jwks_refetch_interval": INTERVAL}}


@pytest.fixture
def portal() -> Iterator[DocumentServer]:
    server = DocumentServer()
    yield server
    server.stop()


@pytest.fixture
def production(app):  # noqa: ANN001, ANN201
    """The same application with env = production (the fetch and URL rules read it per request)."""
    app.extensions["idp.settings"] = dataclasses.replace(app.extensions["idp.settings"], env="production")
    return app


@pytest.fixture
def no_remote_connections(monkeypatch: pytest.MonkeyPatch) -> list:
    """A tripwire: a connection to any address off this machine fails the test and is never made."""
    attempts: list = []
    real = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else ""
        if host not in ("127.0.0.1", "::1"):
            attempts.append(address)
            raise AssertionError(f"a connection to {address} was attempted")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid})


def _public(*keys) -> dict:  # noqa: ANN002
    return {"keys": [key.as_dict(private=False) for key in keys]}


def _metadata(**extra) -> dict:  # noqa: ANN003
    meta = {"client_name": "Cổng Sở Tài nguyên", "redirect_uris": [CALLBACK], "scope": "openid profile",
            "token_endpoint_auth_method": "private_key_jwt"}
    meta.update(extra)
    return meta


def _iat(runner) -> str:  # noqa: ANN001
    result = runner.invoke(args=["clients", "initial-access-token"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["initial_access_token"]


def _register(client, runner, body: dict):  # noqa: ANN001, ANN202
    return client.post("/oauth2/register", json=body, headers={"Authorization": f"Bearer {_iat(runner)}"})


def _nothing_stored(app) -> bool:  # noqa: ANN001
    with app.app_context():
        clients = db.session.scalar(select(func.count()).select_from(Client))
        requests = db.session.scalar(select(func.count()).select_from(RegistrationRequest))
        spent = db.session.scalar(select(func.count()).select_from(InitialAccessToken).where(
            InitialAccessToken.used_at.is_not(None)))
        return (clients, requests, spent) == (0, 0, 0)


def _refused(app, response, description: str) -> None:  # noqa: ANN001
    """RFC 7591 §3.2.2: 400 invalid_client_metadata, a description a person can act on, nothing stored."""
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["error"] == "invalid_client_metadata", body
    assert description in body["error_description"], body
    assert _nothing_stored(app)


def _assertion(key, client_id: str, alg: str = "ES256") -> str:  # noqa: ANN001
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{ISSUER}/oauth2/token", "iat": now, "exp": now + 60,
              "jti": uuid.uuid4().hex}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def _token(client, client_id: str, key, alg: str = "ES256"):  # noqa: ANN001, ANN202
    return client.post("/oauth2/token", data={"grant_type": "client_credentials", "client_assertion_type":
                                              ASSERTION_TYPE, "client_assertion": _assertion(key, client_id, alg)})


# --- registration ------------------------------------------------------------------------------------
def test_registration_fetches_the_jwks_uri_and_stores_the_reference(app, client, runner, portal):
    """RFC 7591 §2 / §3.2.1: jwks_uri is registered (not the keys) and returned; RFC 7592 §2.1 reads it back."""
    url = portal.json("/jwks", _public(_key("k1")))
    response = _register(client, runner, _metadata(jwks_uri=url))
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["jwks_uri"] == url and "jwks" not in body and "client_secret" not in body
    assert portal.hits["/jwks"] == 1
    with app.app_context():
        stored = db.session.get(Client, body["client_id"])
        assert (stored.jwks_uri, stored.jwks) == (url, None)
    read = client.get(f"/oauth2/register/{body['client_id']}",
                      headers={"Authorization": f"Bearer {body['registration_access_token']}"})
    assert read.status_code == 200 and read.get_json()["jwks_uri"] == url


def test_jwks_and_jwks_uri_are_mutually_exclusive(app, client, runner, portal):
    """RFC 7591 §2: "The jwks_uri and jwks parameters MUST NOT both be present in the same request"."""
    url = portal.json("/jwks", _public(_key("k1")))
    response = _register(client, runner, _metadata(jwks_uri=url, jwks=_public(_key("k2"))))
    _refused(app, response, "jwks and jwks_uri are mutually exclusive (RFC 7591 §2): register one of them.")
    assert portal.hits["/jwks"] == 0


def test_private_key_jwt_needs_keys(app, client, runner):
    """RFC 7523 §2.2: the server verifies the assertion with the client's registered keys."""
    _refused(app, _register(client, runner, _metadata()),
             "token_endpoint_auth_method private_key_jwt needs jwks or jwks_uri (the portal's public keys).")


def _private_members(portal: DocumentServer) -> str:
    return portal.json("/jwks", {"keys": [_key("k1").as_dict(private=True)]})


def _secret_key(portal: DocumentServer) -> str:
    return portal.json("/jwks", {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ", "kid": "s"}]})


def _weak_rsa_key() -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # the point of the test
        return RSAKey.generate_key(1024, parameters={"kid": "weak"})


BAD_DOCUMENTS = [
    (lambda p: p.redirect("/jwks", p.json("/real", _public(_key("k1")))),
     "jwks_uri: the server answered with a redirect (HTTP 302); redirects are not followed, register the final URL."),
    (lambda p: p.url("/missing"), "jwks_uri: the server answered HTTP 404 instead of 200."),
    (lambda p: p.raw("/jwks", b"{" + b" " * 70_000 + b"}", "application/json"),
     "jwks_uri: the document is larger than 65536 bytes."),
    (lambda p: p.streamed("/jwks", 1024 * 1024), "jwks_uri: the document is larger than 65536 bytes."),
    (lambda p: p.raw("/jwks", b"<html>Portal</html>", "text/html"),
     "jwks_uri: the document is served as text/html, not as JSON (application/json)."),
    (lambda p: p.raw("/jwks", b'{"keys": [', "application/json"), "jwks_uri: the document is not valid JSON."),
    (lambda p: p.slow("/jwks"), "did not answer in time."),
    (lambda p: p.json("/jwks", ["not", "a", "set"]),
     "jwks_uri: must be a JWK Set with a non-empty keys array (RFC 7517 §5)."),
    (_private_members, "jwks_uri: key 1 holds private key material (d): publish public keys only."),
    (_secret_key, "jwks_uri: key 1 holds private key material (k): publish public keys only."),
    (lambda p: p.json("/jwks", _public(_key("same"), _key("same"))), "jwks_uri: every key needs a different kid."),
    (lambda p: p.json("/jwks", {"keys": [{k: v for k, v in _key("x").as_dict().items() if k != "kid"}
                                          for _ in range(2)]}),
     "jwks_uri: with several signing keys each needs a kid (the assertion's kid header selects the key)."),
    (lambda p: p.json("/jwks", {"keys": [{**_key("k1").as_dict(), "alg": "RS256"}]}),
     "jwks_uri: key 1 cannot sign client assertions this provider verifies"),
    (lambda p: p.json("/jwks", _public(ECKey.generate_key("P-384", parameters={"kid": "k"}))),
     "jwks_uri: key 1 cannot sign client assertions this provider verifies"),
    (lambda p: p.json("/jwks", _public(_weak_rsa_key())),
     "jwks_uri: key 1: RSA keys need at least 2048 bits."),
    (lambda p: p.json("/jwks", {"keys": [{**_key("k1").as_dict(), "use": "enc"}]}),
     "jwks_uri: no key can verify signatures (every key is marked for encryption)."),
    (lambda p: p.json("/jwks", {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}),
     "jwks_uri: key 1 is not a valid JWK."),
]


@pytest.mark.parametrize(("serve", "description"), BAD_DOCUMENTS)
def test_unusable_jwks_uri_is_refused_with_a_clear_description(app, client, runner, portal, serve, description):
    """RFC 7591 §3.2.2 invalid_client_metadata; RFC 7517 §4-5 (JWK Set of public keys), RFC 7518 §3.1
    (algorithms per key type); the fetch: no redirects, a size cap, a timeout, JSON only."""
    _refused(app, _register(client, runner, _metadata(jwks_uri=serve(portal))), description)


def test_inline_jwks_get_the_same_checks(app, client, runner):
    """RFC 7591 §2 jwks: the same rules as a fetched set (one function checks both)."""
    private = {"keys": [_key("k1").as_dict(private=True)]}
    _refused(app, _register(client, runner, _metadata(jwks=private)),
             "jwks: key 1 holds private key material (d): publish public keys only.")


# --- production: never the provider's own network ----------------------------------------------------
def test_production_requires_https_for_jwks_uri(app, production, client, runner, portal):
    url = portal.json("/jwks", _public(_key("k1")))
    _refused(app, _register(client, runner, _metadata(jwks_uri=url)),
             f"jwks_uri must use https (http only for loopback in development): {url}")
    assert portal.hits["/jwks"] == 0


@pytest.mark.parametrize("url", ["https://127.0.0.1:{port}/jwks", "https://10.0.0.1/jwks",
                                 "https://169.254.169.254/latest/meta-data/", "https://[::1]:{port}/jwks",
                                 "https://localhost:{port}/jwks"])
def test_production_never_fetches_from_private_addresses(app, production, client, runner, portal,
                                                          no_remote_connections, url):
    """SSRF: loopback, RFC 1918 private, link-local cloud metadata, IPv6 loopback, and a host name that
    resolves to loopback are refused before any connection (OWASP SSRF prevention, RFC 6890)."""
    portal.json("/jwks", _public(_key("k1")))
    response = _register(client, runner, _metadata(jwks_uri=url.format(port=portal.port)))
    _refused(app, response, "only public addresses are fetched.")
    assert response.get_json()["error_description"].startswith("jwks_uri: ")
    assert portal.hits["/jwks"] == 0 and no_remote_connections == []


# --- client authentication with the fetched keys ------------------------------------------------------
def _jwks_uri_client(make_client, portal: DocumentServer, *keys) -> str:  # noqa: ANN001, ANN002
    url = portal.json("/jwks", _public(*keys))
    client_id, secret = make_client(token_endpoint_auth_method="private_key_jwt", jwks_uri=url)
    assert secret is None
    return client_id


def test_login_with_private_key_jwt_and_jwks_uri(client, browser, make_account, make_client, portal):
    """OIDC Core §9 private_key_jwt at the token endpoint of a code flow; the keys come from jwks_uri."""
    make_account(PIN)
    key = _key("portal-2026")
    client_id = _jwks_uri_client(make_client, portal, key)
    code = browser.code_for(PIN, client_id)["code"]
    response = client.post("/oauth2/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": _assertion(key, client_id)})
    assert response.status_code == 200, response.get_json()
    assert "id_token" in response.get_json()


def test_key_rotation_refetches_once_and_rate_limits_unknown_kids(client, make_client, portal):
    """RFC 7517 §4.5 / OIDC Core §10.1.1: an unknown kid means the portal rotated; fetch again once. A made-up
    kid right after gets no further fetch until the refetch interval has passed."""
    old, new = _key("2025"), _key("2026")
    client_id = _jwks_uri_client(make_client, portal, old)
    fetched = portal.hits["/jwks"]  # the registration's own fetch
    assert _token(client, client_id, old).status_code == 200
    assert portal.hits["/jwks"] == fetched + 1
    assert _token(client, client_id, old).status_code == 200  # cached
    assert portal.hits["/jwks"] == fetched + 1

    with time_machine.travel(time.time() + INTERVAL, tick=False):
        portal.set_document("/jwks", _public(new))  # rotation: the old key is withdrawn
        assert _token(client, client_id, new).status_code == 200
        assert portal.hits["/jwks"] == fetched + 2
        refused = _token(client, client_id, old)  # the set no longer has it
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_client"
        made_up = _key("made-up")
        for _ in range(5):
            refused = _token(client, client_id, made_up)
            assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_client"
        assert portal.hits["/jwks"] == fetched + 2  # rate-limited: no fetch for those

    with time_machine.travel(time.time() + 2 * INTERVAL + 1, tick=False):
        newest = _key("2027")
        portal.set_document("/jwks", _public(new, newest))
        assert _token(client, client_id, newest).status_code == 200
        assert portal.hits["/jwks"] == fetched + 3


def test_keys_are_fetched_again_after_the_ttl(client, make_client, portal):
    key = _key("k1")
    client_id = _jwks_uri_client(make_client, portal, key)
    assert _token(client, client_id, key).status_code == 200
    fetched = portal.hits["/jwks"]
    with time_machine.travel(time.time() + TTL + 1, tick=False):
        portal.set_document("/jwks", _public(_key("k2")))  # k1 withdrawn: seen once the TTL is over
        refused = _token(client, client_id, key)
        assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_client"
        assert portal.hits["/jwks"] == fetched + 1


def test_a_portal_server_outage_keeps_the_cached_keys(client, make_client, portal):
    """The portal's web server being down does not stop its logins at once: the last good set is kept."""
    key = _key("k1")
    client_id = _jwks_uri_client(make_client, portal, key)
    assert _token(client, client_id, key).status_code == 200
    portal.raw("/jwks", b"down", "text/plain", status=503)
    with time_machine.travel(time.time() + TTL + 1, tick=False):
        assert _token(client, client_id, key).status_code == 200


def test_keys_never_fetched_is_invalid_client(client, make_client, portal):
    key = _key("k1")
    client_id = _jwks_uri_client(make_client, portal, key)
    portal.raw("/jwks", b"down", "text/plain", status=503)
    response = _token(client, client_id, key)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_client",
                                   "error_description": "The client's keys could not be fetched from its jwks_uri."}


@pytest.mark.parametrize(("make_key", "alg"), [
    (lambda: RSAKey.generate_key(2048, parameters={"kid": "r"}), "PS256"),
    (lambda: RSAKey.generate_key(2048, parameters={"kid": "r"}), "RS256"),
    (lambda: OKPKey.generate_key("Ed25519", parameters={"kid": "o"}), "Ed25519"),
])
def test_every_advertised_assertion_algorithm_verifies(client, make_client, portal, make_key, alg):
    """OIDC Discovery §3 token_endpoint_auth_signing_alg_values_supported: what is advertised works."""
    key = make_key()
    client_id = _jwks_uri_client(make_client, portal, key)
    assert alg in client.get("/.well-known/openid-configuration").get_json()[
        "token_endpoint_auth_signing_alg_values_supported"]
    assert _token(client, client_id, key, alg).status_code == 200


def test_an_hs256_assertion_is_refused(client, make_client, portal):
    """RFC 8725 §3.1 / RFC 7523: no symmetric algorithm with a public key set."""
    key = _key("k1")
    client_id = _jwks_uri_client(make_client, portal, key)
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "iat": now, "aud": f"{ISSUER}/oauth2/token", "exp": now + 60,
              "jti": "x"}
    forged = jwt.encode({"alg": "HS256", "kid": "k1"}, claims, OctKey.import_key("secret-secret-secret-secret-32b!"),
                        algorithms=["HS256"])
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials",
                                                  "client_assertion_type": ASSERTION_TYPE, "client_assertion": forged})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"


# --- RFC 7592 update, CLI, manifests, web form --------------------------------------------------------
def test_rfc7592_update_fetches_the_keys_again(app, client, runner, portal):
    """RFC 7592 §2.2: the update is validated like a registration; the document is read again."""
    url = portal.json("/jwks", _public(_key("k1")))
    body = _register(client, runner, _metadata(jwks_uri=url)).get_json()
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    portal.set_document("/jwks", {"keys": [_key("k2").as_dict(private=True)]})
    update = client.put(f"/oauth2/register/{body['client_id']}", headers=headers,
                        json=_metadata(client_id=body["client_id"], jwks_uri=url, client_name="Tên mới"))
    assert update.status_code == 400 and "holds private key material" in update.get_json()["error_description"]
    portal.set_document("/jwks", _public(_key("k2")))
    update = client.put(f"/oauth2/register/{body['client_id']}", headers=headers,
                        json=_metadata(client_id=body["client_id"], jwks_uri=url, client_name="Tên mới"))
    assert update.status_code == 200 and update.get_json()["client_name"] == "Tên mới"


def test_cli_registers_a_jwks_uri(app, runner, portal, tmp_path: Path):
    url = portal.json("/jwks", _public(_key("k1")))
    result = runner.invoke(args=["clients", "add", "--name", "Cổng CLI", "--redirect-uri", CALLBACK,
                                 "--auth-method", "private_key_jwt", "--jwks-uri", url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["client_secret"] is None
    both = tmp_path / "jwks.json"
    both.write_text(json.dumps(_public(_key("k2"))))
    result = runner.invoke(args=["clients", "add", "--name", "Cổng CLI 2", "--redirect-uri", CALLBACK,
                                 "--auth-method", "private_key_jwt", "--jwks-uri", url, "--jwks-file", str(both)])
    assert result.exit_code != 0 and "mutually exclusive" in result.output


def test_manifest_with_jwks_uri(app, runner, portal, tmp_path: Path):
    url = portal.json("/jwks", _public(_key("k1")))
    manifest = tmp_path / "portal.toml"
    manifest.write_text(f'client_id = "keys-portal"\nname = "Cổng khóa"\nredirect_uris = ["{CALLBACK}"]\n'
                        f'token_endpoint_auth_method = "private_key_jwt"\njwks_uri = "{url}"\n')
    result = runner.invoke(args=["clients", "sync", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[-1])["result"] == "created"
    with app.app_context():
        assert db.session.get(Client, "keys-portal").jwks_uri == url
    manifest.write_text(manifest.read_text().replace(f'jwks_uri = "{url}"\n', ""))
    result = runner.invoke(args=["clients", "sync", str(tmp_path)])
    assert result.exit_code == 2 and "jwks_uri: required with token_endpoint_auth_method private_key_jwt" in \
        result.output
    portal.set_document("/jwks", {"keys": [_key("k1").as_dict(private=True)]})
    manifest.write_text(manifest.read_text() + f'jwks_uri = "{url}"\n')
    result = runner.invoke(args=["clients", "sync", str(tmp_path)])
    assert result.exit_code == 2 and "jwks_uri: jwks_uri: key 1 holds private key material" in result.output


def _form(client, make_account=None, **fields: str):  # noqa: ANN001, ANN202
    if make_account is not None:
        make_account(PIN)
    page = client.get("/auth/login")
    client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": PIN,
                                     "password": "correct horse battery", "next": ""})
    client.get("/auth/language/en")
    form = client.get("/clients/register")
    data = {"csrf_token": csrf_from(form.get_data(as_text=True)), "portal_name": "Cổng Sở Nội vụ",
            "agency": "UBND tỉnh Nam Định", "contact_email": "it@namdinh.gov.vn", "redirect_uris": CALLBACK,
            "auth_method": "private_key_jwt", **fields}
    return client.post("/clients/register", data=data)


def test_web_form_registers_a_jwks_uri(app, client, make_account, portal):
    url = portal.json("/jwks", _public(_key("k1")))
    response = _form(client, make_account, jwks_uri=url)
    assert response.status_code == 303, response.get_data(as_text=True)
    done = client.get(response.location)
    assert done.mimetype == "text/html" and 'id="client-secret"' not in done.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalars(select(Client)).one()
        assert (stored.jwks_uri, stored.token_endpoint_auth_method, stored.client_secret_hash) == (
            url, "private_key_jwt", None)


def test_web_form_shows_the_document_problem_next_to_the_field(app, client, make_account, portal):
    """WCAG 2.1 §3.3.1: the error is next to its field, described in words (here in English)."""
    url = portal.redirect("/jwks", "https://elsewhere.example.vn/jwks", 301)
    response = _form(client, make_account, jwks_uri=url)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="jwks_uri-error">([^<]+)</p>', html)
    assert error and "jwks_uri: the server answered with a redirect (HTTP 301)" in error.group(1)
    assert _nothing_stored(app)
    missing = _form(client)
    assert missing.status_code == 400 and "needs the URL of the portal&#39;s public keys (jwks_uri)" in \
        missing.get_data(as_text=True)
