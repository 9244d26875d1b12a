"""Reading the national identifier, name and organisation from a certificate subject, as Vietnamese
CAs write them (idp/verifiers/certificate/identity.py lists the accepted forms)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from idp.errors import VerificationFailed
from idp.identifiers import is_tax_code
from idp.verifiers.certificate.identity import read_identity
from tests.verifiers.pki import name

PERSON = "001090012345"
COMPANY = "0100109106"  # check digit 6: 10 - (0*31+1*29+0*23+0*19+1*17+0*13+9*7+1*5+0*3) % 11


@pytest.mark.parametrize("subject", [
    name("Nguyễn Văn An", uid=[f"CCCD:{PERSON}"]),
    name("Nguyễn Văn An", uid=[f"CMND:{PERSON}"]),  # some CMND numbers already had 12 digits
    name("Nguyễn Văn An", uid=[f"cccd : {PERSON}"]),
    name("Nguyễn Văn An", serial=f"CCCD:{PERSON}"),
    name("Nguyễn Văn An", serial=f"IDCVN-{PERSON}"),  # ETSI EN 319 412-1 §5.1.3
    name("Nguyễn Văn An", serial=f"PNOVN-{PERSON}"),
    name(f"Nguyễn Văn An - CCCD:{PERSON}"),
    name("Nguyễn Văn An", uid=[f"MST:{COMPANY}-199", f"CCCD:{PERSON}"], o="MobiFone IT"),  # employee certificate
])
def test_personal_id_forms(subject):
    identity = read_identity(subject)
    assert identity.personal_id == PERSON and identity.tax_code is None
    assert identity.full_name == "Nguyễn Văn An"


@pytest.mark.parametrize(("value", "expected"), [
    (f"MST:{COMPANY}", COMPANY), (f"MST:{COMPANY}-001", f"{COMPANY}-001"), (f"TINVN-{COMPANY}", COMPANY),
    (f"VATVN-{COMPANY}", COMPANY), (f"MST:{PERSON}", PERSON),
])
def test_tax_code_forms(value, expected):
    identity = read_identity(name("CÔNG TY CỔ PHẦN A", uid=[value], o="CÔNG TY CỔ PHẦN A"))
    assert identity.tax_code == expected and identity.personal_id is None
    assert identity.organization == "CÔNG TY CỔ PHẦN A"


@pytest.mark.parametrize("subject", [
    name("Nguyễn Văn An"),
    name("Nguyễn Văn An", uid=["CMND:123456789"]),  # 9-digit identity card: not a personal ID number
    name("Nguyễn Văn An", uid=[PERSON]),  # no prefix: CAs also write their customer numbers there
    name("Nguyễn Văn An", uid=["HC:B1234567"]),
    name("Sở Y tế", uid=["MNS:1047665"]),  # budget-unit code, not a tax code
    name("Công ty", uid=["MST:0100109107"]),  # wrong check digit
    name("Công ty", uid=["MST:0100109106-000"]),
    name("Công ty", uid=["MST:0100109106-"]),
    name("Công ty", uid=["MST:0100109106", "MST:0100233488"]),  # two different companies
    name("Nguyễn Văn An", uid=[f"CCCD:{PERSON}", "CCCD:001090054321"]),
    name("Nguyễn Văn An", uid=[f"CCCD:{PERSON}9"]),
    name("Nguyễn Văn An", uid=["CCCD:٠٠١٠٩٠٠١٢٣٤٥"]),  # Arabic-Indic digits are not ASCII digits
])
def test_no_usable_identifier(subject):
    with pytest.raises(VerificationFailed) as info:
        read_identity(subject)
    assert info.value.code == "no_identifier"


@pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")
def test_name_and_organisation_are_cleaned_and_bounded():
    subject = x509.Name([x509.NameAttribute(NameOID.USER_ID, f"CCCD:{PERSON}"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "  Trần   Thị  Bích  "),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Vụ Pháp chế")])
    identity = read_identity(subject)
    assert identity.full_name == "Trần Thị Bích" and identity.organization == "Vụ Pháp chế"
    assert PERSON not in repr(identity)
    # A hostile certificate may exceed the X.520 upper bound of 64 characters.
    long = read_identity(x509.Name([x509.NameAttribute(NameOID.USER_ID, f"CCCD:{PERSON}"),
                                    x509.NameAttribute(NameOID.COMMON_NAME, "A" * 500, _validate=False)]))
    assert len(long.full_name) == 200


@pytest.mark.parametrize(("value", "valid"), [
    ("0100109106", True), ("0100233488", True), ("0314409058-002", True), (PERSON, True),
    ("0100109105", False), ("010010910", False), ("0100109106-01", False), ("0100109106-000", False),
    ("01001091060", False), ("０１００１０９１０６", False), ("", False),
])
def test_tax_code_syntax(value, valid):
    assert is_tax_code(value) is valid
