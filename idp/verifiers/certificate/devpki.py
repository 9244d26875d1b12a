"""A development test CA: a root, an issuing CA, one demo citizen certificate and a signing script.

    python -m idp.verifiers.certificate.devpki instance/devpki

writes into the directory: root-ca.pem, issuing-ca.pem, citizen.pem, citizen.key (unencrypted,
mode 0600), chain.pem (issuing CA) and sign.py (signs a login challenge with citizen.key). The
setting `development_pki = "<directory>"` trusts this root, only while the sandbox is on; it also
writes the directory when it is missing. None of this is fit for production: the keys are on disk
and no revocation information is published.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

ROOT_FILE = "root-ca.pem"
ISSUING_FILE = "issuing-ca.pem"
CITIZEN_FILE = "citizen.pem"
CITIZEN_KEY_FILE = "citizen.key"
CHAIN_FILE = "chain.pem"
SIGN_SCRIPT = "sign.py"
DEMO_PERSONAL_ID = "001099000001"  # Hà Nội (001), male born 1999: a syntactically valid test number
DEMO_NAME = "Nguyễn Văn Thử Nghiệm"

SIGN_PY = '''#!/usr/bin/env python3
"""Sign a login challenge with the development citizen certificate (development only).

    python sign.py "Login to http://127.0.0.1:5000 at ... nonce ..."

prints the Base64 signature; paste it, with citizen.pem and chain.pem, into the login form.
"""
import base64
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

here = Path(__file__).resolve().parent
key = serialization.load_pem_private_key((here / "citizen.key").read_bytes(), password=None)
text = sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read().rstrip("\\r\\n")
print(base64.b64encode(key.sign(text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))).decode("ascii"))
'''


def write(directory: Path, now: datetime | None = None) -> None:
    """Write a fresh development PKI into `directory` (created if needed)."""
    now = now or datetime.now(UTC)
    directory.mkdir(parents=True, exist_ok=True)
    root_key, issuing_key, citizen_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root_name = _name("Development Root CA - NOT FOR PRODUCTION")
    issuing_name = _name("Development Issuing CA - NOT FOR PRODUCTION")
    root = _ca(root_name, root_name, root_key, root_key, now, timedelta(days=3650), None)
    issuing = _ca(issuing_name, root_name, issuing_key, root_key, now, timedelta(days=1825), 0)
    citizen_subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Hà Nội"),
        x509.NameAttribute(NameOID.USER_ID, f"CCCD:{DEMO_PERSONAL_ID}"),
        x509.NameAttribute(NameOID.COMMON_NAME, DEMO_NAME),
    ])
    citizen = (x509.CertificateBuilder().subject_name(citizen_subject).issuer_name(issuing_name)
               .public_key(citizen_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=730))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                     ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(citizen_key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing_key.public_key()),
                              critical=False)
               .sign(issuing_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (directory / ROOT_FILE).write_bytes(root.public_bytes(pem))
    (directory / ISSUING_FILE).write_bytes(issuing.public_bytes(pem))
    (directory / CHAIN_FILE).write_bytes(issuing.public_bytes(pem))
    (directory / CITIZEN_FILE).write_bytes(citizen.public_bytes(pem))
    key_path = directory / CITIZEN_KEY_FILE
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(citizen_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    (directory / SIGN_SCRIPT).write_text(SIGN_PY, encoding="utf-8")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Development only"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(**granted: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                           "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
    flags.update(granted)
    return x509.KeyUsage(**flags)


def _ca(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, signer: ec.EllipticCurvePrivateKey,
        now: datetime, lifetime: timedelta, path_length: int | None) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + lifetime)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if signer is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                                        critical=False)
    return builder.sign(signer, hashes.SHA256())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m idp.verifiers.certificate.devpki <directory>", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    write(directory)
    print(f"Development test CA written to {directory} (development only). Trust it with\n"
          f'  development_pki = "{directory}"\nunder [verifiers.<id>], then sign a challenge with\n'
          f'  python {directory / SIGN_SCRIPT} "<text to sign>"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
