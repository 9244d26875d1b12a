"""RFC 7591 §2 `contacts`: validated, kept on the registration request, returned by RFC 7591/7592 responses."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest

CONTACTS = ["cntt@soyte.hue.gov.vn", "Nguyen.An+sso@soyte.hue.gov.vn"]


def _metadata(**extra) -> dict:  # noqa: ANN003
    return {"client_name": "Cổng Sở Y tế Huế", "redirect_uris": ["https://soyte.hue.gov.vn/cb"], "scope": "openid",
            **extra}


def _iat(runner) -> str:  # noqa: ANN001
    return json.loads(runner.invoke(args=["clients", "initial-access-token"]).output)["initial_access_token"]


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _stored_contacts(app, client_id: str) -> list | None:  # noqa: ANN001
    with app.app_context():
        return db.session.get(RegistrationRequest, client_id).contacts


def test_contacts_are_stored_and_returned(app, client, runner):
    """RFC 7591 §3.2.1: the response carries the registered contacts; RFC 7592 §2.1 reads return them."""
    response = client.post("/oauth2/register", json=_metadata(contacts=[*CONTACTS, CONTACTS[0]]),
                           headers=_bearer(_iat(runner)))
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["contacts"] == CONTACTS  # a repeated address is kept once
    assert _stored_contacts(app, body["client_id"]) == CONTACTS
    read = client.get(f"/oauth2/register/{body['client_id']}", headers=_bearer(body["registration_access_token"]))
    assert read.get_json()["contacts"] == CONTACTS


def test_no_contacts_is_fine_and_not_echoed(app, client, runner):
    body = client.post("/oauth2/register", json=_metadata(), headers=_bearer(_iat(runner))).get_json()
    assert "contacts" not in body
    assert _stored_contacts(app, body["client_id"]) == []


def test_update_replaces_or_removes_contacts(app, client, runner):
    """RFC 7592 §2.2: the PUT body replaces the metadata; an omitted field is removed."""
    body = client.post("/oauth2/register", json=_metadata(contacts=CONTACTS), headers=_bearer(_iat(runner))).get_json()
    uri, headers = f"/oauth2/register/{body['client_id']}", _bearer(body["registration_access_token"])
    changed = client.put(uri, headers=headers, json=_metadata(client_id=body["client_id"], contacts=["moi@hue.gov.vn"]))
    assert changed.status_code == 200 and changed.get_json()["contacts"] == ["moi@hue.gov.vn"]
    bad = client.put(uri, headers=headers, json=_metadata(client_id=body["client_id"], client_name="Đổi",
                                                          contacts=["khong-hop-le"]))
    assert bad.status_code == 400 and bad.get_json()["error"] == "invalid_client_metadata"
    with app.app_context():
        assert db.session.get(Client, body["client_id"]).name == "Cổng Sở Y tế Huế"  # nothing of it was saved
    assert _stored_contacts(app, body["client_id"]) == ["moi@hue.gov.vn"]
    removed = client.put(uri, headers=headers, json=_metadata(client_id=body["client_id"]))
    assert removed.status_code == 200 and "contacts" not in removed.get_json()
    assert _stored_contacts(app, body["client_id"]) == []


def test_contacts_survive_approval(app, client, runner):
    """The approved portal's metadata (RFC 7592 read) still names its contacts."""
    body = client.post("/oauth2/register", json=_metadata(contacts=CONTACTS), headers=_bearer(_iat(runner))).get_json()
    assert runner.invoke(args=["clients", "approve", body["client_id"]]).exit_code == 0
    read = client.get(f"/oauth2/register/{body['client_id']}", headers=_bearer(body["registration_access_token"]))
    assert read.status_code == 200 and read.get_json()["contacts"] == CONTACTS


BAD = [
    ("cntt@hue.gov.vn", "contacts must be an array of e-mail addresses."),
    ({"email": "cntt@hue.gov.vn"}, "contacts must be an array of e-mail addresses."),
    ([f"a{n}@hue.gov.vn" for n in range(6)], "contacts: at most 5 e-mail addresses."),
    ([7], "contacts[0] must be an e-mail address of at most 254 characters."),
    ([None], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["cntt@hue.gov.vn", "not-an-address"], "contacts[1] must be an e-mail address of at most 254 characters."),
    (["cntt@localhost"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["a b@hue.gov.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["a@b@hue.gov.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["cntt@hue.gov.vn, khac@hue.gov.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["cntt@hue.gov.vn\nBcc: x@y.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["cntt@hue.gov.vn\n"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["cntt\x00@hue.gov.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),
    (["x" * 244 + "@hue.gov.vn"], "contacts[0] must be an e-mail address of at most 254 characters."),  # 255
]


@pytest.mark.parametrize(("contacts", "description"), BAD)
def test_bad_contacts_are_invalid_client_metadata_and_nothing_is_stored(app, client, runner, contacts, description):
    """RFC 7591 §3.2.2: invalid_client_metadata with the reason; no client, no request, the token unused."""
    response = client.post("/oauth2/register", json=_metadata(contacts=contacts), headers=_bearer(_iat(runner)))
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_client_metadata", "error_description": description}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == 0
        assert db.session.scalar(select(func.count()).select_from(RegistrationRequest)) == 0
        assert db.session.scalars(select(InitialAccessToken)).one().used_at is None


def test_the_longest_address_is_accepted(client, runner):
    address = "x" * 243 + "@hue.gov.vn"  # 254 characters
    response = client.post("/oauth2/register", json=_metadata(contacts=[address]), headers=_bearer(_iat(runner)))
    assert response.status_code == 201 and response.get_json()["contacts"] == [address]
