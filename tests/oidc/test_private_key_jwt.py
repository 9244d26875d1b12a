"""RFC 7523 §2.2 / §3 and OIDC Core §9: private_key_jwt client authentication."""

from __future__ import annotations

import time
import uuid

from joserfc import jwt
from joserfc.jwk import ECKey

from tests.conftest import ISSUER


def _assertion(key: ECKey, client_id: str, jti: str | None = None, aud: str = f"{ISSUER}/oauth2/token") -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
              "jti": jti or uuid.uuid4().hex}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])


def _client_with_key(make_client) -> tuple[str, ECKey]:  # noqa: ANN001
    key = ECKey.generate_key("P-256", parameters={"kid": "portal-key-1"})
    client_id, secret = make_client(token_endpoint_auth_method="private_key_jwt",
                                    jwks={"keys": [key.as_dict(private=False)]})
    assert secret is None
    return client_id, key


def _token(client, client_id: str, assertion: str):  # noqa: ANN001, ANN202
    return client.post("/oauth2/token", data={
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})


def test_private_key_jwt_authenticates(client, make_client):
    client_id, key = _client_with_key(make_client)
    response = _token(client, client_id, _assertion(key, client_id))
    assert response.status_code == 200, response.get_json()


def test_replayed_jti_is_invalid_client(client, make_client):
    """RFC 7523 §3 item 7: the authorization server may reject a JWT whose jti was seen before."""
    client_id, key = _client_with_key(make_client)
    assertion = _assertion(key, client_id, jti="once-only")
    assert _token(client, client_id, assertion).status_code == 200
    replay = _token(client, client_id, assertion)
    # RFC 6749 §5.2: 401 is required only when the client used the Authorization header.
    assert replay.status_code == 400
    assert replay.get_json() == {"error": "invalid_client", "error_description": "JWT ID is used before."}


def test_assertion_signed_by_another_key_is_invalid_client(client, make_client):
    client_id, _ = _client_with_key(make_client)
    stranger = ECKey.generate_key("P-256", parameters={"kid": "portal-key-1"})
    response = _token(client, client_id, _assertion(stranger, client_id))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"


def test_assertion_for_another_audience_is_invalid_client(client, make_client):
    """RFC 7523 §3 item 3: aud must identify this authorization server."""
    client_id, key = _client_with_key(make_client)
    response = _token(client, client_id, _assertion(key, client_id, aud="https://other.example/token"))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_client"
