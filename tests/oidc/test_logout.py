"""OpenID Connect RP-Initiated Logout 1.0."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.conftest import query_of


def _logged_in(browser, make_account, make_client, pin: str):  # noqa: ANN001, ANN202
    make_account(pin)
    client_id, secret = make_client(trusted=True)
    params = browser.code_for(pin, client_id)
    id_token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
    return client_id, id_token


def test_logout_with_hint_and_registered_uri_redirects_with_state(browser, make_account, make_client):
    """RP-Initiated Logout §3: redirect to a registered post_logout_redirect_uri with state."""
    client_id, id_token = _logged_in(browser, make_account, make_client, "001090001101")
    response = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://portal.example.vn/bye", "state": "bye1"}))
    assert response.status_code == 302
    assert response.location == "https://portal.example.vn/bye?state=bye1"
    # The session is over: prompt=none now needs a login.
    again = browser.authorize(response_type="code", client_id=client_id, scope="openid", prompt="none",
                              redirect_uri="https://portal.example.vn/callback")
    assert query_of(again.location)["error"] == "login_required"


def test_logout_with_unregistered_uri_does_not_redirect(browser, make_account, make_client):
    """RP-Initiated Logout §3: the OP MUST NOT redirect to an unregistered URI."""
    _, id_token = _logged_in(browser, make_account, make_client, "001090001102")
    response = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://evil.example/bye"}))
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_logout_without_hint_asks_for_confirmation(browser, make_account, make_client):
    """RP-Initiated Logout §2: without id_token_hint the OP should ask the user."""
    _logged_in(browser, make_account, make_client, "001090001103")
    page = browser.client.get("/oauth2/logout")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="confirm"' in html
    from tests.conftest import csrf_from

    done = browser.client.post("/oauth2/logout", data={"csrf_token": csrf_from(html), "confirm": "yes"})
    assert done.status_code == 200
    assert browser.client.get("/auth/done").get_data(as_text=True).count("/auth/login") >= 1


def test_logout_confirmation_needs_csrf_token(browser, make_account, make_client):
    client_id, _ = _logged_in(browser, make_account, make_client, "001090001104")
    response = browser.client.post("/oauth2/logout", data={"confirm": "yes"})
    assert response.status_code == 200 and 'name="confirm"' in response.get_data(as_text=True)
    still = browser.authorize(response_type="code", client_id=client_id, scope="openid", prompt="none",
                              redirect_uri="https://portal.example.vn/callback")
    assert "code" in query_of(still.location)


def test_garbage_id_token_hint_is_error_page(client):
    response = client.get("/oauth2/logout?id_token_hint=abc.def.ghi")
    assert response.status_code == 400


def test_hint_for_another_user_asks_before_logging_out(browser, make_account, make_client):
    """RP-Initiated Logout §2: a hint naming someone else must not silently end this session."""
    client_id, hint_a = _logged_in(browser, make_account, make_client, "001090001105")
    browser.client.delete_cookie("idp_session")
    make_account("001090001106")
    browser.code_for("001090001106", client_id)
    response = browser.client.get("/oauth2/logout?" + urlencode({
        "id_token_hint": hint_a, "post_logout_redirect_uri": "https://portal.example.vn/bye"}))
    assert response.status_code == 200 and 'name="confirm"' in response.get_data(as_text=True)
    still = browser.authorize(response_type="code", client_id=client_id, scope="openid", prompt="none",
                              redirect_uri="https://portal.example.vn/callback")
    assert "code" in query_of(still.location)


def test_unverifiable_hint_with_a_session_asks_instead_of_failing(browser, make_account, make_client):
    _logged_in(browser, make_account, make_client, "001090001107")
    page = browser.client.get("/oauth2/logout?id_token_hint=abc.def.ghi")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'name="confirm"' in html
    from tests.conftest import csrf_from

    done = browser.client.post("/oauth2/logout?id_token_hint=abc.def.ghi",
                               data={"csrf_token": csrf_from(html), "confirm": "yes"})
    assert done.status_code == 200 and "Location" not in done.headers
