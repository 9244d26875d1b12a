"""RFC 7662 (introspection) and RFC 7009 (revocation)."""

from __future__ import annotations

import time

import time_machine

from tests.conftest import basic_auth


def _tokens(browser, make_account, make_client, pin: str):  # noqa: ANN001, ANN202
    make_account(pin)
    client_id, secret = make_client(trusted=True)
    params = browser.code_for(pin, client_id)
    return client_id, secret, browser.exchange(params["code"], client_id, secret).get_json()


def test_introspection_of_active_access_token(browser, client, make_account, make_client):
    """RFC 7662 §2.2: active token with scope, client_id, sub, exp, iat."""
    client_id, secret, tokens = _tokens(browser, make_account, make_client, "001090000901")
    response = client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                           headers=basic_auth(client_id, secret))
    body = response.get_json()
    assert response.status_code == 200 and body["active"] is True
    assert body["client_id"] == client_id and body["scope"] == "openid profile"
    assert body["token_type"] == "Bearer" and body["exp"] > body["iat"]


def test_introspection_of_refresh_token(browser, client, make_account, make_client):
    client_id, secret, tokens = _tokens(browser, make_account, make_client, "001090000902")
    body = client.post("/oauth2/introspect", data={"token": tokens["refresh_token"],
                                                   "token_type_hint": "refresh_token"},
                       headers=basic_auth(client_id, secret)).get_json()
    assert body["active"] is True and body["token_type"] == "refresh_token"


def test_introspection_of_expired_token_is_inactive(browser, client, make_account, make_client):
    """RFC 7662 §2.2: an expired token is {"active": false}."""
    client_id, secret, tokens = _tokens(browser, make_account, make_client, "001090000903")
    with time_machine.travel(time.time() + 301, tick=False):
        body = client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                           headers=basic_auth(client_id, secret)).get_json()
    assert body == {"active": False}


def test_revoked_access_token_is_inactive_and_refused(browser, client, make_account, make_client):
    """RFC 7009 §2.2: revocation answers 200; the token then introspects inactive (RFC 7662 §2.2)."""
    client_id, secret, tokens = _tokens(browser, make_account, make_client, "001090000904")
    auth = basic_auth(client_id, secret)
    revoked = client.post("/oauth2/revoke", data={"token": tokens["access_token"]}, headers=auth)
    assert revoked.status_code == 200
    assert client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                       headers=auth).get_json() == {"active": False}
    assert client.get("/oauth2/userinfo",
                      headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401


def test_revoking_refresh_token_revokes_the_grant(browser, client, make_account, make_client):
    """RFC 7009 §2.1: revoking a refresh token also invalidates access tokens of the same grant."""
    client_id, secret, tokens = _tokens(browser, make_account, make_client, "001090000905")
    auth = basic_auth(client_id, secret)
    assert client.post("/oauth2/revoke", data={"token": tokens["refresh_token"],
                                               "token_type_hint": "refresh_token"}, headers=auth).status_code == 200
    assert client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                       headers=auth).get_json() == {"active": False}
    refresh = client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": tokens["refresh_token"]}, headers=auth)
    assert refresh.get_json()["error"] == "invalid_grant"


def test_revoking_unknown_token_is_200(client, make_client):
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    client_id, secret = make_client()
    response = client.post("/oauth2/revoke", data={"token": "nonsense"}, headers=basic_auth(client_id, secret))
    assert response.status_code == 200


def test_introspection_needs_client_authentication(client):
    """RFC 7662 §2.1: the endpoint requires authorization."""
    response = client.post("/oauth2/introspect", data={"token": "x"})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_another_portal_cannot_introspect_my_token(browser, client, make_account, make_client):
    """RFC 7662 §4: a resource server sees only what it is allowed to; others get active=false."""
    _, _, tokens = _tokens(browser, make_account, make_client, "001090000906")
    other_id, other_secret = make_client()
    body = client.post("/oauth2/introspect", data={"token": tokens["access_token"]},
                       headers=basic_auth(other_id, other_secret)).get_json()
    assert body == {"active": False}


def test_missing_token_parameter_is_invalid_request(client, make_client):
    client_id, secret = make_client()
    response = client.post("/oauth2/revoke", data={}, headers=basic_auth(client_id, secret))
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
