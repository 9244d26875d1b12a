"""Bad input gets a clear 4xx; an unexpected failure never shows a stack trace."""

from __future__ import annotations

import pytest


@pytest.fixture
def broken_app(app):  # noqa: ANN001, ANN201
    def explode():  # noqa: ANN202
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/oauth2/explode", "explode_api", explode)
    app.add_url_rule("/auth/explode", "explode_page", explode)
    return app


def test_unexpected_error_in_api_is_generic_json(broken_app, caplog):
    response = broken_app.test_client().get("/oauth2/explode")
    assert response.status_code == 500
    assert response.get_json() == {"error": "server_error", "error_description": "An unexpected error occurred."}
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "RuntimeError" in caplog.text  # logged once, with the traceback, for operators


def test_unexpected_error_in_page_is_generic_html(broken_app):
    response = broken_app.test_client().get("/auth/explode")
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "<h1>" in body
    assert "secret internal detail" not in body and "Traceback" not in body


def test_expired_form_gets_a_clear_page(client):
    response = client.post("/accounts/register", data={"personal_id": "001090000001"},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_oversized_body_is_413(client):
    response = client.post("/oauth2/token", data={"grant_type": "x" * 70_000})
    assert response.status_code == 413
    assert response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
def test_protocol_endpoints_reject_get_with_json(client, path: str):
    response = client.get(path)
    assert response.status_code == 405
    assert response.get_json()["error"] == "invalid_request"


def test_non_form_body_at_token_endpoint_is_400(client):
    response = client.post("/oauth2/token", data=b"\xff\xfe{garbage", content_type="application/json")
    assert response.status_code in (400, 401)
    assert "error" in response.get_json()


@pytest.mark.parametrize("path", ["/oauth2/authorize", "/oauth2/logout"])
def test_browser_endpoints_answer_bad_input_with_a_page(client, path: str):
    response = client.get(path, query_string={"state": "x" * 10_000})
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_an_oversized_form_on_a_page_is_a_clear_413_not_a_500(client):
    """The language choice reads request.values; for a body over the limit it must not fail again."""
    response = client.post("/auth/login", data={"identifier": "x" * 70_000, "password": "y"})
    assert response.status_code == 413 and "<h1>" in response.get_data(as_text=True)
