"""OIDC Core §3.1.2: authorization request parameters, prompt, max_age, hints, and errors."""

from __future__ import annotations

import time

import time_machine

from tests.conftest import ISSUER
from tests.conftest import decode_with_jwks
from tests.conftest import query_of

CB = "https://portal.example.vn/callback"


def _params(client_id: str, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": CB, "scope": "openid", "state": "s",
            **extra}


def test_prompt_none_without_session_is_login_required(browser, make_client):
    """OIDC Core §3.1.2.6: prompt=none and no session gives login_required to the redirect URI."""
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, prompt="none"))
    assert response.status_code == 302
    params = query_of(response.location)
    assert params["error"] == "login_required" and params["state"] == "s" and params["iss"] == ISSUER


def test_prompt_none_without_consent_is_consent_required(browser, make_account, make_client):
    make_account("001090001001")
    client_id, _ = make_client()
    start = browser.authorize(**_params(client_id))
    browser.login("001090001001", next_url=query_of(start.location)["next"])
    response = browser.authorize(**_params(client_id, prompt="none"))
    assert query_of(response.location)["error"] == "consent_required"


def test_prompt_none_with_session_and_consent_issues_code(browser, make_account, make_client):
    make_account("001090001002")
    client_id, _ = make_client(trusted=True)
    browser.code_for("001090001002", client_id)
    response = browser.authorize(**_params(client_id, prompt="none"))
    assert "code" in query_of(response.location)


def test_prompt_login_forces_new_login(browser, make_account, make_client):
    """OIDC Core §3.1.2.1: prompt=login means reauthenticate even with a session."""
    make_account("001090001003")
    client_id, _ = make_client(trusted=True)
    browser.code_for("001090001003", client_id)
    response = browser.authorize(**_params(client_id, prompt="login"))
    assert response.status_code == 302 and response.location.startswith("/auth/login")
    login = browser.login("001090001003", next_url=query_of(response.location)["next"])
    done = browser.client.get(login.location)
    assert "code" in query_of(done.location)


def test_max_age_exceeded_requires_login_and_auth_time_is_reported(browser, client, make_account, make_client):
    """OIDC Core §3.1.2.1: after max_age seconds the user must log in again; auth_time is returned."""
    make_account("001090001004")
    client_id, secret = make_client(trusted=True)
    first = browser.code_for("001090001004", client_id, max_age="600")
    claims = decode_with_jwks(client, browser.exchange(first["code"], client_id, secret).get_json()["id_token"])[1]
    assert "auth_time" in claims
    with time_machine.travel(time.time() + 700, tick=False):
        fresh = browser.authorize(**_params(client_id, max_age="600"))
        assert fresh.location.startswith("/auth/login")
        silent = browser.authorize(**_params(client_id, max_age="600", prompt="none"))
        assert query_of(silent.location)["error"] == "login_required"
        still_ok = browser.authorize(**_params(client_id, max_age="3600"))
        assert "code" in query_of(still_ok.location)


def test_id_token_hint_for_other_user_with_prompt_none_is_login_required(browser, client, make_account,
                                                                         make_client):
    """OIDC Core §3.1.2.1: id_token_hint names a user other than the session's."""
    make_account("001090001005")
    make_account("001090001006")
    client_id, secret = make_client(trusted=True)
    first = browser.code_for("001090001005", client_id)
    hint_a = browser.exchange(first["code"], client_id, secret).get_json()["id_token"]
    same = browser.authorize(**_params(client_id, prompt="none", id_token_hint=hint_a))
    assert "code" in query_of(same.location)
    browser.client.delete_cookie("idp_session")
    browser.code_for("001090001006", client_id)
    other = browser.authorize(**_params(client_id, prompt="none", id_token_hint=hint_a))
    assert query_of(other.location)["error"] == "login_required"


def test_forged_id_token_hint_is_invalid_request(browser, make_account, make_client):
    make_account("001090001007")
    client_id, _ = make_client(trusted=True)
    browser.code_for("001090001007", client_id)
    response = browser.authorize(**_params(client_id, id_token_hint="eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."))
    assert query_of(response.location)["error"] == "invalid_request"


def test_login_hint_prefills_identifier(browser, make_client):
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, login_hint="001090001008"))
    page = browser.client.get(response.location)
    assert 'value="001090001008"' in page.get_data(as_text=True)


def test_unknown_client_shows_error_page_and_never_redirects(client):
    """RFC 6749 §4.1.2.1: no redirect to an unverified redirect URI."""
    response = client.get("/oauth2/authorize?response_type=code&client_id=nope&redirect_uri=https://evil.example/"
                          "&scope=openid")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_client" in response.get_data(as_text=True)


def test_unregistered_redirect_uri_shows_error_page(client, make_client):
    """RFC 6749 §3.1.2.4 / RFC 9700 §4.1: exact redirect URI matching, else no redirect."""
    client_id, _ = make_client()
    for uri in ("https://evil.example/callback", CB + "/x", CB + "?a=1", "https://PORTAL.example.vn/callback"):
        response = client.get("/oauth2/authorize", query_string=_params(client_id, redirect_uri=uri))
        assert response.status_code == 400 and "Location" not in response.headers


def test_unsupported_response_type_is_redirected(browser, make_client):
    """RFC 6749 §4.1.2.1: unsupported_response_type to a registered redirect URI."""
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, response_type="token"))
    assert response.status_code == 302
    assert query_of(response.location)["error"] == "unsupported_response_type"


def test_unknown_response_mode_is_invalid_request(browser, make_client):
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, response_mode="fragment"))
    assert query_of(response.location)["error"] == "invalid_request"


def test_malformed_claims_parameter_is_invalid_request(browser, make_client):
    """OIDC Core §5.5: claims must be a JSON object."""
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, claims="{not json"))
    params = query_of(response.location)
    assert params["error"] == "invalid_request" and "claims" in params["error_description"]


def test_scope_without_openid_is_invalid_request(browser, make_client):
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, scope="profile"))
    assert query_of(response.location)["error"] == "invalid_request"


def test_oversized_parameter_is_400_not_500(client, make_client):
    client_id, _ = make_client()
    response = client.get("/oauth2/authorize", query_string=_params(client_id, state="x" * 10_000))
    assert response.status_code == 400


def test_repeated_parameter_is_400(client, make_client):
    """RFC 6749 §3.1: parameters MUST NOT be included more than once."""
    client_id, _ = make_client()
    response = client.get(f"/oauth2/authorize?response_type=code&client_id={client_id}&redirect_uri={CB}"
                          "&scope=openid&state=a&state=b")
    assert response.status_code == 400
    token = client.post("/oauth2/token", data="grant_type=client_credentials&grant_type=password",
                        content_type="application/x-www-form-urlencoded")
    assert token.status_code == 400 and token.get_json()["error"] == "invalid_request"


def test_ui_locales_selects_english(browser, make_client):
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, ui_locales="en-GB vi"))
    page = browser.client.get(response.location, headers={"Accept-Language": "vi"})
    assert "Log in with your national account" in page.get_data(as_text=True)
    default = browser.authorize(**_params(client_id))
    page = browser.client.get(default.location, headers={"Accept-Language": "vi"})
    assert "Đăng nhập bằng tài khoản định danh quốc gia" in page.get_data(as_text=True)


def test_idp_hint_and_acr_values_are_accepted(browser, client, make_account, make_client):
    """acr_values is recorded; the ID token states the level actually reached (password: low)."""
    make_account("001090001009")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090001009", client_id, acr_values="urn:vn:gov:sso:loa:low", idp_hint="vneid")
    claims = decode_with_jwks(client, browser.exchange(params["code"], client_id, secret).get_json()["id_token"])[1]
    assert claims["acr"] == "urn:vn:gov:sso:loa:low"


def test_prompt_login_then_consent_completes(browser, make_account, make_client):
    """prompt=login with a portal that still needs consent: one login, one consent, then the code."""
    make_account("001090001010")
    client_id, _ = make_client()
    browser.code_for("001090001010", client_id, scope="openid")
    start = browser.authorize(**_params(client_id, prompt="login", scope="openid email"))
    assert start.location.startswith("/auth/login")
    login = browser.login("001090001010", next_url=query_of(start.location)["next"])
    consent = browser.client.get(login.location)
    assert b'name="decision"' in consent.data
    done = browser.consent(consent)
    assert "code" in query_of(done.location)
    # The fresh login is used up: the same request again must log in again.
    assert browser.client.get(login.location).location.startswith("/auth/login")


def test_authorization_request_by_post(browser, make_account, make_client):
    """OIDC Core §3.1.2.1: the authorization endpoint supports POST; login and consent still follow."""
    make_account("001090001011")
    client_id, _ = make_client()
    start = browser.client.post("/oauth2/authorize", data=_params(client_id, nonce="post-nonce"))
    assert start.status_code == 302 and start.location.startswith("/auth/login")
    login = browser.login("001090001011", next_url=query_of(start.location)["next"])
    consent = browser.client.get(login.location)
    assert b'name="decision"' in consent.data
    done = browser.consent(consent)
    assert "code" in query_of(done.location) and query_of(done.location)["state"] == "s"


def test_consent_decision_without_csrf_token_issues_nothing(browser, make_account, make_client):
    make_account("001090001012")
    client_id, _ = make_client()
    start = browser.authorize(**_params(client_id))
    login = browser.login("001090001012", next_url=query_of(start.location)["next"])
    forged = browser.client.post(login.location, data={"decision": "allow"})
    assert forged.status_code == 200 and b'name="decision"' in forged.data


def test_non_ascii_protocol_parameter_is_400_not_500(client, make_client):
    """RFC 6749 Appendix A: response_type, redirect_uri, grant_type... are ASCII; §5.2 error_description
    allows only %x20-21 / %x23-5B / %x5D-7E, so such a value is refused before it can be quoted in one."""
    client_id, _ = make_client()
    for name, value in (("response_type", "code\x00"), ("response_type", 'co"de'), ("response_type", "cödé"),
                        ("redirect_uri", CB + "/\u202e"), ("redirect_uri", CB + "\\x"), ("client_id", "\x00")):
        response = client.get("/oauth2/authorize", query_string={**_params(client_id), name: value})
        assert response.status_code == 400, (name, value)
        assert "Location" not in response.headers and "<h1>" in response.get_data(as_text=True)
    token = client.post("/oauth2/token", data={"grant_type": "client_credentials\x00"})
    assert token.status_code == 400 and token.get_json()["error"] == "invalid_request"
    assert "'grant_type' may hold only printable ASCII" in token.get_json()["error_description"]


def test_path_id_beyond_a_database_integer_is_404(browser, make_account):
    """A number no id column can hold is refused by the route, not by a database overflow (500)."""
    make_account("001090044401")
    browser.login("001090044401")
    for path in ("/accounts/passkeys/2147483648/remove", "/accounts/security/totp/99999999999999999999999/remove"):
        assert browser.client.post(path).status_code == 404
