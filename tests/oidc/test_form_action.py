"""CSP form-action on pages whose form leads back to a portal (CSP Level 3 §6.3.1.1: form-action
also governs the redirects that follow a form submission, which Chromium enforces): the login
page, a source's step and the cross-device page allow exactly the origin of the registered
redirect URI of the pending authorization request, and nothing for anything else."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.conftest import press_source

CALLBACK = "https://portal.example.vn/callback"


def _authorize_next(client_id: str, redirect_uri: str = CALLBACK) -> str:
    return "/oauth2/authorize?" + urlencode({"client_id": client_id, "redirect_uri": redirect_uri,
                                             "response_type": "code", "scope": "openid", "state": "s",
                                             "nonce": "n"})


def _form_action(response) -> str:  # noqa: ANN001
    csp = response.headers["Content-Security-Policy"]
    return next(part.strip() for part in csp.split(";") if part.strip().startswith("form-action"))


def test_login_page_allows_the_pending_portal_origin(client, make_client):
    client_id, _ = make_client(redirect_uris=[CALLBACK])
    response = client.get("/auth/login?" + urlencode({"next": _authorize_next(client_id)}))
    assert _form_action(response) == "form-action 'self' https://portal.example.vn"


@pytest.mark.parametrize("next_url", [
    "/oauth2/authorize?client_id=unknown&redirect_uri=https%3A%2F%2Fportal.example.vn%2Fcallback",
    "https://evil.example/oauth2/authorize",
    "//evil.example/oauth2/authorize",
    "/accounts/",
    "",
])
def test_nothing_else_is_allowed(client, make_client, next_url):
    make_client(redirect_uris=[CALLBACK])
    response = client.get("/auth/login?" + urlencode({"next": next_url}))
    assert _form_action(response) == "form-action 'self'"


def test_an_unregistered_redirect_uri_adds_nothing(client, make_client):
    client_id, _ = make_client(redirect_uris=[CALLBACK])
    response = client.get("/auth/login?" + urlencode({"next": _authorize_next(client_id, "https://evil.example/cb")}))
    assert _form_action(response) == "form-action 'self'"


def test_wrong_password_page_keeps_the_portal_origin(client, make_client, make_account):
    from tests.conftest import csrf_from

    client_id, _ = make_client(redirect_uris=[CALLBACK])
    next_url = _authorize_next(client_id)
    page = client.get("/auth/login?" + urlencode({"next": next_url}))
    identifier = "001090000777"
    make_account(identifier)
    response = client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                "identifier": identifier, "password": "wrong password!",
                                                "next": next_url})
    assert response.status_code in (200, 400, 401)
    assert _form_action(response) == "form-action 'self' https://portal.example.vn"


def test_identity_source_step_allows_the_portal_origin(client, make_client):
    client_id, _ = make_client(redirect_uris=[CALLBACK])
    step = press_source(client, "mock", next_url=_authorize_next(client_id))
    assert step.status_code == 200
    assert _form_action(step) == "form-action 'self' https://portal.example.vn"
