"""OIDC Core §3.1: the authorization code flow end to end through the test client."""

from __future__ import annotations

import base64
import hashlib

from tests.conftest import ISSUER
from tests.conftest import basic_auth
from tests.conftest import decode_with_jwks
from tests.conftest import query_of


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_full_flow_issues_verifiable_id_token(browser, client, make_account, make_client):
    """Core §3.1.3.7: the ID token verifies with the JWKS; nonce, at_hash, sid, acr, auth_time present."""
    make_account("001090000777")
    client_id, secret = make_client()
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri="https://portal.example.vn/callback", state="s1", nonce="n-123")
    assert start.status_code == 302
    assert start.location.startswith("/auth/login?")
    login = browser.login("001090000777", next_url=query_of(start.location)["next"])
    assert login.status_code == 303
    consent_page = client.get(login.location)
    assert consent_page.status_code == 200
    assert "Cổng thử nghiệm" in consent_page.get_data(as_text=True)
    done = browser.consent(consent_page)
    assert done.status_code == 302
    assert done.location.startswith("https://portal.example.vn/callback?")
    params = query_of(done.location)
    assert params["state"] == "s1"
    assert params["iss"] == ISSUER  # RFC 9207 §2

    token = browser.exchange(params["code"], client_id, secret)
    assert token.status_code == 200, token.get_json()
    body = token.get_json()
    assert token.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"]
    header, claims = decode_with_jwks(client, body["id_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == [client_id]
    assert claims["nonce"] == "n-123"
    assert claims["at_hash"] == _half_hash(body["access_token"])
    assert claims["acr"] == "urn:vn:gov:sso:loa:low"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    # OIDC Core §5.4: scope claims come from userinfo; no personal data in the ID token.
    assert "name" not in claims and "vn_personal_id" not in claims
    info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}).get_json()
    assert info["name"] == "Nguyễn Văn Test" and info["sub"] == claims["sub"]

    at_header, at_claims = decode_with_jwks(client, body["access_token"])
    assert at_header["typ"] == "at+jwt"  # RFC 9068 §2.1
    assert at_claims["client_id"] == client_id and at_claims["sub"] == claims["sub"]


def test_consent_is_remembered_and_second_login_is_silent(browser, client, make_account, make_client):
    make_account("001090000778")
    client_id, secret = make_client()
    browser.code_for("001090000778", client_id)
    again = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri="https://portal.example.vn/callback", state="x")
    assert again.status_code == 302 and again.location.startswith("https://portal.example.vn/callback?code=")
    wider = browser.authorize(response_type="code", client_id=client_id, scope="openid profile email",
                              redirect_uri="https://portal.example.vn/callback")
    assert wider.status_code == 200 and b'name="decision"' in wider.data


def test_trusted_portal_skips_consent(browser, make_account, make_client):
    make_account("001090000779")
    client_id, _ = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback")
    login = browser.login("001090000779", next_url=query_of(start.location)["next"])
    final = browser.client.get(login.location)
    assert final.status_code == 302 and "code=" in final.location


def test_denied_consent_returns_access_denied(browser, make_account, make_client):
    """RFC 6749 §4.1.2.1: the resource owner denied the request."""
    make_account("001090000780")
    client_id, _ = make_client()
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", state="z")
    login = browser.login("001090000780", next_url=query_of(start.location)["next"])
    denied = browser.consent(browser.client.get(login.location), decision="deny")
    params = query_of(denied.location)
    assert params["error"] == "access_denied" and params["state"] == "z" and params["iss"] == ISSUER


def test_pairwise_subjects_differ_by_sector_and_public_subjects_do_not(browser, client, make_account, make_client):
    """OIDC Core §8.1: pairwise identifiers cannot be correlated across sectors."""
    make_account("001090000781")
    subs = []
    for host, public in (("a.example.vn", False), ("b.example.vn", False), ("c.example.vn", True),
                         ("d.example.vn", True)):
        uri = f"https://{host}/callback"
        client_id, secret = make_client(redirect_uris=[uri], trusted=True, public_subject=public)
        params = browser.code_for("001090000781", client_id, redirect_uri=uri)
        body = client.post("/oauth2/token", data={"grant_type": "authorization_code", "code": params["code"],
                                                  "redirect_uri": uri}, headers=basic_auth(client_id, secret))
        subs.append(decode_with_jwks(client, body.get_json()["id_token"])[1]["sub"])
    assert subs[0] != subs[1]
    assert subs[2] == subs[3] != subs[0]


def test_national_id_released_only_to_entitled_portal(browser, client, make_account, make_client):
    """The personal ID number needs the national_id scope, which an admin grants per portal."""
    make_account("001090000782")
    plain_id, plain_secret = make_client(trusted=True)
    params = browser.code_for("001090000782", plain_id, scope="openid profile national_id")
    body = browser.exchange(params["code"], plain_id, plain_secret).get_json()
    assert "national_id" not in body["scope"].split()
    plain_info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert "vn_personal_id" not in plain_info.get_json()

    entitled_id, entitled_secret = make_client(trusted=True, redirect_uris=["https://tax.example.vn/callback"],
                                               scopes=["openid", "profile", "national_id"])
    params = browser.code_for("001090000782", entitled_id, scope="openid profile national_id",
                              redirect_uri="https://tax.example.vn/callback")
    token = client.post("/oauth2/token", data={"grant_type": "authorization_code", "code": params["code"],
                                               "redirect_uri": "https://tax.example.vn/callback"},
                        headers=basic_auth(entitled_id, entitled_secret)).get_json()
    info = client.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}).get_json()
    assert info["vn_personal_id"] == "001090000782"


def test_form_post_response_mode(browser, make_account, make_client):
    """OAuth 2.0 Form Post Response Mode §2: parameters in an auto-submitted form, with iss."""
    make_account("001090000783")
    client_id, _ = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid",
                              redirect_uri="https://portal.example.vn/callback", response_mode="form_post",
                              state="fp")
    login = browser.login("001090000783", next_url=query_of(start.location)["next"])
    page = browser.client.get(login.location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'action="https://portal.example.vn/callback"' in html
    assert 'name="code"' in html and 'name="state" value="fp"' in html
    assert f'name="iss" value="{ISSUER}"' in html
    assert "https://portal.example.vn" in page.headers["Content-Security-Policy"]


def test_rs256_for_portal_that_registered_it(browser, client, make_account, make_client):
    """OIDC Registration §2: id_token_signed_response_alg is honoured."""
    make_account("001090000784")
    client_id, secret = make_client(trusted=True, id_token_signed_response_alg="RS256")
    params = browser.code_for("001090000784", client_id)
    body = browser.exchange(params["code"], client_id, secret).get_json()
    header, _ = decode_with_jwks(client, body["id_token"])
    assert header["alg"] == "RS256"


def test_userinfo_get_and_post(browser, client, make_account, make_client):
    """OIDC Core §5.3.1: userinfo accepts GET and POST with a bearer token."""
    make_account("001090000785", phone="+84911111111")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090000785", client_id, scope="openid profile email phone")
    body = browser.exchange(params["code"], client_id, secret).get_json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    got = client.get("/oauth2/userinfo", headers=auth)
    posted = client.post("/oauth2/userinfo", headers=auth)
    assert got.status_code == posted.status_code == 200
    info = got.get_json()
    assert info == posted.get_json()
    assert info["email"] == "test@example.vn" and info["email_verified"] is False
    assert info["phone_number"] == "+84911111111"
    assert info["sub"] == decode_with_jwks(client, body["id_token"])[1]["sub"]
    assert client.get("/oauth2/userinfo").status_code == 401
    bad = client.get("/oauth2/userinfo", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and "invalid_token" in bad.headers["WWW-Authenticate"]


def test_claims_parameter_requests_individual_claims(browser, client, make_account, make_client):
    """OIDC Core §5.5: a claim requested by name is released (within the portal's allowed scopes)."""
    import json

    make_account("001090000786")
    client_id, secret = make_client(trusted=True, scopes=["openid", "profile", "email"])
    claims = json.dumps({"id_token": {"email": {"essential": True}, "vn_personal_id": None}})
    params = browser.code_for("001090000786", client_id, scope="openid", claims=claims)
    body = browser.exchange(params["code"], client_id, secret).get_json()
    id_claims = decode_with_jwks(client, body["id_token"])[1]
    assert id_claims["email"] == "test@example.vn"  # requested for the ID token by name
    assert "name" not in id_claims and "email_verified" not in id_claims
    assert "vn_personal_id" not in id_claims  # national_id is not among this portal's scopes
    assert set(body["scope"].split()) == {"openid", "email"}
