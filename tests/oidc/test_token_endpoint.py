"""RFC 6749 §4.1.3 / §5.2, RFC 7636 (PKCE) and RFC 9700: the token endpoint's rules and errors."""

from __future__ import annotations

import time

import time_machine
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import Grant
from idp.oidc.models import RefreshToken
from tests.conftest import basic_auth
from tests.conftest import decode_with_jwks
from tests.conftest import pkce_pair
from tests.conftest import query_of

CB = "https://portal.example.vn/callback"


def _count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_pkce_round_trip_for_public_client(browser, make_account, make_client):
    """RFC 7636 §4.5-4.6: the S256 verifier matching the challenge gets tokens."""
    make_account("001090000801")
    client_id, secret = make_client(token_endpoint_auth_method="none", trusted=True)
    assert secret is None
    verifier, challenge = pkce_pair()
    params = browser.code_for("001090000801", client_id, code_challenge=challenge, code_challenge_method="S256")
    response = browser.exchange(params["code"], client_id, None, code_verifier=verifier)
    assert response.status_code == 200, response.get_json()


def test_wrong_pkce_verifier_is_invalid_grant(app, browser, make_account, make_client):
    """RFC 7636 §4.6: a wrong verifier is invalid_grant, and nothing is issued."""
    make_account("001090000802")
    client_id, _ = make_client(token_endpoint_auth_method="none", trusted=True)
    _, challenge = pkce_pair()
    params = browser.code_for("001090000802", client_id, code_challenge=challenge, code_challenge_method="S256")
    response = browser.exchange(params["code"], client_id, None, code_verifier="x" * 50)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_grant", "error_description": "Code challenge failed."}
    assert _count(app, Grant) == 0


def test_missing_verifier_for_public_client_is_invalid_request(browser, make_account, make_client):
    """RFC 7636 §4.4.1 / RFC 9700 §2.1.1: public clients must prove possession with PKCE."""
    make_account("001090000803")
    client_id, _ = make_client(token_endpoint_auth_method="none", trusted=True)
    _, challenge = pkce_pair()
    params = browser.code_for("001090000803", client_id, code_challenge=challenge, code_challenge_method="S256")
    response = browser.exchange(params["code"], client_id, None)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_public_client_without_challenge_is_refused_at_authorization(browser, make_client):
    """RFC 9700 §2.1.1: a public client's authorization request without code_challenge is refused."""
    client_id, _ = make_client(token_endpoint_auth_method="none")
    response = browser.authorize(response_type="code", client_id=client_id, redirect_uri=CB, scope="openid",
                                 state="s")
    assert response.status_code == 302
    assert "error=invalid_request" in response.location and "state=s" in response.location


def test_plain_pkce_is_refused(browser, make_client):
    """RFC 9700 §2.1.1: only S256 is offered; `plain` is an invalid_request."""
    client_id, _ = make_client()
    response = browser.authorize(response_type="code", client_id=client_id, redirect_uri=CB, scope="openid",
                                 code_challenge="a" * 43, code_challenge_method="plain")
    assert "error=invalid_request" in response.location


def test_confidential_client_may_use_pkce(browser, make_account, make_client):
    make_account("001090000804")
    client_id, secret = make_client(trusted=True)
    verifier, challenge = pkce_pair()
    params = browser.code_for("001090000804", client_id, code_challenge=challenge, code_challenge_method="S256")
    assert browser.exchange(params["code"], client_id, secret, code_verifier=verifier).status_code == 200


def test_code_replay_is_refused_and_revokes_issued_tokens(app, browser, client, make_account, make_client):
    """RFC 6749 §4.1.2: a code used twice is refused and the tokens issued from it are revoked."""
    make_account("001090000805")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000805", client_id)
    first = browser.exchange(params["code"], client_id, secret).get_json()
    second = browser.exchange(params["code"], client_id, secret)
    assert second.status_code == 400
    assert second.get_json() == {"error": "invalid_grant", "error_description": "Invalid 'code' in request."}
    userinfo = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert userinfo.status_code == 401
    refresh = client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                 "refresh_token": first["refresh_token"]},
                          headers=basic_auth(client_id, secret))
    assert refresh.get_json()["error"] == "invalid_grant"


def test_code_for_another_client_is_invalid_grant(app, browser, make_account, make_client):
    """RFC 6749 §4.1.3: the code must have been issued to the authenticated client."""
    make_account("001090000806")
    owner_id, _ = make_client(trusted=True)
    other_id, other_secret = make_client(trusted=True)
    params = browser.code_for("001090000806", owner_id)
    response = browser.exchange(params["code"], other_id, other_secret)
    assert response.get_json()["error"] == "invalid_grant"
    assert _count(app, Grant) == 0


def test_wrong_redirect_uri_at_token_endpoint_is_invalid_grant(app, browser, make_account, make_client):
    """RFC 6749 §4.1.3: redirect_uri must be identical to the one in the authorization request."""
    make_account("001090000807")
    client_id, secret = make_client(trusted=True, redirect_uris=[CB, "https://portal.example.vn/other"])
    params = browser.code_for("001090000807", client_id)
    response = browser.exchange(params["code"], client_id, secret, redirect_uri="https://portal.example.vn/other")
    assert response.get_json() == {"error": "invalid_grant", "error_description": "Invalid 'redirect_uri' in request."}


def test_expired_code_is_invalid_grant(app, browser, make_account, make_client):
    """The code lives at most 60 seconds (RFC 6749 §4.1.2 recommends short lifetimes)."""
    make_account("001090000808")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000808", client_id)
    with time_machine.travel(time.time() + 61, tick=False):
        response = browser.exchange(params["code"], client_id, secret)
    assert response.get_json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(browser, client, make_account, make_client):
    """RFC 6749 §5.2: failed client authentication is invalid_client with 401."""
    make_account("001090000809")
    client_id, _ = make_client(trusted=True)
    params = browser.code_for("001090000809", client_id)
    response = browser.exchange(params["code"], client_id, "wrong-secret")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_client_secret_post(browser, client, make_account, make_client):
    """RFC 6749 §2.3.1: credentials in the body for a client registered with client_secret_post."""
    make_account("001090000810")
    client_id, secret = make_client(trusted=True, token_endpoint_auth_method="client_secret_post")
    params = browser.code_for("001090000810", client_id)
    response = client.post("/oauth2/token", data={"grant_type": "authorization_code", "code": params["code"],
                                                  "redirect_uri": CB, "client_id": client_id,
                                                  "client_secret": secret})
    assert response.status_code == 200
    # The registered method is the only one accepted.
    params = browser.code_for("001090000810", client_id)
    assert browser.exchange(params["code"], client_id, secret).status_code == 401


def test_refresh_rotation_and_reuse_detection(app, browser, client, make_account, make_client):
    """RFC 9700 §4.14.2: rotation; presenting a rotated refresh token revokes the whole family."""
    make_account("001090000811")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000811", client_id)
    first = browser.exchange(params["code"], client_id, secret).get_json()
    auth = basic_auth(client_id, secret)
    second = client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                "refresh_token": first["refresh_token"]}, headers=auth)
    assert second.status_code == 200
    rotated = second.get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    _, claims = decode_with_jwks(client, rotated["access_token"])
    assert claims["acr"] == "urn:vn:gov:sso:loa:low"

    reuse = client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                               "refresh_token": first["refresh_token"]}, headers=auth)
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    # The whole family is gone: the newest refresh token and access token too.
    newest = client.post("/oauth2/token", data={"grant_type": "refresh_token",
                                                "refresh_token": rotated["refresh_token"]}, headers=auth)
    assert newest.get_json()["error"] == "invalid_grant"
    assert client.get("/oauth2/userinfo",
                      headers={"Authorization": f"Bearer {rotated['access_token']}"}).status_code == 401


def test_refresh_cannot_widen_scope(browser, client, make_account, make_client):
    """RFC 6749 §6: the new scope must not include any scope not originally granted."""
    make_account("001090000812")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000812", client_id, scope="openid profile")
    first = browser.exchange(params["code"], client_id, secret).get_json()
    response = client.post("/oauth2/token", data={"grant_type": "refresh_token", "scope": "openid email",
                                                  "refresh_token": first["refresh_token"]},
                           headers=basic_auth(client_id, secret))
    assert response.get_json()["error"] == "invalid_scope"


def test_client_credentials(client, make_client):
    """RFC 6749 §4.4: a portal back end gets an RFC 9068 access token with sub = client_id."""
    client_id, secret = make_client()
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                           headers=basic_auth(client_id, secret))
    assert response.status_code == 200
    body = response.get_json()
    assert "refresh_token" not in body and "id_token" not in body
    header, claims = decode_with_jwks(client, body["access_token"])
    assert header["typ"] == "at+jwt" and claims["sub"] == client_id and "gid" not in claims


def test_public_client_cannot_use_client_credentials(client, make_client):
    client_id, _ = make_client(token_endpoint_auth_method="none")
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": client_id})
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] in ("unauthorized_client", "invalid_client")


def test_unsupported_grant_type(client, make_client):
    """RFC 6749 §5.2: unsupported_grant_type."""
    client_id, secret = make_client()
    response = client.post("/oauth2/token", data={"grant_type": "password", "username": "x", "password": "y"},
                           headers=basic_auth(client_id, secret))
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_refresh_token_is_stored_only_as_digest(app, browser, make_account, make_client):
    make_account("001090000813")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000813", client_id)
    body = browser.exchange(params["code"], client_id, secret).get_json()
    with app.app_context():
        stored = db.session.execute(select(RefreshToken.token_hash)).scalars().all()
    assert body["refresh_token"] not in stored and len(stored) == 1 and len(stored[0]) == 64


def test_client_credentials_scope_is_checked(client, make_client):
    """RFC 6749 §5.2: invalid_scope for a scope the portal may not have; end-user scopes make no sense here."""
    client_id, secret = make_client()
    for scope in ("bogus", "national_id", "openid profile"):
        response = client.post("/oauth2/token", data={"grant_type": "client_credentials", "scope": scope},
                               headers=basic_auth(client_id, secret))
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_scope"


def test_redirect_uri_not_sent_is_not_required_at_token_endpoint(browser, client, make_account, make_client):
    """RFC 6749 §4.1.3: redirect_uri is required at the token endpoint only if it was in the request."""
    make_account("001090000814")
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid")
    login = browser.login("001090000814", next_url=query_of(start.location)["next"])
    done = client.get(login.location)
    assert done.location.startswith(CB + "?")
    response = client.post("/oauth2/token", data={"grant_type": "authorization_code",
                                                  "code": query_of(done.location)["code"]},
                           headers=basic_auth(client_id, secret))
    assert response.status_code == 200, response.get_json()
