"""Settings of the vneid kind: every bad key stops start-up with ConfigError naming it (STYLE.md §1,
"fail at start-up"), and a sandbox upstream is refused in production."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.asymmetric import rsa

from idp import create_app
from idp.errors import ConfigError
from idp.verifiers.base import Interaction
from idp.verifiers.base import Level
from idp.verifiers.base import Services
from idp.verifiers.conformance import Harness
from idp.verifiers.registry import build_verifiers
from idp.verifiers.vneid import create
from tests.conftest import base_settings
from tests.conftest import dispose

GOOD = {"issuer": "https://sso.vneid.gov.vn", "client_id": "national-sso", "client_secret": "s3cret"}
EC_PEM = ec.generate_private_key(ec.SECP256R1()).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
WEAK_RSA_PEM = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
JWT = {"client_auth": "private_key_jwt", "client_secret": None, "private_key": EC_PEM}


def production() -> Services:
    return Services(hit=lambda key, limit: True, now=lambda: datetime.now(UTC), outbox=lambda *a: None, sandbox=False)


def build(services: Services | None = None, **changes: Any):  # noqa: ANN201
    settings = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    return create("vneid", settings, services or Harness().services)


def test_good_settings_build_a_redirect_source_with_defaults():
    verifier = build(services=production())
    assert verifier.info.kind == "vneid" and verifier.info.interaction == Interaction.REDIRECT
    assert verifier.info.max_level == Level.HIGH and "personal_id" in verifier.info.attributes
    cfg = verifier.config
    assert cfg.client_auth == "client_secret_basic" and cfg.scope == "openid profile" and cfg.discovery
    assert dict(cfg.level_map) == {"1": Level.SUBSTANTIAL, "2": Level.HIGH} and cfg.amr == "vneid"
    assert cfg.timeout == 5 and "pwd" not in cfg.amr_passthrough and "none" not in cfg.id_token_algs
    assert "s3cret" not in repr(verifier) + repr(cfg)


@pytest.mark.parametrize(("changes", "key"), [
    ({"colour": "red"}, "colour"),
    ({"issuer": None}, "issuer"),
    ({"issuer": ""}, "issuer"),
    ({"issuer": 42}, "issuer"),
    ({"issuer": "sso.vneid.gov.vn"}, "issuer"),
    ({"issuer": "http://sso.vneid.gov.vn"}, "issuer"),  # plain http outside sandbox and loopback
    ({"issuer": "https://sso.vneid.gov.vn?x=1"}, "issuer"),
    ({"issuer": "https://user:pw@sso.vneid.gov.vn"}, "issuer"),
    ({"client_id": None}, "client_id"),
    ({"client_secret": None}, "client_secret"),
    ({"client_auth": "tls_client_auth"}, "client_auth"),
    ({"private_key": EC_PEM}, "private_key"),  # only with private_key_jwt
    ({**JWT, "private_key": None}, "private_key"),
    ({**JWT, "private_key": "/nonexistent/key.pem"}, "private_key"),
    ({**JWT, "private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"}, "private_key"),
    ({**JWT, "private_key": WEAK_RSA_PEM}, "private_key"),
    ({**JWT, "client_secret": "s3cret"}, "client_secret"),
    ({**JWT, "client_assertion_alg": "RS256"}, "client_assertion_alg"),
    ({"scope": "profile"}, "scope"),
    ({"discovery": "yes"}, "discovery"),
    ({"discovery": False}, "authorization_endpoint"),
    ({"discovery": False, "authorization_endpoint": "https://a.example/auth"}, "token_endpoint"),
    ({"discovery": False, "authorization_endpoint": "https://a.example/auth", "token_endpoint": "https://a/t"},
     "jwks_uri"),
    ({"discovery": False, "userinfo": True, "authorization_endpoint": "https://a/x", "token_endpoint": "https://a/t",
      "jwks_uri": "https://a/j"}, "userinfo_endpoint"),
    ({"token_endpoint": "http://evil.example/token"}, "token_endpoint"),
    ({"jwks_uri": "ftp://a/jwks"}, "jwks_uri"),
    ({"claims": {"phone": "phone_number"}}, "claims.phone"),
    ({"claims": {"personal_id": ""}}, "claims.personal_id"),
    ({"claims": {"level": ""}}, "claims.level"),
    ({"claims": "name"}, "claims"),
    ({"level_map": {}}, "level_map"),
    ({"level_map": {"1": "extreme"}}, "level_map.1"),
    ({"level_map": {"1": 2}}, "level_map"),
    ({"max_level": "ultra"}, "max_level"),
    ({"amr": "vn eid"}, "amr"),
    ({"amr_passthrough": ["pwd", "retina-scan"]}, "amr_passthrough"),
    ({"amr_passthrough": "otp"}, "amr_passthrough"),
    ({"id_token_algs": ["HS256"]}, "id_token_algs"),
    ({"id_token_algs": ["none"]}, "id_token_algs"),
    ({"id_token_algs": []}, "id_token_algs"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 120}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"cache_ttl": 5}, "cache_ttl"),
    ({"leeway": 3600}, "leeway"),
    ({"sandbox": "true"}, "sandbox"),
    ({"userinfo": 1}, "userinfo"),
    ({"report_vn_eid_level": "no"}, "report_vn_eid_level"),
    ({"names": {"fr": "VNeID"}}, "names"),
    ({"require_iss": "always"}, "require_iss"),
    ({"authorize_params": {"redirect_uri": "https://evil.example"}}, "authorize_params.redirect_uri"),
    ({"authorize_params": {"prompt": 1}}, "authorize_params"),
])
def test_each_bad_setting_is_named(changes, key):
    with pytest.raises(ConfigError) as info:
        build(**changes)
    assert info.value.code == f"verifiers.vneid.{key}", info.value.message
    assert f"verifiers.vneid.{key}" in info.value.message


def test_sandbox_is_refused_in_production():
    """docs/verifiers.md: sandbox stand-ins are refused when services.sandbox is false."""
    with pytest.raises(ConfigError) as info:
        build(services=production(), sandbox=True, issuer="http://127.0.0.1:5001")
    assert info.value.code == "verifiers.vneid.sandbox"
    with pytest.raises(ConfigError) as info:
        build_verifiers({"vneid": {"kind": "vneid", **GOOD, "sandbox": True}}, production(), "production")
    assert info.value.code == "verifiers.vneid.sandbox"


def test_http_is_allowed_for_a_sandbox_or_a_loopback_upstream():
    assert build(issuer="http://sandbox.internal:5001", sandbox=True).config.sandbox
    assert build(services=production(), issuer="http://127.0.0.1:8443").config.issuer == "http://127.0.0.1:8443"


def test_private_key_from_a_file_path(tmp_path: Path):
    path = tmp_path / "client.pem"
    path.write_text(EC_PEM)
    verifier = build(**{**JWT, "private_key": str(path)}, private_key_id="rp-2026")
    assert verifier.config.client_key.kid == "rp-2026" and verifier.config.client_key.alg == "ES256"
    assert "PRIVATE" not in repr(verifier.config.client_key)


def test_key_types_choose_the_client_assertion_alg():
    """RFC 7518 §3.1 / RFC 9864: the algorithm follows the key (Ed25519, not the deprecated EdDSA)."""
    def pem(private: Any) -> str:
        return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()

    assert build(**{**JWT, "private_key": pem(ed25519.Ed25519PrivateKey.generate())}).config.client_key.alg == \
        "Ed25519"
    assert build(**{**JWT, "private_key": pem(ec.generate_private_key(ec.SECP384R1()))}).config.client_key.alg == \
        "ES384"
    rsa_pem = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert build(**{**JWT, "private_key": rsa_pem, "client_assertion_alg": "PS256"}).config.client_key.alg == "PS256"
    with pytest.raises(ConfigError) as info:
        build(**{**JWT, "private_key": pem(ec.generate_private_key(ec.SECP256K1()))})
    assert info.value.code == "verifiers.vneid.private_key"


def test_bad_settings_stop_the_provider_at_start_up(database_url, keys_dir):
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers={"vneid": {"kind": "vneid", **GOOD,
                                                                              "leeway": -1}}))
    assert info.value.code == "verifiers.vneid.leeway"


def test_two_instances_build_from_one_config(database_url, keys_dir):
    """The same kind twice under different ids (docs/sources/vneid.md, a ministry's provider)."""
    app = create_app(base_settings(database_url, keys_dir, verifiers={
        "vneid": {"kind": "vneid", **GOOD},
        "mof": {"kind": "vneid", "issuer": "https://id.mof.gov.vn", "client_id": "sso", "client_secret": "x",
                "level_map": {"loa2": "substantial"}, "claims": {"level": "acr"}, "amr": "mof",
                "names": {"vi": "Bộ Tài chính", "en": "Ministry of Finance"}}}))
    built = app.extensions["idp.verifiers"]
    assert built["vneid"].info.max_level == Level.HIGH and built["mof"].info.max_level == Level.SUBSTANTIAL
    assert built["mof"].config.claims["level"] == "acr" and built["mof"].id == "mof"
    dispose(app)
