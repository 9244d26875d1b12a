"""Assurance levels in the authorization request: acr_values, essential acr, per-portal minimum,
step-up inside the same authorization, and unmet_authentication_requirements."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import decode_with_jwks
from tests.conftest import hidden_fields
from tests.conftest import query_of

LOW, SUBSTANTIAL, HIGH = (f"urn:vn:gov:sso:loa:{x}" for x in ("low", "substantial", "high"))
CB = "https://portal.example.vn/callback"


@pytest.fixture
def settings_overrides() -> dict:
    return {"verifiers": {"mock": {"kind": "mock", "max_level": "substantial"}}}


def _params(client_id: str, **extra: str) -> dict:
    return {"response_type": "code", "client_id": client_id, "redirect_uri": CB, "scope": "openid", "state": "s",
            **extra}


def _step_up_with_mock(client, login_page_url: str, pin: str, level: str = "substantial"):  # noqa: ANN001, ANN202
    page = client.get(login_page_url).get_data(as_text=True)
    assert 'name="password"' not in page  # the password cannot reach the level: not offered
    token = re.search(r'action="/auth/sources/mock/start">\s*<input id="csrf_token" name="csrf_token" '
                      r'type="hidden" value="([^"]+)"', page).group(1)
    next_url = query_of(login_page_url)["next"]
    prompt = client.post("/auth/sources/mock/start", data={"csrf_token": token, "next": next_url})
    html = prompt.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    done = client.post(action, data={**hidden_fields(html), "personal_id": pin, "full_name": "Test",
                                     "level": level})
    assert done.status_code == 303, done.get_data(as_text=True)[:400]
    return client.get(done.location)


def test_step_up_from_password_to_substantial_in_the_same_authorization(browser, client, make_account,
                                                                       make_client):
    make_account("001090013001", full_name="Test")
    client_id, secret = make_client(trusted=True)
    browser.code_for("001090013001", client_id)  # a password session (low)
    start = browser.authorize(**_params(client_id, acr_values=SUBSTANTIAL, nonce="n"))
    assert start.location.startswith("/auth/login") and "acr=" in start.location
    final = _step_up_with_mock(client, start.location, "001090013001")
    code = query_of(final.location)["code"]
    claims = decode_with_jwks(client, browser.exchange(code, client_id, secret).get_json()["id_token"])[1]
    assert claims["acr"] == SUBSTANTIAL
    assert set(claims["amr"]) == {"pwd", "mock"}


def test_highest_reachable_of_several_acr_values(browser, client, make_account, make_client):
    """acr_values lists several: the highest one some method can reach is required and returned."""
    make_account("001090013002", full_name="Test")
    client_id, secret = make_client(trusted=True)
    browser.code_for("001090013002", client_id)
    start = browser.authorize(**_params(client_id, acr_values=f"{HIGH} {SUBSTANTIAL}"))
    final = _step_up_with_mock(client, start.location, "001090013002")
    claims = decode_with_jwks(client, browser.exchange(query_of(final.location)["code"], client_id,
                                                       secret).get_json()["id_token"])[1]
    assert claims["acr"] == SUBSTANTIAL


def test_unreachable_level_is_unmet_authentication_requirements(browser, make_client):
    """Never a silently lower acr: the portal is told the requirement cannot be met."""
    client_id, _ = make_client()
    response = browser.authorize(**_params(client_id, acr_values=HIGH))
    params = query_of(response.location)
    assert params["error"] == "unmet_authentication_requirements" and params["state"] == "s"
    assert params["error_description"]


def test_essential_acr_claim_is_honoured(browser, make_account, make_client):
    """OIDC Core §5.5.1.1: an essential acr in the claims parameter is a requirement."""
    make_account("001090013003")
    client_id, _ = make_client(trusted=True)
    browser.code_for("001090013003", client_id)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": [SUBSTANTIAL]}}})
    response = browser.authorize(**_params(client_id, claims=claims))
    assert response.location.startswith("/auth/login") and "acr=" in response.location
    unreachable = json.dumps({"id_token": {"acr": {"essential": True, "value": HIGH}}})
    response = browser.authorize(**_params(client_id, claims=unreachable))
    assert query_of(response.location)["error"] == "unmet_authentication_requirements"


def test_portal_minimum_cannot_be_lowered_by_the_request(browser, make_account, make_client):
    make_account("001090013004")
    client_id, _ = make_client(trusted=True, minimum_acr=SUBSTANTIAL)
    start = browser.authorize(**_params(client_id, acr_values=LOW))
    assert start.location.startswith("/auth/login") and "acr=" in start.location
    silent = browser.authorize(**_params(client_id, acr_values=LOW, prompt="none"))
    assert query_of(silent.location)["error"] == "login_required"


def test_sso_session_reused_only_when_its_level_suffices(browser, make_account, make_client):
    make_account("001090013005", full_name="Test")
    client_id, _ = make_client(trusted=True)
    browser.code_for("001090013005", client_id)
    lower = browser.authorize(**_params(client_id, acr_values=LOW))
    assert "code" in query_of(lower.location)
    higher = browser.authorize(**_params(client_id, acr_values=SUBSTANTIAL, prompt="none"))
    assert query_of(higher.location)["error"] == "login_required"
