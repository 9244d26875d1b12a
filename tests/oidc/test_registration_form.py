"""Portal registration request through the web form (/clients/register), reviewed with `idp clients approve`.

The form shares the RFC 7591 API's metadata validation (idp.oidc.registration.parse_metadata, RFC 7591 §2,
OIDC Registration §2, OIDC Back-Channel Logout §2.2, Front-Channel Logout §2) and its pending state.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.registration_models import RegistrationRequest
from tests.conftest import basic_auth
from tests.conftest import csrf_from

CALLBACK = "https://portal.example.vn/callback"
USER = "001090008001"
PAGE = "/clients/register"


def _valid(**changes: str) -> dict:
    data = {"portal_name": "Cổng Sở Tư pháp", "agency": "UBND tỉnh Bắc Ninh", "contact_email": "it@bacninh.gov.vn",
            "redirect_uris": CALLBACK + "\r\n", "post_logout_redirect_uris": "https://portal.example.vn/bye",
            "backchannel_logout_uri": "https://portal.example.vn/bc-logout",
            "frontchannel_logout_uri": "https://portal.example.vn/fc-logout",
            "scope_profile": "y", "scope_email": "y", "auth_method": "client_secret_basic"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def logged_in(client, make_account, browser):  # noqa: ANN001, ANN201
    make_account(USER)
    assert browser.login(USER).status_code == 303
    client.get("/auth/language/en")
    return client


def _submit(client, **changes: str):  # noqa: ANN001, ANN202
    page = client.get(PAGE)
    assert page.status_code == 200
    return client.post(PAGE, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **_valid(**changes)})


def _counts(app) -> tuple[int, int]:  # noqa: ANN001
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Client)),
                db.session.scalar(select(func.count()).select_from(RegistrationRequest)))


def test_form_has_a_label_for_every_field(logged_in):
    """Every input has a label (WCAG 2.1 §1.3.1); openid is always requested."""
    html = logged_in.get(PAGE).get_data(as_text=True)
    for name in ("portal_name", "agency", "contact_email", "redirect_uris", "post_logout_redirect_uris",
                 "backchannel_logout_uri", "frontchannel_logout_uri"):
        assert f'<label for="{name}"' in html, name
    assert 'for="scope_profile"' in html and 'for="scope_national_id"' in html
    assert 'for="auth_method-0"' in html and "openid" in html
    assert "client_secret_post" in html and "private_key_jwt" in html


def test_valid_request_is_pending_until_approved(app, logged_in, runner, browser):
    """RFC 7591 §3.2.1 via the web: client_id and secret shown once; the portal is pending until approved."""
    response = _submit(logged_in)
    assert response.status_code == 303 and response.location.endswith("/clients/register/done")
    done = logged_in.get(response.location)
    html = done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store"
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', html).group(1)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', html).group(1)
    assert "shown only this once" in html and "administrator will review" in html
    with app.app_context():
        stored = db.session.get(Client, client_id)
        assert stored.status == "pending" and stored.agency == "UBND tỉnh Bắc Ninh"
        assert stored.scope == "openid profile email" and stored.frontchannel_logout_uri.endswith("/fc-logout")
        assert stored.backchannel_logout_uri.endswith("/bc-logout") and secret not in json.dumps(
            stored.client_metadata)
        assert db.session.get(RegistrationRequest, client_id).status == "pending"
        event = db.session.scalars(select(AuditEvent).where(
            AuditEvent.event == "client.registration_requested")).one()
        account_id = event.account_id
        assert event.client_id == client_id and account_id is not None and secret not in json.dumps(event.data)
    # Pending: unknown to the protocol.
    page = browser.authorize(response_type="code", client_id=client_id, redirect_uri=CALLBACK, scope="openid",
                             state="s", nonce="n")
    assert page.status_code == 400 and "invalid_client" in page.get_data(as_text=True)
    assert logged_in.post("/oauth2/token", data={"grant_type": "client_credentials"},
                          headers=basic_auth(client_id, secret)).status_code == 401
    # The operator approves with the CLI: the portal works.
    approved = runner.invoke(args=["clients", "approve", client_id])
    assert approved.exit_code == 0, approved.output
    params = browser.code_for(USER, client_id)
    tokens = browser.exchange(params["code"], client_id, secret)
    assert tokens.status_code == 200 and "id_token" in tokens.get_json()


def test_reject_with_the_cli_keeps_it_unusable(app, logged_in, runner):
    done = logged_in.get(_submit(logged_in).location).get_data(as_text=True)
    client_id = re.search(r'<code id="client-id">([^<]+)</code>', done).group(1)
    result = runner.invoke(args=["clients", "reject", client_id, "--reason", "unknown agency"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Client, client_id).status == "suspended"


def test_secret_is_shown_once(logged_in):
    """The secret leaves the session with the first 'done' page; a reload shows no secret."""
    location = _submit(logged_in).location
    first = logged_in.get(location).get_data(as_text=True)
    secret = re.search(r'<code id="client-secret">([^<]+)</code>', first).group(1)
    again = logged_in.get(location).get_data(as_text=True)
    assert secret not in again and "client-secret" not in again and "cannot be shown again" in again


BAD_FIELDS = [
    ("portal_name", {"portal_name": ""}, "Enter the portal"),
    ("agency", {"agency": "  "}, "Enter the agency that runs the portal."),
    ("contact_email", {"contact_email": "not-an-email"}, "Enter a valid e-mail address."),
    ("redirect_uris", {"redirect_uris": ""}, "Enter at least one redirect URI."),
    ("redirect_uris", {"redirect_uris": "https://portal.example.vn/cb#frag"},
     "redirect_uri must not contain a fragment"),
    ("redirect_uris", {"redirect_uris": "http://portal.example.vn/cb"}, "redirect_uri must use https"),
    ("redirect_uris", {"redirect_uris": "\n".join(f"https://p.example.vn/{i}" for i in range(21))},
     "redirect_uris: at most 20 URIs"),
    ("post_logout_redirect_uris", {"post_logout_redirect_uris": "https://*.example.vn/bye"},
     "post_logout_redirect_uri must not contain wildcards"),
    ("backchannel_logout_uri", {"backchannel_logout_uri": "javascript:alert(1)"},
     "backchannel_logout_uri must be an absolute http(s) URL"),
    ("frontchannel_logout_uri", {"frontchannel_logout_uri": "https://x.example.vn/" + "a" * 600},
     "Field cannot be longer than 600 characters."),
    ("auth_method", {"auth_method": "none"}, "Not a valid choice"),
]


@pytest.mark.parametrize(("field", "changes", "message"), BAD_FIELDS, ids=[f"{b[0]}-{i}" for i, b in enumerate(
    BAD_FIELDS)])
def test_bad_field_is_400_next_to_the_field_and_nothing_is_stored(app, logged_in, field, changes, message):
    """RFC 7591 §3.2.2 messages (the API's own), next to their field, values kept; nothing stored."""
    before = _counts(app)
    response = _submit(logged_in, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1), html[:3000]
    assert "Cổng Sở Tư pháp" in html or field == "portal_name"  # submitted values are kept
    assert _counts(app) == before


def test_errors_in_vietnamese(app, logged_in):
    """The API's message is translated when the page is in Vietnamese."""
    logged_in.get("/auth/language/vi")
    page = logged_in.get(PAGE)
    assert '<html lang="vi">' in page.get_data(as_text=True)
    response = logged_in.post(PAGE, data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        **_valid(redirect_uris="https://portal.example.vn/cb#frag")})
    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="redirect_uris-error">([^<]*)</p>', response.get_data(as_text=True))
    assert error and "https://portal.example.vn/cb#frag" in error.group(1)


def test_not_logged_in_redirects_to_login(app, client):
    """GET and a POST with a valid CSRF token (taken from the login page) both go to the login page."""
    token = csrf_from(client.get("/auth/login").get_data(as_text=True))
    for response in (client.get(PAGE), client.post(PAGE, data={"csrf_token": token, **_valid()})):
        assert response.status_code == 303
        assert response.location == "/auth/login?next=/clients/register"
    assert _counts(app) == (0, 0)


def test_missing_csrf_is_400(app, logged_in):
    """CSRF (OWASP CSRF Prevention Cheat Sheet: synchronizer token)."""
    response = logged_in.post(PAGE, data=_valid())
    assert response.status_code == 400 and _counts(app) == (0, 0)


def test_submissions_are_rate_limited_per_account(app, logged_in):
    """5 requests an hour per account: the sixth is refused with 429."""
    statuses = [_submit(logged_in, portal_name=f"Cổng {i}").status_code for i in range(6)]
    assert statuses == [303] * 5 + [429]
    assert _counts(app) == (5, 5)


def test_done_page_without_a_request_shows_nothing(client):
    html = client.get("/clients/register/done").get_data(as_text=True)
    assert "client-id" not in html and "client-secret" not in html


def test_the_request_records_who_asked_and_whom_to_contact(app, logged_in):
    """The operator reviewing a web request knows the submitting account and the contact address."""
    from idp.accounts.service import find_account

    assert _submit(logged_in).status_code == 303
    with app.app_context():
        [row] = db.session.execute(select(RegistrationRequest)).scalars().all()
        assert row.submitted_by == find_account(USER).id and row.contact_email == "it@bacninh.gov.vn"
