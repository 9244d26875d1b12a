"""`idp clients sync PATH`: portal manifests created or updated idempotently, all or nothing (issue 5 item 4).

Validation follows RFC 7591 §2 (client metadata) with the provider's registration rules; `sub`
stability follows OIDC Core §8.1 (pairwise sector)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.oidc.models import Client
from idp.oidc.secrets import verify_client_secret

DEMO = Path(__file__).parent.parent.parent / "clients"
GOOD = """client_id = "test-portal"
name = "Cổng thử"
agency = "Bộ Thử nghiệm"
redirect_uris = ["http://127.0.0.1:8100/callback"]
post_logout_redirect_uris = ["http://127.0.0.1:8100/"]
scopes = ["openid", "profile"]
"""


def sync(runner, path: Path, **env: str):  # noqa: ANN001, ANN201
    result = runner.invoke(args=["clients", "sync", str(path)], env=env or None)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, {r["client_id"]: r for r in lines}


def client_count(app: Flask) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(Client)).scalar()


def get_client(app: Flask, client_id: str) -> Client:
    with app.app_context():
        client = db.session.get(Client, client_id)
        db.session.expunge_all()
        return client


def test_demo_manifests_sync_and_second_run_changes_nothing(app: Flask, runner) -> None:  # noqa: ANN001
    result, reports = sync(runner, DEMO)
    assert result.exit_code == 0, result.output
    assert set(reports) == {"demo-national-portal", "demo-ministry-finance", "demo-ministry-health",
                            "demo-province-hanoi", "demo-province-danang"}
    assert all(r["result"] == "created" for r in reports.values())
    assert "client_secret" not in reports["demo-province-hanoi"]  # public client: PKCE only
    secret = reports["demo-ministry-finance"]["client_secret"]
    finance = get_client(app, "demo-ministry-finance")
    assert verify_client_secret(finance.client_secret_hash, secret)
    assert finance.backchannel_logout_uri == "http://127.0.0.1:8002/backchannel-logout"
    assert get_client(app, "demo-ministry-health").frontchannel_logout_uri == "http://127.0.0.1:8004/frontchannel-logout"
    assert get_client(app, "demo-ministry-health").minimum_acr == "urn:vn:gov:sso:loa:high"
    assert get_client(app, "demo-national-portal").trusted is True
    again, reports = sync(runner, DEMO)
    assert again.exit_code == 0
    assert {r["result"] for r in reports.values()} == {"unchanged"}
    assert all("client_secret" not in r for r in reports.values())  # shown once, at creation
    assert verify_client_secret(get_client(app, "demo-ministry-finance").client_secret_hash, secret)


def test_sync_over_idp_demo_keeps_the_demo_secrets(app: Flask, runner) -> None:  # noqa: ANN001
    assert runner.invoke(args=["demo"]).exit_code == 0
    result, reports = sync(runner, DEMO)
    assert result.exit_code == 0, result.output
    assert reports["demo-ministry-finance"]["result"] == "updated"
    assert "backchannel_logout_uri" in reports["demo-ministry-finance"]["fields"]
    assert "client_secret" not in reports["demo-ministry-finance"]
    finance = get_client(app, "demo-ministry-finance")
    assert verify_client_secret(finance.client_secret_hash, "demo-ministry-finance-secret")


def test_update_reports_changed_fields(app: Flask, runner, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "p.toml").write_text(GOOD, encoding="utf-8")
    assert sync(runner, tmp_path)[1]["test-portal"]["result"] == "created"
    (tmp_path / "p.toml").write_text(GOOD.replace("Cổng thử", "Cổng mới") + 'trusted = true\n'
                                     'backchannel_logout_uri = "http://127.0.0.1:8100/bc"\n', encoding="utf-8")
    result, reports = sync(runner, tmp_path)
    assert result.exit_code == 0
    assert reports["test-portal"] == {"client_id": "test-portal", "file": str(tmp_path / "p.toml"),
                                      "result": "updated", "fields": ["backchannel_logout_uri", "name", "trusted"]}
    client = get_client(app, "test-portal")
    assert (client.name, client.trusted, client.backchannel_logout_uri) == ("Cổng mới", True,
                                                                           "http://127.0.0.1:8100/bc")


def test_secret_from_env_and_file_references(app: Flask, runner, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "a.toml").write_text(GOOD + 'client_secret = "env:PORTAL_A_SECRET"\n', encoding="utf-8")
    (tmp_path / "secret.txt").write_text("file-secret-0123456789\n", encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({
        "client_id": "portal-b", "name": "B", "redirect_uris": ["http://127.0.0.1:8101/cb"],
        "client_secret": "file:secret.txt"}), encoding="utf-8")
    result, reports = sync(runner, tmp_path, PORTAL_A_SECRET="env-secret-0123456789")
    assert result.exit_code == 0, result.output
    assert "env-secret" not in result.output and "file-secret" not in result.output
    assert all("client_secret" not in r for r in reports.values())
    assert verify_client_secret(get_client(app, "test-portal").client_secret_hash, "env-secret-0123456789")
    assert verify_client_secret(get_client(app, "portal-b").client_secret_hash, "file-secret-0123456789")
    result, reports = sync(runner, tmp_path, PORTAL_A_SECRET="rotated-secret-0123456789")
    assert reports["test-portal"]["fields"] == ["client_secret"]
    assert reports["portal-b"]["result"] == "unchanged"
    assert verify_client_secret(get_client(app, "test-portal").client_secret_hash, "rotated-secret-0123456789")


BAD = [
    ('colour = "blue"\n', "colour", "unknown key"),
    ('client_secret = "s3cr3t-in-the-manifest"\n', "client_secret", "never contains a secret"),
    ('client_secret = "env:NOT_SET_ANYWHERE_42"\n', "client_secret", "NOT_SET_ANYWHERE_42 is not set"),
    ('client_secret = "file:missing.txt"\n', "client_secret", "cannot read"),
    ("trusted = \"yes\"\n", "trusted", "true or false"),
    ('token_endpoint_auth_method = "tls_client_auth"\n', "token_endpoint_auth_method", "must be one of"),
    ('token_endpoint_auth_method = "private_key_jwt"\n', "jwks_uri", "required with"),
    ('jwks_uri = "http://portal.example.vn/jwks"\n', "jwks_uri", "https"),
    ('minimum_acr = "urn:vn:gov:sso:loa:extreme"\n', "minimum_acr", "must be one of"),
    ('default_acr = "high"\n', "default_acr", "must be one of"),
    ('id_token_signed_response_alg = "none"\n', "id_token_signed_response_alg", "must be one of"),
    ('backchannel_logout_uri = "http://portal.example.vn/bc"\n', "backchannel_logout_uri", "https"),
    ('frontchannel_logout_uri = "javascript:alert(1)"\n', "frontchannel_logout_uri", "absolute"),
]


@pytest.mark.parametrize(("extra", "key", "message"), BAD)
def test_bad_manifest_exits_2_naming_file_and_key_and_changes_nothing(app: Flask, runner, tmp_path: Path, extra: str,
                                                                       key: str, message: str) -> None:  # noqa: ANN001
    (tmp_path / "a-good.toml").write_text(GOOD.replace("test-portal", "good-portal"), encoding="utf-8")
    (tmp_path / "b-bad.toml").write_text(GOOD + extra, encoding="utf-8")
    result, _ = sync(runner, tmp_path)
    assert result.exit_code == 2
    assert f"b-bad.toml: {key}: " in result.stderr and message in result.stderr
    assert client_count(app) == 0  # the valid manifest beside it was not applied either


@pytest.mark.parametrize(("text", "key", "message"), [
    (GOOD.replace('redirect_uris = ["http://127.0.0.1:8100/callback"]', 'redirect_uris = ["https://a.vn/cb#x"]'),
     "redirect_uris", "fragment"),
    (GOOD.replace('redirect_uris = ["http://127.0.0.1:8100/callback"]', 'redirect_uris = ["https://*.a.vn/cb"]'),
     "redirect_uris", "wildcard"),
    (GOOD.replace('redirect_uris = ["http://127.0.0.1:8100/callback"]', 'redirect_uris = ["http://a.vn/cb"]'),
     "redirect_uris", "https"),
    (GOOD.replace('redirect_uris = ["http://127.0.0.1:8100/callback"]', "redirect_uris = []"), "redirect_uris",
     "required"),
    (GOOD.replace('scopes = ["openid", "profile"]', 'scopes = ["openid", "admin"]'), "scopes", "unknown scope"),
    (GOOD.replace('scopes = ["openid", "profile"]', 'scopes = ["profile"]'), "scopes", "openid"),
    (GOOD.replace('client_id = "test-portal"', 'client_id = "bad id/../x"'), "client_id", "letters"),
    (GOOD.replace('client_id = "test-portal"\n', ""), "client_id", "required"),
    (GOOD.replace('name = "Cổng thử"', "name = 42"), "name", "string"),
    ("client_id = [", None, "cannot parse"),
])
def test_invalid_values(app: Flask, runner, tmp_path: Path, text: str, key: str | None,  # noqa: ANN001
                        message: str) -> None:
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    result, _ = sync(runner, tmp_path)
    assert result.exit_code == 2
    assert f"p.toml: {key + ': ' if key else ''}" in result.stderr and message in result.stderr
    assert client_count(app) == 0


def test_duplicate_client_id_and_empty_folder(app: Flask, runner, tmp_path: Path) -> None:  # noqa: ANN001
    empty = tmp_path / "empty"
    empty.mkdir()
    result, _ = sync(runner, empty)
    assert result.exit_code == 2 and "no manifests" in result.stderr
    (tmp_path / "a.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.toml").write_text(GOOD, encoding="utf-8")
    result, _ = sync(runner, tmp_path)
    assert result.exit_code == 2 and "b.toml: client_id: test-portal is also in" in result.stderr
    assert sync(runner, tmp_path / "missing")[0].exit_code == 2


@pytest.mark.parametrize(("change", "key"), [
    (("public_subject = true\n", ""), "public_subject"),
    (("", 'redirect_uris = ["http://localhost:8100/callback"]'), "redirect_uris"),
])
def test_changes_that_would_change_every_sub_are_refused(app: Flask, runner, tmp_path: Path, change: tuple,
                                                          key: str) -> None:  # noqa: ANN001
    """OIDC Core §8.1: the pairwise `sub` depends on the sector; a sync must not silently change it."""
    (tmp_path / "p.toml").write_text(GOOD, encoding="utf-8")
    sync(runner, tmp_path)
    text = GOOD + change[0]
    if change[1]:
        text = text.replace('redirect_uris = ["http://127.0.0.1:8100/callback"]', change[1])
    (tmp_path / "p.toml").write_text(text.replace("Cổng thử", "Đổi tên"), encoding="utf-8")
    result, _ = sync(runner, tmp_path)
    assert result.exit_code == 2 and f"p.toml: {key}: " in result.stderr
    assert get_client(app, "test-portal").name == "Cổng thử"  # the rename was rolled back too


def test_switching_to_a_public_client_drops_the_secret(app: Flask, runner, tmp_path: Path) -> None:  # noqa: ANN001
    (tmp_path / "p.toml").write_text(GOOD, encoding="utf-8")
    assert "client_secret" in sync(runner, tmp_path)[1]["test-portal"]
    (tmp_path / "p.toml").write_text(GOOD + 'token_endpoint_auth_method = "none"\n', encoding="utf-8")
    reports = sync(runner, tmp_path)[1]
    assert reports["test-portal"]["fields"] == ["client_secret", "token_endpoint_auth_method"]
    client = get_client(app, "test-portal")
    assert client.client_secret_hash is None and "client_credentials" not in client.grant_types
    (tmp_path / "p.toml").write_text(GOOD, encoding="utf-8")
    reports = sync(runner, tmp_path)[1]
    assert reports["test-portal"]["client_secret"]  # a new secret, shown this once
    shutil.rmtree(tmp_path)
