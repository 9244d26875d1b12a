"""RFC 7591 dynamic client registration, RFC 7592 management, admin approval and suspension."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
import time_machine
from joserfc.jwk import ECKey
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.discovery import build_metadata
from idp.oidc.models import Client
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest
from idp.oidc.registration_models import token_digest
from tests.conftest import ISSUER
from tests.conftest import basic_auth

CALLBACK = "https://portal.example.vn/callback"


def _metadata(**extra) -> dict:  # noqa: ANN003
    meta = {"client_name": "Cổng Sở Xây dựng", "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["https://portal.example.vn/bye"], "scope": "openid profile"}
    meta.update(extra)
    return {k: v for k, v in meta.items() if v is not None}


def _iat(runner, *args: str) -> str:  # noqa: ANN001
    result = runner.invoke(args=["clients", "initial-access-token", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["initial_access_token"]


def _register(client, token: str | None, body) -> object:  # noqa: ANN001
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/oauth2/register", json=body, headers=headers)


def _counts(app) -> tuple[int, int]:  # noqa: ANN001
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Client)),
                db.session.scalar(select(func.count()).select_from(RegistrationRequest)))


def _cli(runner, *args: str):  # noqa: ANN001, ANN202
    return runner.invoke(args=["clients", *args])


@pytest.fixture
def registered(client, runner):  # noqa: ANN001, ANN201
    response = _register(client, _iat(runner), _metadata())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- RFC 7591 §3.2.1: success ------------------------------------------------------------------------
def test_registration_returns_secret_and_management_token_once(app, client, runner):
    """RFC 7591 §3.2.1 and RFC 7592 §3: 201 with client_secret, expires_at 0, registration token and URI."""
    response = _register(client, _iat(runner), _metadata(software_statement_x="ignored", extra_field=1,
                                                         frontchannel_logout_uri="https://portal.example.vn/fc",
                                                         backchannel_logout_uri="https://portal.example.vn/bc"))
    body = response.get_json()
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    assert body["client_secret"] and body["client_secret_expires_at"] == 0
    assert body["registration_client_uri"] == f"{ISSUER}/oauth2/register/{body['client_id']}"
    assert body["redirect_uris"] == [CALLBACK] and body["scope"] == "openid profile"
    assert body["frontchannel_logout_uri"] == "https://portal.example.vn/fc"
    assert body["backchannel_logout_uri"] == "https://portal.example.vn/bc"
    assert "extra_field" not in body and "software_statement_x" not in body  # RFC 7591 §2: never echoed
    with app.app_context():
        stored = db.session.get(Client, body["client_id"])
        assert stored.status == "pending" and not stored.is_active
        assert body["client_secret"] not in stored.client_secret_hash
        assert stored.check_client_secret(body["client_secret"])
        row = db.session.get(RegistrationRequest, body["client_id"])
        assert row.status == "pending"
        assert row.registration_token_hash == token_digest(body["registration_access_token"])


def test_private_key_jwt_with_inline_jwks(client, runner):
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    response = _register(client, _iat(runner), _metadata(token_endpoint_auth_method="private_key_jwt",
                                                         jwks={"keys": [key.as_dict(private=False)]}))
    body = response.get_json()
    assert response.status_code == 201, body
    assert "client_secret" not in body and body["jwks"]["keys"][0]["kid"] == "k1"


# --- RFC 7591 §3.2.2: bad metadata ------------------------------------------------------------------
BAD = [
    (_metadata(redirect_uris=[]), "invalid_redirect_uri", "redirect"),
    (_metadata(redirect_uris="https://portal.example.vn/cb"), "invalid_redirect_uri", "redirect_uris"),
    (_metadata(redirect_uris=["http://portal.example.vn/cb"]), "invalid_redirect_uri", "redirect_uri"),
    (_metadata(redirect_uris=["https://portal.example.vn/cb#frag"]), "invalid_redirect_uri", "redirect_uri"),
    (_metadata(redirect_uris=["https://*.example.vn/cb"]), "invalid_redirect_uri", "redirect_uri"),
    (_metadata(redirect_uris=["javascript:alert(1)"]), "invalid_redirect_uri", "redirect_uri"),
    (_metadata(redirect_uris=[CALLBACK + "x" * 600]), "invalid_redirect_uri", "redirect_uris"),
    (_metadata(redirect_uris=[7]), "invalid_redirect_uri", "redirect_uris"),
    (_metadata(post_logout_redirect_uris=["https://portal.example.vn/bye#x"]), "invalid_client_metadata",
     "post_logout_redirect_uri"),
    (_metadata(backchannel_logout_uri="http://portal.example.vn/bc"), "invalid_client_metadata",
     "backchannel_logout_uri"),
    (_metadata(frontchannel_logout_uri="ftp://portal.example.vn/fc"), "invalid_client_metadata",
     "frontchannel_logout_uri"),
    (_metadata(client_name=None), "invalid_client_metadata", "client_name"),
    (_metadata(client_name=["x"]), "invalid_client_metadata", "client_name"),
    (_metadata(client_name="x" * 201), "invalid_client_metadata", "client_name"),
    (_metadata(token_endpoint_auth_method="none"), "invalid_client_metadata", "token_endpoint_auth_method"),
    (_metadata(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata", "jwks"),
    (_metadata(token_endpoint_auth_method="private_key_jwt", jwks_uri="https://portal.example.vn/jwks",
               jwks={"keys": [ECKey.generate_key("P-256").as_dict(private=False)]}), "invalid_client_metadata",
     "jwks and jwks_uri are mutually exclusive"),
    (_metadata(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{"kty": "oct", "k": "AAAA"}]}),
     "invalid_client_metadata", "jwks"),
    (_metadata(token_endpoint_auth_method="private_key_jwt", jwks={"keys": [{"kty": "EC", "crv": "nope"}]}),
     "invalid_client_metadata", "jwks"),
    (_metadata(jwks="not a set"), "invalid_client_metadata", "jwks"),
    (_metadata(scope="openid admin"), "invalid_client_metadata", "scope"),
    (_metadata(scope=["openid"]), "invalid_client_metadata", "scope"),
    (_metadata(grant_types=["implicit"]), "invalid_client_metadata", "grant_types"),
    (_metadata(response_types=["token"]), "invalid_client_metadata", "response_types"),
    (_metadata(subject_type="random"), "invalid_client_metadata", "subject_type"),
    (_metadata(id_token_signed_response_alg="none"), "invalid_client_metadata", "id_token_signed_response_alg"),
    (_metadata(default_acr_values=["urn:unknown"]), "invalid_client_metadata", "default_acr_values"),
    (_metadata(default_acr_values="x"), "invalid_client_metadata", "default_acr_values"),
    (_metadata(minimum_acr="urn:unknown"), "invalid_client_metadata", "minimum_acr"),
    (["not", "an", "object"], "invalid_client_metadata", "JSON object"),
]


@pytest.mark.parametrize(("body", "error", "field"), BAD)
def test_bad_metadata_is_400_and_nothing_is_stored(app, client, runner, body, error, field):
    """RFC 7591 §3.2.2: the error code, a description naming the field; no client, token not spent."""
    token = _iat(runner)
    response = _register(client, token, body)
    assert response.status_code == 400
    answer = response.get_json()
    assert answer["error"] == error and field in answer["error_description"], answer
    assert _counts(app) == (0, 0)
    with app.app_context():
        assert db.session.scalars(select(InitialAccessToken)).one().used_at is None


def test_non_json_body_is_400(app, client, runner):
    response = client.post("/oauth2/register", data="<xml/>", content_type="application/xml",
                           headers={"Authorization": f"Bearer {_iat(runner)}"})
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client_metadata"
    assert _counts(app) == (0, 0)


def test_http_loopback_redirect_allowed_in_development_only(client, runner):
    """RFC 8252 §7.3: loopback http redirect URIs outside production (production is tested in check_uri)."""
    response = _register(client, _iat(runner), _metadata(redirect_uris=["http://127.0.0.1:8080/cb"]))
    assert response.status_code == 201, response.get_json()


# --- initial access token (RFC 7591 §3, RFC 6750 §3.1) --------------------------------------------
def _assert_invalid_token(response) -> None:  # noqa: ANN001
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_missing_initial_access_token(app, client):
    _assert_invalid_token(_register(client, None, _metadata()))
    _assert_invalid_token(client.post("/oauth2/register", json=_metadata(), headers={"Authorization": "Basic eDp5"}))
    assert _counts(app) == (0, 0)


def test_unknown_initial_access_token(app, client):
    _assert_invalid_token(_register(client, "made-up-token", _metadata()))
    assert _counts(app) == (0, 0)


def test_used_initial_access_token_is_refused(app, client, runner):
    token = _iat(runner)
    assert _register(client, token, _metadata()).status_code == 201
    _assert_invalid_token(_register(client, token, _metadata(client_name="Second")))
    assert _counts(app) == (1, 1)


def test_expired_initial_access_token_is_refused(app, client, runner):
    token = _iat(runner, "--expires-in", "600")
    with time_machine.travel(time.time() + 601, tick=False):
        _assert_invalid_token(_register(client, token, _metadata()))
    assert _counts(app) == (0, 0)


def test_initial_access_token_is_stored_hashed_and_audited(app, runner):
    token = _iat(runner)
    with app.app_context():
        from idp.audit import AuditEvent

        row = db.session.scalars(select(InitialAccessToken)).one()
        assert row.token_hash == token_digest(token) and token not in row.token_hash
        assert len(token) >= 43  # 256 bits, base64url
        events = [e.event for e in db.session.scalars(select(AuditEvent))]
        assert "client.initial_access_token_created" in events
        assert all(token not in json.dumps(e.data) for e in db.session.scalars(select(AuditEvent)))


# --- approval -----------------------------------------------------------------------------------
def test_pending_client_cannot_authorize_or_get_tokens_until_approved(app, client, runner, browser, make_account,
                                                                       registered):
    """A pending portal is unknown to the protocol (idp.oidc.server.query_client)."""
    make_account("001090007001")
    client_id, secret = registered["client_id"], registered["client_secret"]
    page = browser.authorize(response_type="code", client_id=client_id, redirect_uri=CALLBACK, scope="openid",
                             state="s", nonce="n")
    assert page.status_code == 400 and "invalid_client" in page.get_data(as_text=True)
    denied = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                         headers=basic_auth(client_id, secret))
    assert denied.status_code == 401 and denied.get_json()["error"] == "invalid_client"

    approved = _cli(runner, "approve", client_id)
    assert approved.exit_code == 0 and json.loads(approved.output)["status"] == "active"
    params = browser.code_for("001090007001", client_id)
    tokens = browser.exchange(params["code"], client_id, secret)
    assert tokens.status_code == 200 and "id_token" in tokens.get_json()
    with app.app_context():
        from idp.audit import AuditEvent

        assert db.session.scalars(select(AuditEvent).where(AuditEvent.event == "client.approved")).one()
    assert _cli(runner, "approve", client_id).exit_code == 2  # no longer pending


def test_reject_keeps_the_client_unusable_with_a_reason(app, client, runner, registered):
    assert _cli(runner, "reject", registered["client_id"]).exit_code == 2  # --reason is required
    result = _cli(runner, "reject", registered["client_id"], "--reason", "Unknown agency")
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.get(RegistrationRequest, registered["client_id"])
        assert row.status == "rejected" and row.reason == "Unknown agency"
        assert not db.session.get(Client, registered["client_id"]).is_active
    assert _cli(runner, "reactivate", registered["client_id"]).exit_code == 2
    assert _cli(runner, "approve", "no-such-client").exit_code == 2


# --- RFC 7592 ------------------------------------------------------------------------------------
def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_read_needs_the_registration_access_token(client, registered, runner):
    """RFC 7592 §2.1: GET with the token returns the metadata; otherwise 401 invalid_token."""
    uri = f"/oauth2/register/{registered['client_id']}"
    body = client.get(uri, headers=_auth(registered["registration_access_token"])).get_json()
    assert body["client_id"] == registered["client_id"] and body["redirect_uris"] == [CALLBACK]
    assert "client_secret" not in body
    _assert_invalid_token(client.get(uri))
    _assert_invalid_token(client.get(uri, headers=_auth("wrong")))
    other = _register(client, _iat(runner), _metadata(client_name="Other")).get_json()
    _assert_invalid_token(client.get(uri, headers=_auth(other["registration_access_token"])))
    _assert_invalid_token(client.get("/oauth2/register/nope", headers=_auth(registered["registration_access_token"])))


def test_update_replaces_metadata_validated_like_registration(app, client, registered):
    """RFC 7592 §2.2: PUT replaces the metadata; client_id must match; a wrong secret or bad value is 400."""
    uri = f"/oauth2/register/{registered['client_id']}"
    headers = _auth(registered["registration_access_token"])
    new = _metadata(client_id=registered["client_id"], client_name="Renamed", scope="openid email",
                    redirect_uris=[CALLBACK, "https://portal.example.vn/cb2"])
    _assert_invalid_token(client.put(uri, json=new))
    response = client.put(uri, json=new, headers=headers)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["client_name"] == "Renamed" and body["scope"] == "openid email" and len(body["redirect_uris"]) == 2
    for bad, error in ((dict(new, client_id="other"), "invalid_client_metadata"),
                       (dict(new, client_secret="wrong"), "invalid_client_metadata"),
                       (dict(new, redirect_uris=["https://portal.example.vn/cb#x"]), "invalid_redirect_uri"),
                       (dict(new, redirect_uris=["https://elsewhere.example.vn/cb"]), "invalid_redirect_uri")):
        answer = client.put(uri, json=bad, headers=headers)
        assert answer.status_code == 400 and answer.get_json()["error"] == error, answer.get_json()
    ok = client.put(uri, json=dict(new, client_secret=registered["client_secret"]), headers=headers)
    assert ok.status_code == 200
    with app.app_context():
        stored = db.session.get(Client, registered["client_id"])
        assert stored.name == "Renamed" and stored.status == "pending"
        assert stored.check_client_secret(registered["client_secret"])


def test_delete_suspends_and_invalidates_the_token(app, client, registered):
    """RFC 7592 §2.3: 204; afterwards the registration access token and the client are unusable."""
    uri = f"/oauth2/register/{registered['client_id']}"
    headers = _auth(registered["registration_access_token"])
    _assert_invalid_token(client.delete(uri))
    assert client.delete(uri, headers=headers).status_code == 204
    _assert_invalid_token(client.get(uri, headers=headers))
    with app.app_context():
        assert db.session.get(Client, registered["client_id"]).status == "suspended"
        assert db.session.get(RegistrationRequest, registered["client_id"]).status == "deleted"


# --- suspension ----------------------------------------------------------------------------------
def test_suspension_takes_effect_on_the_next_request(app, client, runner, browser, make_account, make_client):
    """A suspended portal's token requests fail with invalid_client; its access tokens stop working."""
    make_account("001090007002")
    client_id, secret = make_client(trusted=True)
    resource_id, resource_secret = make_client(name="Resource server")
    params = browser.code_for("001090007002", client_id)
    tokens = browser.exchange(params["code"], client_id, secret).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 200

    result = _cli(runner, "suspend", client_id)
    assert result.exit_code == 0 and json.loads(result.output)["status"] == "suspended"
    assert _cli(runner, "suspend", client_id).exit_code == 2
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 401
    introspected = client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                               headers=basic_auth(resource_id, resource_secret)).get_json()
    assert introspected == {"active": False}
    refresh = client.post("/oauth2/token", headers=basic_auth(client_id, secret),
                          data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401 and refresh.get_json()["error"] == "invalid_client"

    assert _cli(runner, "reactivate", client_id).exit_code == 0
    assert client.get("/oauth2/userinfo", headers=bearer).status_code == 200


# --- discovery -----------------------------------------------------------------------------------
def test_discovery_advertises_registration_only_behind_the_flag(app, client):
    """RFC 8414 §2: registration_endpoint only when features.dynamic_registration is true."""
    assert "registration_endpoint" not in client.get("/.well-known/openid-configuration").get_json()
    with app.app_context():
        from idp.settings import current_settings

        settings = current_settings()
    flagged = SimpleNamespace(issuer=settings.issuer, features=SimpleNamespace(dynamic_registration=True))
    assert build_metadata(flagged)["registration_endpoint"] == f"{ISSUER}/oauth2/register"


def test_loopback_http_redirect_refused_in_production(monkeypatch):
    """RFC 8252 §8.3 / our rule: production accepts only https redirect URIs (idp.oidc.clients.check_uri)."""
    from idp.oidc import clients
    from idp.oidc.clients import InvalidClientMetadata
    from idp.oidc.registration import parse_metadata

    monkeypatch.setattr(clients, "current_settings", lambda: SimpleNamespace(is_production=True))
    with pytest.raises(InvalidClientMetadata) as caught:
        parse_metadata(_metadata(redirect_uris=["http://127.0.0.1:8080/cb"]))
    assert caught.value.code == "invalid_redirect_uri" and "redirect_uri" in caught.value.message


def test_approved_portal_cannot_widen_what_was_approved(app, client, runner, registered):
    """RFC 7592 §2.2 lets a portal replace its metadata; after approval it may narrow what it asks for
    but adding a scope (e.g. the personal ID), a grant type, or lowering the required assurance would
    bypass the administrators' review, so those are refused, and agency and trust are kept."""
    client_id = registered["client_id"]
    with app.app_context():
        stored = db.session.get(Client, client_id)
        stored.minimum_acr, stored.agency, stored.agency_code = "urn:vn:gov:sso:loa:substantial", "Sở X", "so-x"
        stored.grant_types = ["authorization_code", "refresh_token"]
        db.session.commit()
    assert _cli(runner, "approve", client_id).exit_code == 0
    uri, headers = f"/oauth2/register/{client_id}", _auth(registered["registration_access_token"])
    base = _metadata(client_id=client_id, minimum_acr="urn:vn:gov:sso:loa:substantial")
    for bad, words in ((dict(base, scope="openid profile national_id"), "national_id was not approved"),
                       (dict(base, grant_types=["authorization_code", "client_credentials"]),
                        "grant type client_credentials was not approved"),
                       (dict(base, minimum_acr="urn:vn:gov:sso:loa:low"), "cannot go below"),
                       ({k: v for k, v in base.items() if k != "minimum_acr"}, "cannot go below")):
        answer = client.put(uri, json=bad, headers=headers)
        body = answer.get_json()
        assert answer.status_code == 400 and body["error"] == "invalid_client_metadata", body
        assert words in body["error_description"], body
    narrowed = client.put(uri, json=dict(base, scope="openid", client_name="Đổi tên"), headers=headers)
    assert narrowed.status_code == 200, narrowed.get_json()
    assert narrowed.get_json()["scope"] == "openid"
    with app.app_context():
        stored = db.session.get(Client, client_id)
        assert (stored.name, stored.agency, stored.agency_code, stored.status) == ("Đổi tên", "Sở X", "so-x", "active")
        assert stored.minimum_acr == "urn:vn:gov:sso:loa:substantial"


def test_generated_client_ids_are_letters_and_digits_only():
    """A generated client_id never starts with '-' (a command line would take it for an option)."""
    import re

    from idp.oidc.clients import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", client_id) for client_id in ids)


def test_cli_takes_a_generated_client_id(app, client):
    from idp.oidc.clients import ClientRegistration
    from idp.oidc.clients import register_client

    with app.app_context():
        registered, _ = register_client(ClientRegistration(name="Cổng thử", redirect_uris=["https://p.example.vn/cb"]))
        db.session.commit()
        client_id = registered.client_id
    for action in ("suspend", "reactivate"):
        result = app.test_cli_runner().invoke(args=["clients", action, client_id])
        assert result.exit_code == 0, result.output
