"""Password login: argon2id, no enumeration, rate limits and lockout, CSRF, cookies."""

from __future__ import annotations

import re

from sqlalchemy import select

from idp.accounts.models import Account
from idp.audit import AuditEvent
from idp.extensions import db
from tests.conftest import PASSWORD
from tests.conftest import csrf_from
from tests.conftest import dispose


def _post_login(client, identifier: str, password: str):  # noqa: ANN001, ANN202
    page = client.get("/auth/login")
    return client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                            "identifier": identifier, "password": password})


def test_login_page_is_accessible_form(client):
    html = client.get("/auth/login").get_data(as_text=True)
    assert 'autocomplete="username"' in html and 'autocomplete="current-password"' in html
    assert '<label for="identifier">' in html and '<label for="password">' in html
    # Works without JavaScript: the form posts by itself; scripts only add passkeys, deferred, from our origin.
    assert all('src="/static/' in tag and "defer" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert '<form method="post" action="/auth/login"' in html


def test_password_stored_with_argon2id(app, make_account):
    account_id = make_account("001090001201")
    with app.app_context():
        stored = db.session.get(Account, account_id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_successful_login_sets_strict_session_cookie(client, make_account):
    make_account("001090001202")
    response = _post_login(client, "001090001202", PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # http issuer in tests; https issuers get Secure


def test_unknown_account_and_wrong_password_look_the_same(client, make_account):
    """No user enumeration: same status and message for both."""
    make_account("001090001203")
    wrong = _post_login(client, "001090001203", "not the password")
    unknown = _post_login(client, "001090009999", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: r.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert strip(wrong) == strip(unknown)


def test_lockout_after_repeated_failures(app, client, make_account):
    """Per-account lockout: after 5 failures even the right password is refused for a while."""
    make_account("001090001204")
    for _ in range(5):
        assert _post_login(client, "001090001204", "wrong").status_code == 401
    locked = _post_login(client, "001090001204", PASSWORD)
    assert locked.status_code == 429
    with app.app_context():
        events = db.session.execute(select(AuditEvent.event)).scalars().all()
    assert events.count("login.failed") == 5 and "login.locked_out" in events


def test_per_ip_rate_limit(app, client):
    app.extensions["idp.settings"]  # the default limit is 30 per minute per IP
    statuses = [_post_login(client, f"00109000{n:04d}", "x").status_code for n in range(31)]
    assert statuses[-1] == 429 and 429 not in statuses[:30]


def test_login_form_without_csrf_token_is_refused(client, make_account):
    make_account("001090001205")
    response = client.post("/auth/login", data={"identifier": "001090001205", "password": PASSWORD})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers or "idp_session=;" not in response.headers["Set-Cookie"]


def test_locked_account_cannot_log_in(app, client, make_account):
    account_id = make_account("001090001206")
    with app.app_context():
        db.session.get(Account, account_id).status = "locked"
        db.session.commit()
    assert _post_login(client, "001090001206", PASSWORD).status_code == 403


def test_open_redirect_is_not_possible_after_login(client, make_account):
    make_account("001090001207")
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                                "identifier": "001090001207", "password": PASSWORD,
                                                "next": "https://evil.example/"})
    assert response.location == "/auth/done"


def test_security_headers_on_pages(client):
    response = client.get("/auth/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_https_deployment_behind_proxy(database_url, keys_dir, make_account):
    """Behind a TLS proxy: forms still pass the strict CSRF referrer check; cookies are Secure."""
    from idp import create_app
    from tests.conftest import base_settings

    app = create_app(base_settings(database_url, keys_dir, issuer="https://sso.example.vn", proxy_hops=1))
    client = app.test_client()
    make_account("001090001208")
    proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sso.example.vn", "X-Forwarded-For": "203.0.113.9"}
    page = client.get("/auth/login", headers=proxy)
    assert page.headers["Referrer-Policy"] == "same-origin"
    response = client.post("/auth/login", headers={**proxy, "Referer": "https://sso.example.vn/auth/login"},
                           data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                 "identifier": "001090001208", "password": PASSWORD})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]
    dispose(app)
