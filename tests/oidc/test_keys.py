"""Signing key rotation: published before use, old key valid during the overlap, never private in JWKS."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from idp.dbtypes import utcnow
from idp.errors import ConfigError
from idp.oidc.keys import KeyStore
from tests.conftest import decode_with_jwks


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict:
    return {"keys": {"directory": str(tmp_path / "own-keys")}}


def _kids(client) -> set[str]:  # noqa: ANN001
    return {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}


def test_rotation_publishes_before_signing_and_keeps_old_key_during_overlap(app, browser, client, make_account,
                                                                            make_client, runner):
    make_account("001090001301")
    client_id, secret = make_client(trusted=True)
    params = browser.code_for("001090001301", client_id)
    old_token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
    old_kid = decode_with_jwks(client, old_token)[0]["kid"]

    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    new_kids = {json.loads(line)["kid"] for line in result.output.splitlines()}
    app.extensions["idp.oidc"].keys.refresh(force=True)
    # Published at once, but not yet signing.
    assert new_kids <= _kids(client)
    params = browser.code_for("001090001301", client_id)
    token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
    assert decode_with_jwks(client, token)[0]["kid"] == old_kid

    with time_machine.travel(time.time() + 601, tick=False):
        params = browser.code_for("001090001301", client_id)
        token = browser.exchange(params["code"], client_id, secret).get_json()["id_token"]
        assert decode_with_jwks(client, token)[0]["kid"] in new_kids
        # The previous key still verifies tokens it signed during the overlap.
        assert old_kid in _kids(client)
        decode_with_jwks(client, old_token)
    with time_machine.travel(time.time() + 601 + 300 + 61, tick=False):
        assert old_kid not in _kids(client)

    listing = runner.invoke(args=["keys", "list"])
    states = {json.loads(line)["kid"]: json.loads(line)["state"] for line in listing.output.splitlines()}
    assert states[old_kid] == "active" and all(states[k] == "pending" for k in new_kids)


def test_key_files_are_encrypted(app, tmp_path: Path):
    files = list((tmp_path / "own-keys").glob("*.pem"))
    assert len(files) == 2
    for path in files:
        assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
        assert path.stat().st_mode & 0o077 == 0


def test_wrong_passphrase_fails_at_start(app, tmp_path: Path):
    store = KeyStore(tmp_path / "own-keys", "not-the-passphrase")
    with pytest.raises(ConfigError) as info:
        store.refresh(force=True)
    assert info.value.code == "keys.passphrase"


def test_unencrypted_key_file_is_refused(app, tmp_path: Path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = tmp_path / "own-keys"
    index = json.loads((directory / "keyset.json").read_text())
    plain = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (directory / f"{index['keys'][0]['kid']}.pem").write_bytes(plain)
    with pytest.raises(ConfigError) as info:
        KeyStore(directory, "development-only-keys-passphrase").refresh(force=True)
    assert "not encrypted" in info.value.message


def test_signing_key_follows_the_clock(tmp_path: Path):
    store = KeyStore(tmp_path, "passphrase-for-test")
    store.ensure_keys()
    first = store.signing_key("ES256").kid
    store.rotate(publish_lead=100, longest_token_ttl=50)
    assert store.signing_key("ES256").kid == first
    later = store.signing_key("ES256", now=utcnow() + timedelta(seconds=101)).kid
    assert later != first
