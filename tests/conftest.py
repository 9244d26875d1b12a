"""Shared fixtures: an app per test on SQLite (and PostgreSQL when IDP_TEST_DATABASE_URL is set),
schema made by the real migrations, factories for accounts and portals, and a browser flow."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from datetime import date
from html import unescape as html_unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import create_engine
from sqlalchemy import text

from idp import create_app
from idp.extensions import db

ISSUER = "http://localhost"
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("IDP_TEST_DATABASE_URL") else [])
# Cheap argon2id parameters: tests check behaviour, the benchmark measures cost.
FAST_PASSWORDS = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def base_settings(database_url: str, keys_dir: Path, **extra: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "env": "testing",
        "issuer": ISSUER,
        "database_url": database_url,
        "keys": {"directory": str(keys_dir)},
        "passwords": dict(FAST_PASSWORDS),
        "features": {"sandbox": True},
        "verifiers": {"mock": {"kind": "mock"}},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key] = {**settings[key], **value}
        else:
            settings[key] = value
    return settings


def migrate(app: Flask) -> None:
    """Create the schema the way production does: by running the migrations."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, keys_dir: Path) -> Iterator[str]:
    """A migrated database template: a SQLite file to copy, or the PostgreSQL test database."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.db"
        migrate(create_app(base_settings(f"sqlite:///{path}", keys_dir)))
        yield str(path)
        return
    url = os.environ["IDP_TEST_DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    migrate(create_app(base_settings(url, keys_dir)))
    yield url


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend.startswith("postgresql"):
        yield backend
        _truncate_all(backend)
        return
    path = tmp_path / "idp.db"
    shutil.copy(backend, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change configuration for that module."""
    return {}


def dispose(app: Flask) -> None:
    """Close the app's database connections: the session first (a connection it holds would outlive
    the pool and be garbage-collected open), then the pool."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(database_url: str, keys_dir: Path, settings_overrides: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(base_settings(database_url, keys_dir, **settings_overrides))
    yield app
    dispose(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # noqa: ANN201
    return app.test_cli_runner()


# --- factories --------------------------------------------------------------------------------
PINS = iter(f"001090{n:06d}" for n in range(1, 999999))


@pytest.fixture
def make_account(app: Flask):  # noqa: ANN201
    from idp.accounts.service import NewAccount
    from idp.accounts.service import create_account

    def make(identifier: str | None = None, password: str = PASSWORD, kind: str = "citizen", **attrs: Any) -> int:
        attrs.setdefault("full_name", "Nguyễn Văn Test")
        attrs.setdefault("email", "test@example.vn")
        if kind == "citizen":
            attrs.setdefault("birthdate", date(1990, 1, 1))
        with app.app_context():
            account = create_account(NewAccount(kind=kind, identifier=identifier or next(PINS), password=password,
                                                **attrs))
            db.session.commit()
            return account.id

    return make


@pytest.fixture
def make_client(app: Flask):  # noqa: ANN201
    from idp.oidc.clients import ClientRegistration
    from idp.oidc.clients import register_client

    def make(**fields: Any) -> tuple[str, str | None]:
        fields.setdefault("name", "Cổng thử nghiệm")
        fields.setdefault("redirect_uris", ["https://portal.example.vn/callback"])
        fields.setdefault("post_logout_redirect_uris", ["https://portal.example.vn/bye"])
        with app.app_context():
            client, secret = register_client(ClientRegistration(**fields))
            db.session.commit()
            return client.client_id, secret

    return make


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def hidden_fields(html: str) -> dict[str, str]:
    """Return the hidden inputs of the page's first POST form (CSRF token, a source's nonce, ...)."""
    form = re.search(r'<form method="post".*?</form>', html, re.S)
    assert form, "no form in page"
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form.group(0)):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name:
            fields[name.group(1)] = html_unescape(value.group(1)) if value else ""
    return fields


def press_source(client: FlaskClient, verifier_id: str = "mock", next_url: str = ""):  # noqa: ANN201
    """On the login page (back to `next_url` afterwards), press one identity source's button."""
    page = client.get("/auth/login?" + urlencode({"next": next_url})).get_data(as_text=True)
    form = re.search(rf'action="/auth/sources/{verifier_id}/start">\s*<input id="csrf_token" name="csrf_token" '
                     r'type="hidden" value="([^"]+)"', page)
    assert form, f"no {verifier_id} button on the login page"
    return client.post(f"/auth/sources/{verifier_id}/start", data={"csrf_token": form.group(1), "next": next_url})


def submit_form(client: FlaskClient, page, **fields: str):  # noqa: ANN001, ANN201
    """Submit the page's first POST form: its hidden fields (CSRF token, nonces) plus `fields`."""
    html = page.get_data(as_text=True)
    action = html_unescape(re.search(r'<form method="post" action="([^"]+)"', html).group(1))
    return client.post(action, data={**hidden_fields(html), **fields})


class BrowserFlow:
    """Drive the authorization code flow through the test client, one redirect at a time."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def authorize(self, **params: str):  # noqa: ANN201
        return self.client.get("/oauth2/authorize?" + urlencode(params))

    def login(self, identifier: str, password: str = PASSWORD, next_url: str = ""):  # noqa: ANN201
        page = self.client.get("/auth/login?" + urlencode({"next": next_url}))
        return self.client.post("/auth/login", data={
            "csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": identifier,
            "password": password, "next": next_url})

    def consent(self, page_response, decision: str = "allow"):  # noqa: ANN001, ANN201
        html = page_response.get_data(as_text=True)
        action = re.search(r'<form method="post" action="([^"]+)"', html).group(1).replace("&amp;", "&")
        return self.client.post(action, data={"csrf_token": csrf_from(html), "decision": decision})

    def code_for(self, identifier: str, client_id: str, **params: str) -> dict[str, str]:
        """Run authorize → login → (consent) → redirect; return the redirect's query parameters."""
        params.setdefault("response_type", "code")
        params.setdefault("client_id", client_id)
        params.setdefault("redirect_uri", "https://portal.example.vn/callback")
        params.setdefault("scope", "openid profile")
        params.setdefault("state", "st-" + secrets.token_hex(4))
        params.setdefault("nonce", "n-" + secrets.token_hex(8))
        response = self.authorize(**params)
        if response.status_code == 302 and "/auth/login" in response.location:
            next_url = query_of(response.location)["next"]
            response = self.login(identifier, next_url=next_url)
            assert response.status_code == 303, response.get_data(as_text=True)
            response = self.client.get(response.location)
        if response.status_code == 200 and b'name="decision"' in response.data:
            response = self.consent(response)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return query_of(response.location)

    def exchange(self, code: str, client_id: str, secret: str | None, **extra: str):  # noqa: ANN201
        data = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": "https://portal.example.vn/callback", **extra}
        headers = basic_auth(client_id, secret) if secret else {}
        if not secret:
            data["client_id"] = client_id
        return self.client.post("/oauth2/token", data=data, headers=headers)


@pytest.fixture
def browser(client: FlaskClient) -> BrowserFlow:
    return BrowserFlow(client)


def decode_with_jwks(client: FlaskClient, token: str) -> tuple[dict, dict]:
    """Verify a JWT against the published JWKS, as a portal would; return (header, claims)."""
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "RS256"])
    return dict(decoded.header), dict(decoded.claims)
