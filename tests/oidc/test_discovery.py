"""OpenID Connect Discovery 1.0 §3-4 and the JWKS (RFC 7517)."""

from __future__ import annotations

from tests.conftest import ISSUER


def test_discovery_document_lists_endpoints_and_capabilities(client):
    """Discovery §3: required metadata, and §4.3: issuer equals the URL prefix."""
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == f"{ISSUER}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{ISSUER}/oauth2/userinfo"
    assert doc["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert doc["introspection_endpoint"] == f"{ISSUER}/oauth2/introspect"
    assert doc["revocation_endpoint"] == f"{ISSUER}/oauth2/revoke"
    assert doc["end_session_endpoint"] == f"{ISSUER}/oauth2/logout"
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query", "form_post"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["subject_types_supported"]) == {"pairwise", "public"}
    assert doc["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    assert doc["acr_values_supported"] == [
        "urn:vn:gov:sso:loa:low", "urn:vn:gov:sso:loa:substantial", "urn:vn:gov:sso:loa:high"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert "national_id" in doc["scopes_supported"]
    assert doc["claims_parameter_supported"] is True


def test_jwks_publishes_public_keys_only(client):
    """RFC 7517 §4: the JWKS holds public keys; no private member (d, p, q, dp, dq, qi) ever appears."""
    response = client.get("/jwks.json")
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    keys = response.get_json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256"}
    for key in keys:
        assert key["kid"] and key["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_unknown_api_path_is_json_404(client):
    response = client.get("/oauth2/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
