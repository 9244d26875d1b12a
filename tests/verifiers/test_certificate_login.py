"""End-to-end logins with a digital certificate through the Flask test client: a citizen by signed
challenge, an official by a government certificate, and a client certificate forwarded by a TLS
terminator (accepted only from a trusted proxy peer). Revocation is served over loopback HTTP."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import select

from idp.accounts.linking import identity_level
from idp.accounts.linking import linked_sources
from idp.accounts.models import Account
from idp.accounts.service import find_account
from idp.extensions import db
from idp.verifiers.base import Level
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import press_source
from tests.conftest import query_of
from tests.conftest import submit_form
from tests.verifiers.pki import CITIZEN_ID
from tests.verifiers.pki import OFFICIAL_ID
from tests.verifiers.pki import sign

PROXY = "10.9.8.7"
REDIRECT_URI = "https://portal.example.vn/callback"




@pytest.fixture
def settings_overrides(pki) -> dict[str, Any]:
    return {"verifiers": {"certificate": {
        "kind": "certificate",
        "trusted_proxies": [PROXY],
        "anchors": [
            {"pem": pki.root.pem, "kind": "public", "name": "Test public CA", "intermediates": [pki.intermediate.pem]},
            {"pem": pki.gov_root.pem, "kind": "government", "name": "Test government CA", "ocsp": "aia"},
        ]}}}


def challenge_of(prompt) -> str:  # noqa: ANN001
    page = prompt.get_data(as_text=True)
    return html.unescape(re.search(r'<textarea id="challenge"[^>]*>([^<]+)</textarea>', page).group(1))


def authorize(browser, client, make_client, **params: str):  # noqa: ANN001, ANN201
    client_id, secret = make_client(trusted=True)
    start = browser.authorize(response_type="code", client_id=client_id, scope="openid profile",
                              redirect_uri=REDIRECT_URI, nonce="n-cert", **params)
    prompt = press_source(client, "certificate", next_url=query_of(start.location)["next"])
    assert prompt.status_code == 200
    return client_id, secret, prompt


def id_token_claims(browser, client, done, client_id: str, secret: str) -> dict:  # noqa: ANN001
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    final = client.get(done.location)
    code = query_of(final.location)["code"]
    body = browser.exchange(code, client_id, secret).get_json()
    return decode_with_jwks(client, body["id_token"])[1]


def test_citizen_logs_in_by_signed_challenge(app, browser, client, make_client, pki):
    """A public-CA certificate creates the citizen's national account at SUBSTANTIAL (docs/assurance.md)."""
    client_id, secret, prompt = authorize(browser, client, make_client)
    page = prompt.get_data(as_text=True)
    assert 'name="signature"' in page and 'for="signature"' in page and 'value="tls"' in page
    done = submit_form(client, prompt, certificate=pki.citizen.pem, chain=pki.chain,
                       signature=sign(pki.citizen, challenge_of(prompt)))
    claims = id_token_claims(browser, client, done, client_id, secret)
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and "x509" in claims["amr"]
    with app.app_context():
        account = find_account(CITIZEN_ID)
        assert account.kind == "citizen" and account.full_name == "Nguyễn Văn An"
        assert identity_level(account) == Level.SUBSTANTIAL
        assert [link.source for link in linked_sources(account)] == ["certificate"]


def test_official_logs_in_with_a_government_certificate(app, browser, client, make_client, pki):
    """A Government Cipher Committee certificate: an official's account with agency, acr high."""
    client_id, secret, prompt = authorize(browser, client, make_client, acr_values="urn:vn:gov:sso:loa:high")
    done = submit_form(client, prompt, certificate=pki.official.pem, chain=pki.gov_chain,
                       signature=sign(pki.official, challenge_of(prompt)))
    claims = id_token_claims(browser, client, done, client_id, secret)
    assert claims["acr"] == "urn:vn:gov:sso:loa:high" and claims["amr"] == ["x509"]
    with app.app_context():
        account = find_account(OFFICIAL_ID)
        assert account.kind == "official" and account.agency == "Bộ Nội vụ"
        assert identity_level(account) == Level.HIGH


def test_forwarded_client_certificate_from_the_trusted_proxy(app, browser, client, make_client, pki):
    """The TLS terminator at PROXY forwards `$ssl_client_escaped_cert`; the person signs nothing."""
    client_id, secret, prompt = authorize(browser, client, make_client)
    action = re.search(r'<form method="post" action="([^"]+)"', prompt.get_data(as_text=True)).group(1)
    done = client.post(action, data={"csrf_token": csrf_from(prompt.get_data(as_text=True)), "mode": "tls"},
                       headers={"X-SSL-Client-Cert": quote(pki.citizen.pem)}, environ_base={"REMOTE_ADDR": PROXY})
    claims = id_token_claims(browser, client, done, client_id, secret)
    assert claims["acr"] == "urn:vn:gov:sso:loa:substantial" and "x509" in claims["amr"]


def test_forwarded_client_certificate_from_another_peer_is_ignored(app, browser, client, make_client, pki):
    """Anyone can send the header: it counts only from a configured proxy address."""
    _, _, prompt = authorize(browser, client, make_client)
    html_page = prompt.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html_page).group(1)
    refused = client.post(action, data={"csrf_token": csrf_from(html_page), "mode": "tls"},
                          headers={"X-SSL-Client-Cert": quote(pki.citizen.pem), "Accept-Language": "en"},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and 'role="alert"' in page and "secure gateway" in page
    assert f'action="{action}"' in page  # the form is shown again: the person can sign instead
    with app.app_context():
        assert db.session.execute(select(Account).where(Account.identifier == CITIZEN_ID)).first() is None
    done = client.post(action, data={"csrf_token": csrf_from(page), "certificate": pki.citizen.pem,
                                     "chain": pki.chain, "signature": sign(pki.citizen, challenge_of(prompt))},
                       environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert done.status_code == 303


def test_revoked_certificate_shows_the_form_again(app, client, pki):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    prompt = press_source(client, "certificate")
    action = re.search(r'<form method="post" action="([^"]+)"', prompt.get_data(as_text=True)).group(1)
    refused = submit_form(client, prompt, certificate=pki.revoked.pem, chain=pki.chain,
                          signature=sign(pki.revoked, challenge_of(prompt)))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "revoked" in page and f'action="{action}"' in page
    with app.app_context():
        assert db.session.execute(select(Account)).first() is None


def test_unreachable_revocation_for_an_official_is_a_503_page(app, client, pki):
    pki.server.ocsp.pop("/ocsp/gov")
    pki.server.crls.pop("/gov.crl")
    prompt = press_source(client, "certificate")
    refused = submit_form(client, prompt, certificate=pki.official.pem, chain=pki.gov_chain,
                          signature=sign(pki.official, challenge_of(prompt)))
    assert refused.status_code == 503
    with app.app_context():
        assert find_account(OFFICIAL_ID) is None
