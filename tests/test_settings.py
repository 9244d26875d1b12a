"""Settings: loading order, secrets from env:/file:, validation and production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.errors import ConfigError
from idp.settings import load_settings

PRODUCTION = {
    "env": "production", "issuer": "https://sso.example.vn", "secret_key": "s" * 40, "subject_secret": "p" * 40,
    "database_url": "postgresql+psycopg://idp@db/idp", "keys": {"passphrase": "k" * 20},
    "features": {"sandbox": False}, "redis_url": "redis://cache:6379/0",
}


def test_defaults_are_development():
    settings = load_settings({})
    assert settings.env == "development" and settings.issuer == "http://127.0.0.1:5000"
    assert settings.database_url == "sqlite:///idp.db"


def test_order_file_then_env_then_overrides(tmp_path: Path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('issuer = "http://127.0.0.1:7000"\n[oidc]\naccess_token_ttl = 120\n')
    monkeypatch.setenv("IDP_CONFIG", str(config))
    assert load_settings({}).issuer == "http://127.0.0.1:7000"
    monkeypatch.setenv("IDP_ISSUER", "http://127.0.0.1:8000")
    monkeypatch.setenv("IDP_OIDC__ACCESS_TOKEN_TTL", "90")
    settings = load_settings({})
    assert settings.issuer == "http://127.0.0.1:8000" and settings.oidc.access_token_ttl == 90
    assert load_settings({"issuer": "http://127.0.0.1:9000"}).issuer == "http://127.0.0.1:9000"


def test_env_and_file_secrets_are_resolved_and_masked(tmp_path: Path, monkeypatch):
    secret_file = tmp_path / "subject"
    secret_file.write_text("from-a-file-" + "x" * 30 + "\n")
    monkeypatch.setenv("MY_SECRET", "from-env-" + "y" * 30)
    settings = load_settings({"secret_key": "env:MY_SECRET", "subject_secret": f"file:{secret_file}"})
    assert settings.secret_key.startswith("from-env-") and settings.subject_secret.startswith("from-a-file-")
    assert "from-env" not in repr(settings) and "from-a-file" not in repr(settings)


@pytest.mark.parametrize(("change", "key"), [
    ({"secret_key": ""}, "secret_key"),
    ({"issuer": "http://sso.example.vn"}, "issuer"),
    ({"keys": {"passphrase": ""}}, "keys.passphrase"),
    ({"features": {"sandbox": True}}, "features.sandbox"),
    ({"database_url": "sqlite:///x.db"}, "database_url"),
    ({"subject_secret": "short"}, "subject_secret"),
    ({"redis_url": ""}, "redis_url"),
])
def test_production_refuses_insecure_settings(change: dict, key: str):
    load_settings(PRODUCTION)  # the baseline is acceptable
    with pytest.raises(ConfigError) as info:
        load_settings({**PRODUCTION, **change})
    assert info.value.code == key


@pytest.mark.parametrize(("overrides", "key"), [
    ({"nonsense": 1}, "nonsense"),
    ({"oidc": {"access_token_ttl": "soon"}}, "oidc.access_token_ttl"),
    ({"oidc": {"code_ttl": 600}}, "oidc.code_ttl"),
    ({"oidc": {"id_token_alg": "HS256"}}, "oidc.id_token_alg"),
    ({"env": "staging"}, "env"),
    ({"issuer": "https://sso.example.vn/"}, "issuer"),
    ({"features": {"unknown_flag": True}}, "features.unknown_flag"),
])
def test_bad_settings_name_the_key(overrides: dict, key: str):
    with pytest.raises(ConfigError) as info:
        load_settings(overrides)
    assert info.value.code == key


def test_missing_env_secret_names_the_key(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError) as info:
        load_settings({"secret_key": "env:NOT_SET_ANYWHERE"})
    assert info.value.code == "secret_key"


def test_shipped_config_files_load(tmp_path: Path, monkeypatch):
    """config/default.toml and config/production.example.toml are valid as shipped."""
    root = Path(__file__).resolve().parent.parent / "config"
    monkeypatch.setenv("IDP_CONFIG", str(root / "default.toml"))
    assert load_settings({}).env == "development"
    subject = tmp_path / "subject"
    subject.write_text("s" * 40)
    text = (root / "production.example.toml").read_text().replace("/run/secrets/idp-subject-secret", str(subject))
    (tmp_path / "vneid.pem").write_text("not read by load_settings as a key")
    text = text.replace("/run/secrets/vneid-client.pem", str(tmp_path / "vneid.pem"))
    production = tmp_path / "production.toml"
    production.write_text(text)
    for name, value in {"IDP_DATABASE_URL": "postgresql+psycopg://idp@db/idp", "IDP_REDIS_URL": "redis://cache",
                        "IDP_SECRET_KEY": "k" * 40, "IDP_KEYS_PASSPHRASE": "p" * 20,
                        "IDP_TELECOM_HMAC_KEY": "h" * 40, "IDP_VIETTEL_KEY": "v" * 32, "IDP_SMS_KEY": "s" * 32}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IDP_CONFIG", str(production))
    settings = load_settings({})
    assert settings.is_production and settings.proxy_hops == 1 and "k" * 40 not in repr(settings)



def test_a_variable_named_by_an_env_secret_is_not_a_setting(tmp_path: Path, monkeypatch):
    """IDP_VIETTEL_KEY referenced as `env:IDP_VIETTEL_KEY` is a secret's value, not an unknown setting;
    an IDP_ variable nobody refers to still is one."""
    config = tmp_path / "idp.toml"
    config.write_text('[verifiers.x]\nkind = "mock"\napi_key = "env:IDP_VIETTEL_KEY"\n')
    monkeypatch.setenv("IDP_CONFIG", str(config))
    monkeypatch.setenv("IDP_VIETTEL_KEY", "secret-value")
    assert str(load_settings({}).verifiers["x"]["api_key"]) == "secret-value"
    monkeypatch.setenv("IDP_NOBODY_KNOWS", "1")
    with pytest.raises(ConfigError) as info:
        load_settings({})
    assert info.value.code == "nobody_knows"


def test_production_example_builds_its_identity_sources(tmp_path: Path, monkeypatch):
    """Every [verifiers.*] table of config/production.example.toml builds with sandboxes refused."""
    from datetime import UTC
    from datetime import datetime

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from idp.verifiers.base import Services
    from idp.verifiers.registry import build_verifiers
    from tests.verifiers.pki import make_ca

    root = Path(__file__).resolve().parent.parent / "config"
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    text = (root / "production.example.toml").read_text()
    for path in ("/etc/idp/ca/rootca-public.pem", "/etc/idp/ca/bcy-root.pem"):
        anchor = tmp_path / Path(path).name
        anchor.write_text(make_ca(anchor.stem).pem)
        text = text.replace(path, str(anchor))
    (tmp_path / "vneid.pem").write_text(key)
    text = text.replace("/run/secrets/vneid-client.pem", str(tmp_path / "vneid.pem"))
    for name, value in {"IDP_TELECOM_HMAC_KEY": "h" * 40, "IDP_VIETTEL_KEY": "v" * 32, "IDP_SMS_KEY": "s" * 32}.items():
        monkeypatch.setenv(name, value)
    production = tmp_path / "production.toml"
    production.write_text(text)
    monkeypatch.setenv("IDP_CONFIG", str(production))
    settings = load_settings({"database_url": "postgresql+psycopg://idp@db/idp", "secret_key": "k" * 40,
                              "redis_url": "redis://cache", "subject_secret": "s" * 40,
                              "keys": {"passphrase": "p" * 20}})
    assert set(settings.verifiers) == {"vneid", "viettel", "certificate", "vnpost", "vnpost_letter"}
    services = Services(hit=lambda key, limit: True, now=lambda: datetime.now(UTC), outbox=lambda *message: None,
                        sandbox=False)
    built = build_verifiers(settings.verifiers, services, settings.env)
    assert {v.info.kind for v in built.values()} == {"vneid", "telecom", "certificate", "postal_counter",
                                                      "postal_letter"}
