"""Settings of the certificate source: every bad key stops start-up with a ConfigError naming it,
anchors are validated at start-up, and the development test CA is refused outside development."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from idp import create_app
from idp.errors import ConfigError
from idp.verifiers.base import Services
from idp.verifiers.certificate import create
from idp.verifiers.certificate import devpki
from idp.verifiers.conformance import Harness
from tests.conftest import base_settings
from tests.verifiers.pki import key_usage
from tests.verifiers.pki import make_ca
from tests.verifiers.pki import make_leaf
from tests.verifiers.pki import name
from tests.verifiers.pki import now


@pytest.fixture(scope="module")
def root():
    return make_ca("Config Root")


def production() -> Services:
    return Services(hit=lambda key, limit: True, now=lambda: datetime.now(UTC), outbox=lambda *a: None, sandbox=False)


def config_error(settings: dict[str, Any], services: Services | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        create("cert", settings, services or Harness().services)
    assert info.value.message  # a sentence a person can act on
    return info.value.code


def anchor(root, **extra: Any) -> dict[str, Any]:
    return {"pem": root.pem, "kind": "public", **extra}


@pytest.mark.parametrize(("settings", "key"), [
    ({}, "verifiers.cert.anchors"),
    ({"anchors": "ca.pem"}, "verifiers.cert.anchors"),
    ({"anchors": []}, "verifiers.cert.anchors"),
    ({"anchors": ["ca.pem"]}, "verifiers.cert.anchors"),
])
def test_anchors_are_required(settings, key):
    assert config_error(settings) == key


@pytest.mark.parametrize(("settings", "key"), [
    ({"colour": "red"}, "verifiers.cert.colour"),
    ({"names": "Chứng thư"}, "verifiers.cert.names"),
    ({"names": {"vi": ""}}, "verifiers.cert.names"),
    ({"challenge_ttl": 30}, "verifiers.cert.challenge_ttl"),
    ({"challenge_ttl": "300"}, "verifiers.cert.challenge_ttl"),
    ({"challenge_ttl": True}, "verifiers.cert.challenge_ttl"),
    ({"client_cert_header": "X SSL Cert"}, "verifiers.cert.client_cert_header"),
    ({"client_cert_header": ""}, "verifiers.cert.client_cert_header"),
    ({"trusted_proxies": "10.0.0.1"}, "verifiers.cert.trusted_proxies"),
    ({"trusted_proxies": ["10.0.0.0/33"]}, "verifiers.cert.trusted_proxies"),
    ({"trusted_proxies": ["proxy.local"]}, "verifiers.cert.trusted_proxies"),
    ({"revocation_timeout": 0}, "verifiers.cert.revocation_timeout"),
    ({"revocation_timeout": 120}, "verifiers.cert.revocation_timeout"),
    ({"crl_max_bytes": 10}, "verifiers.cert.crl_max_bytes"),
])
def test_bad_instance_settings_name_the_key(root, settings, key):
    assert config_error({"anchors": [anchor(root)], **settings}) == key


@pytest.mark.parametrize(("extra", "key"), [
    ({"colour": "red"}, "verifiers.cert.anchors[0].colour"),
    ({"kind": "private"}, "verifiers.cert.anchors[0].kind"),
    ({"kind": None}, "verifiers.cert.anchors[0].kind"),
    ({"file": "/etc/ca.pem"}, "verifiers.cert.anchors[0].file"),  # both file and pem
    ({"level": "extreme"}, "verifiers.cert.anchors[0].level"),
    ({"level": "none"}, "verifiers.cert.anchors[0].level"),
    ({"level": 2}, "verifiers.cert.anchors[0].level"),
    ({"revocation": "maybe"}, "verifiers.cert.anchors[0].revocation"),
    ({"ocsp": "ldap://ldap.ca.vn/ocsp"}, "verifiers.cert.anchors[0].ocsp"),
    ({"ocsp": 5}, "verifiers.cert.anchors[0].ocsp"),
    ({"crl_urls": ["ldap://ldap.ca.vn/crl"]}, "verifiers.cert.anchors[0].crl_urls"),
    ({"crl_urls": "http://ca.vn/crl"}, "verifiers.cert.anchors[0].crl_urls"),
    ({"in_person_policy_oids": ["not.an.oid"]}, "verifiers.cert.anchors[0].in_person_policy_oids"),
    ({"hardware_key_policy_oids": "1.2.3"}, "verifiers.cert.anchors[0].hardware_key_policy_oids"),
    ({"software_key_policy_oids": [1, 2]}, "verifiers.cert.anchors[0].software_key_policy_oids"),
    ({"extended_key_usages": []}, "verifiers.cert.anchors[0].extended_key_usages"),
    ({"extended_key_usages": ["client_authentication"]}, "verifiers.cert.anchors[0].extended_key_usages"),
    ({"intermediates": "ca.pem"}, "verifiers.cert.anchors[0].intermediates"),
    ({"intermediates": [5]}, "verifiers.cert.anchors[0].intermediates[0]"),
    ({"intermediates": ["/nonexistent/ca.pem"]}, "verifiers.cert.anchors[0].intermediates[0]"),
    ({"name": ""}, "verifiers.cert.anchors[0].name"),
])
def test_bad_anchor_settings_name_the_key(root, extra, key):
    assert config_error({"anchors": [anchor(root, **extra)]}) == key


def test_a_government_anchor_always_hard_fails(root):
    assert config_error({"anchors": [anchor(root), anchor(root, kind="government", revocation="soft")]}) == \
        "verifiers.cert.anchors[1].revocation"


def test_revocation_off_is_refused_in_production(root):
    assert config_error({"anchors": [anchor(root, revocation="off")]}, production()) == \
        "verifiers.cert.anchors[0].revocation"


@pytest.mark.parametrize("case", ["missing", "not_pem", "empty", "two", "leaf", "no_cert_sign", "expired", "future"])
def test_unusable_anchor_files_are_refused_at_start_up(root, tmp_path: Path, case):
    """Anchors are checked at start-up: readable, one CA certificate that may sign, valid now."""
    path = tmp_path / "anchor.pem"
    contents = {
        "not_pem": lambda: "hello", "empty": lambda: "", "two": lambda: root.pem + make_ca("Other").pem,
        "leaf": lambda: make_leaf(root, name("Not a CA")).pem,
        "no_cert_sign": lambda: make_ca("No keyCertSign", usage=key_usage(digital_signature=True)).pem,
        "expired": lambda: make_ca("Old", not_before=now() - timedelta(days=20),
                                   not_after=now() - timedelta(days=1)).pem,
        "future": lambda: make_ca("New", not_before=now() + timedelta(days=1)).pem,
    }
    if case != "missing":
        path.write_text(contents[case]())
    assert config_error({"anchors": [{"file": str(path), "kind": "public"}]}) == "verifiers.cert.anchors[0].file"


def test_a_configured_intermediate_must_be_a_ca(root):
    leaf = make_leaf(root, name("Not a CA"))
    assert config_error({"anchors": [anchor(root, intermediates=[leaf.pem])]}) == \
        "verifiers.cert.anchors[0].intermediates[0]"


def test_anchor_from_a_file_and_intermediates_inline(root, tmp_path: Path):
    path = tmp_path / "root.pem"
    path.write_text(root.pem)
    intermediate = make_ca("Config Issuing", root, path_length=0)
    verifier = create("cert", {"anchors": [{"file": str(path), "kind": "public",
                                            "intermediates": [intermediate.pem]}]}, Harness().services)
    assert verifier.info.kind == "certificate" and verifier.headers == ()


def test_bad_settings_stop_the_application(database_url, keys_dir, root):
    """The registry builds the source at start-up: the provider refuses to start, naming the key."""
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, verifiers={
            "certificate": {"kind": "certificate", "anchors": [anchor(root, kind="x")]}}))
    assert info.value.code == "verifiers.certificate.anchors[0].kind"


# --- the development test CA -----------------------------------------------------------------------
def test_development_pki_is_refused_outside_development(tmp_path: Path):
    assert config_error({"development_pki": str(tmp_path / "devpki")}, production()) == "verifiers.cert.development_pki"
    assert not (tmp_path / "devpki").exists()


def test_development_pki_must_name_a_directory():
    assert config_error({"development_pki": ""}) == "verifiers.cert.development_pki"


def test_development_pki_is_written_when_missing_and_its_script_signs(tmp_path: Path):
    from idp.verifiers.certificate.challenge import decode_signature
    from idp.verifiers.certificate.challenge import is_valid_signature
    from idp.verifiers.certificate.pem import load_certificate

    directory = tmp_path / "devpki"
    verifier = create("cert", {"development_pki": str(directory)}, Harness().services)
    assert verifier.info.max_level.name == "SUBSTANTIAL"
    for file in (devpki.ROOT_FILE, devpki.ISSUING_FILE, devpki.CITIZEN_FILE, devpki.CHAIN_FILE, devpki.SIGN_SCRIPT):
        assert (directory / file).is_file()
    assert (directory / devpki.CITIZEN_KEY_FILE).stat().st_mode & 0o077 == 0
    text = "Login to http://localhost at 2030-01-01T00:00:00Z nonce abc"
    signed = subprocess.run([sys.executable, str(directory / devpki.SIGN_SCRIPT), text], capture_output=True,
                            text=True, check=True).stdout.strip()
    certificate = load_certificate((directory / devpki.CITIZEN_FILE).read_text())
    assert is_valid_signature(certificate.public_key(), decode_signature(signed), text.encode())


def test_devpki_module_writes_a_directory(tmp_path: Path):
    directory = tmp_path / "made"
    done = subprocess.run([sys.executable, "-m", "idp.verifiers.certificate.devpki", str(directory)],
                          capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2])
    assert "development only" in done.stdout and (directory / devpki.ROOT_FILE).is_file()
    usage = subprocess.run([sys.executable, "-m", "idp.verifiers.certificate.devpki"], capture_output=True,
                           text=True, cwd=Path(__file__).resolve().parents[2])
    assert usage.returncode == 2


def test_expired_development_pki_asks_to_make_a_new_one(tmp_path: Path):
    directory = tmp_path / "old"
    devpki.write(directory, now() - timedelta(days=3700))  # the root lived 10 years
    assert config_error({"development_pki": str(directory)}) == "verifiers.cert.development_pki"
