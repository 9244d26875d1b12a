"""sector_identifier_uri: pairwise `sub` per sector (OIDC Core §8.1, OIDC Registration §2 and §5).

The document is served over https by a real server on loopback (a test CA the provider is told to trust
with `outbound.ca_bundle`); the provider fetches it at registration and at every update, requires every
redirect URI in it, and computes the pairwise `sub` for its host, so two portals of one agency that share
the document see one `sub` for a person.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import Client
from tests.conftest import csrf_from
from tests.conftest import decode_with_jwks
from tests.conftest import pkce_pair
from tests.docserver import DocumentServer

PIN = "001090007002"
PORTAL_A = "https://dichvucong.xaydung.example.vn/callback"
PORTAL_B = "https://quyhoach.xaydung.example.vn/oidc/cb"
ELSEWHERE = "https://portal.example.vn/callback"


@pytest.fixture
def agency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentServer]:
    """The agency's web server: https with a certificate for `localhost` from a test CA."""
    server = DocumentServer(tls_directory=tmp_path_factory.mktemp("tls"), names=("localhost",))
    yield server
    server.stop()


@pytest.fixture
def settings_overrides(agency: DocumentServer) -> dict:
    return {"outbound": {"ca_bundle": str(agency.ca_file), "connect_timeout": 1, "read_timeout": 1}}


@pytest.fixture
def sector_uri(agency: DocumentServer) -> str:
    agency.json("/sector.json", [PORTAL_A, PORTAL_B])
    return agency.url("/sector.json", host="localhost")


def _iat(runner) -> str:  # noqa: ANN001
    result = runner.invoke(args=["clients", "initial-access-token"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["initial_access_token"]


def _register(client, runner, redirect_uris: list[str], **extra):  # noqa: ANN001, ANN003, ANN202
    body = {"client_name": "Cổng Bộ Xây dựng", "redirect_uris": redirect_uris, "scope": "openid", **extra}
    return client.post("/oauth2/register", json=body, headers={"Authorization": f"Bearer {_iat(runner)}"})


def _refused(app, response, description: str) -> None:  # noqa: ANN001
    body = response.get_json()
    assert response.status_code == 400, body
    assert body == {"error": "invalid_client_metadata", "error_description": description}
    with app.app_context():
        assert db.session.scalars(select(Client)).first() is None


def test_registration_checks_the_document_and_takes_its_host_as_the_sector(app, client, runner, agency,
                                                                           sector_uri):
    """OIDC Registration §5: the document lists every redirect URI; OIDC Core §8.1: the sector is its host."""
    response = _register(client, runner, [PORTAL_A, PORTAL_B], sector_identifier_uri=sector_uri)
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["sector_identifier_uri"] == sector_uri and agency.hits["/sector.json"] == 1
    with app.app_context():
        stored = db.session.get(Client, body["client_id"])
        assert (stored.sector_identifier_uri, stored.sector_identifier) == (sector_uri, "localhost")


def test_redirect_uris_on_several_hosts_need_a_sector_identifier_uri(app, client, runner):
    """OIDC Core §8.1: "If there are multiple hostnames in the registered redirect_uris, the Client MUST
    register a sector_identifier_uri"."""
    _refused(app, _register(client, runner, [PORTAL_A, PORTAL_B]),
             "redirect URIs on several hosts need a sector_identifier_uri")


def test_a_redirect_uri_missing_from_the_document_is_refused(app, client, runner, sector_uri):
    """OIDC Registration §5: the values in the document MUST include every registered redirect_uri."""
    _refused(app, _register(client, runner, [PORTAL_A, ELSEWHERE], sector_identifier_uri=sector_uri),
             f"sector_identifier_uri: the document does not list the redirect URI {ELSEWHERE}; it must list every "
             "redirect URI the portal registers.")


def test_plain_http_is_refused_even_outside_production(app, client, runner):
    """OIDC Registration §2: "URL using the https scheme" — whatever the environment."""
    plain = DocumentServer()
    try:
        url = plain.json("/sector.json", [PORTAL_A])
        _refused(app, _register(client, runner, [PORTAL_A], sector_identifier_uri=url),
                 "sector_identifier_uri: must use https (OpenID Connect Registration §2).")
        assert plain.hits["/sector.json"] == 0
    finally:
        plain.stop()


@pytest.mark.parametrize(("serve", "description"), [
    (lambda a: a.json("/sector.json", {"redirect_uris": [PORTAL_A]}),
     "sector_identifier_uri: the document must be a JSON array of redirect URIs."),
    (lambda a: a.json("/sector.json", [PORTAL_A, 7]),
     "sector_identifier_uri: the document must be a JSON array of redirect URIs."),
    (lambda a: a.redirect("/sector.json", "https://localhost/elsewhere.json"),
     "sector_identifier_uri: the server answered with a redirect (HTTP 302); redirects are not followed, register "
     "the final URL."),
    (lambda a: a.raw("/sector.json", b"<html></html>", "text/html"),
     "sector_identifier_uri: the document is served as text/html, not as JSON (application/json)."),
    (lambda a: a.streamed("/sector.json", 200_000), "sector_identifier_uri: the document is larger than 65536 bytes."),
])
def test_unusable_documents_are_refused(app, client, runner, agency, serve, description):
    serve(agency)
    _refused(app, _register(client, runner, [PORTAL_A], sector_identifier_uri=agency.url("/sector.json", "localhost")),
             description)


def test_an_untrusted_certificate_is_refused(app, client, runner, agency, sector_uri):
    """RFC 6125: the certificate must be valid for the host; here 127.0.0.1 is not a name it carries."""
    _refused(app, _register(client, runner, [PORTAL_A], sector_identifier_uri=agency.url("/sector.json")),
             "sector_identifier_uri: the TLS certificate of 127.0.0.1 could not be verified.")


def test_production_never_fetches_it_from_a_private_address(app, client, runner, agency, sector_uri):
    app.extensions["idp.settings"] = dataclasses.replace(app.extensions["idp.settings"], env="production")
    _refused(app, _register(client, runner, [PORTAL_A], sector_identifier_uri=sector_uri),
             "sector_identifier_uri: the host localhost resolves to a private, loopback, link-local or reserved "
             "address; only public addresses are fetched.")
    assert agency.hits["/sector.json"] == 0


# --- the pairwise sub ---------------------------------------------------------------------------------
def _sub(browser, client_id: str, redirect_uri: str) -> str:  # noqa: ANN001
    """The `sub` a public portal gets from a code flow with PKCE (RFC 7636)."""
    verifier, challenge = pkce_pair()
    code = browser.code_for(PIN, client_id, redirect_uri=redirect_uri, code_challenge=challenge,
                            code_challenge_method="S256")["code"]
    tokens = browser.exchange(code, client_id, None, redirect_uri=redirect_uri, code_verifier=verifier)
    assert tokens.status_code == 200, tokens.get_json()
    return decode_with_jwks(browser.client, tokens.get_json()["id_token"])[1]["sub"]


def test_two_portals_sharing_a_sector_document_get_the_same_pairwise_sub(browser, make_account, make_client,
                                                                         sector_uri):
    """OIDC Core §8.1: the sub is computed for the sector (the document's host), not the portal: two portals
    of one agency see the same sub; a portal of another sector sees a different one."""
    make_account(PIN)
    public = {"token_endpoint_auth_method": "none", "post_logout_redirect_uris": []}
    portal_a, _ = make_client(redirect_uris=[PORTAL_A], sector_identifier_uri=sector_uri, **public)
    portal_b, _ = make_client(redirect_uris=[PORTAL_B], sector_identifier_uri=sector_uri, **public)
    other, _ = make_client(redirect_uris=[ELSEWHERE], **public)
    sub_a, sub_b = _sub(browser, portal_a, PORTAL_A), _sub(browser, portal_b, PORTAL_B)
    sub_other = _sub(browser, other, ELSEWHERE)
    assert sub_a == sub_b
    assert sub_other != sub_a


# --- updates, CLI, manifests, web form -----------------------------------------------------------------
def test_rfc7592_update_checks_the_document_again(app, client, runner, agency, sector_uri):
    """RFC 7592 §2.2 with OIDC Registration §5: the document may have changed since registration."""
    body = _register(client, runner, [PORTAL_A], sector_identifier_uri=sector_uri).get_json()
    headers = {"Authorization": f"Bearer {body['registration_access_token']}"}
    update = {"client_id": body["client_id"], "client_name": "Cổng mới", "redirect_uris": [PORTAL_A, PORTAL_B],
              "scope": "openid", "sector_identifier_uri": sector_uri}
    agency.set_document("/sector.json", [PORTAL_A])  # the agency dropped portal B from the document
    refused = client.put(f"/oauth2/register/{body['client_id']}", json=update, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["error_description"].startswith(
        f"sector_identifier_uri: the document does not list the redirect URI {PORTAL_B}")
    agency.set_document("/sector.json", [PORTAL_A, PORTAL_B])
    accepted = client.put(f"/oauth2/register/{body['client_id']}", json=update, headers=headers)
    assert accepted.status_code == 200, accepted.get_json()
    assert agency.hits["/sector.json"] == 3


def test_adding_a_sector_of_another_host_later_is_refused(app, client, runner, sector_uri):
    """OIDC Core §8.1: a new sector would change every user's sub at the portal."""
    body = _register(client, runner, [PORTAL_A]).get_json()
    update = {"client_id": body["client_id"], "client_name": "Cổng", "redirect_uris": [PORTAL_A], "scope": "openid",
              "sector_identifier_uri": sector_uri}
    refused = client.put(f"/oauth2/register/{body['client_id']}", json=update,
                         headers={"Authorization": f"Bearer {body['registration_access_token']}"})
    assert refused.status_code == 400
    assert refused.get_json() == {"error": "invalid_client_metadata", "error_description": (
        "sector_identifier_uri moves the pairwise sector from dichvucong.xaydung.example.vn to localhost: every "
        "user's sub would change.")}


def test_cli_and_manifest_accept_a_sector_identifier_uri(app, runner, sector_uri, tmp_path: Path):
    result = runner.invoke(args=["clients", "add", "--name", "Cổng A", "--redirect-uri", PORTAL_A,
                                 "--sector-identifier-uri", sector_uri])
    assert result.exit_code == 0, result.output
    manifest = tmp_path / "b.toml"
    manifest.write_text(f'client_id = "xaydung-b"\nname = "Cổng B"\nredirect_uris = ["{PORTAL_B}"]\n'
                        f'sector_identifier_uri = "{sector_uri}"\n')
    synced = runner.invoke(args=["clients", "sync", str(tmp_path)])
    assert synced.exit_code == 0, synced.output
    with app.app_context():
        clients = db.session.scalars(select(Client)).all()
        assert {c.sector_identifier for c in clients} == {"localhost"}
    manifest.write_text(manifest.read_text().replace(PORTAL_B, ELSEWHERE))
    refused = runner.invoke(args=["clients", "sync", str(tmp_path)])
    assert refused.exit_code == 2 and "sector_identifier_uri: sector_identifier_uri: the document does not list" \
        in refused.output


def test_web_form_accepts_a_sector_identifier_uri(app, client, make_account, sector_uri):
    make_account(PIN)
    page = client.get("/auth/login")
    client.post("/auth/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "identifier": PIN,
                                     "password": "correct horse battery", "next": ""})
    form = client.get("/clients/register")
    assert '<label for="sector_identifier_uri"' in form.get_data(as_text=True)
    response = client.post("/clients/register", data={
        "csrf_token": csrf_from(form.get_data(as_text=True)), "portal_name": "Cổng Sở Xây dựng",
        "agency": "Bộ Xây dựng", "contact_email": "it@xaydung.gov.vn", "redirect_uris": f"{PORTAL_A}\n{PORTAL_B}",
        "auth_method": "client_secret_basic", "sector_identifier_uri": sector_uri})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalars(select(Client)).one()
        assert (stored.sector_identifier_uri, stored.sector_identifier) == (sector_uri, "localhost")
