"""Who a certificate names: the national identifier, the name and the agency from its subject.

Vietnamese CAs put identifiers in the subject's UID attribute (OID 0.9.2342.19200300.100.1.1),
sometimes in serialNumber (2.5.4.5) or inside the CN, as "<prefix>:<number>". Published
certificates show for example `UID=CCCD:025199009534`, `UID=CMND:079073009568`,
`UID=MST:0100686209-199` and `UID=MNS:1047665` (one subject may carry several, e.g. an employee's
CCCD beside the employer's MST). ETSI EN 319 412-1 §5.1.3 semantics identifiers in serialNumber
(`IDCVN-...`, `PNOVN-...`, `TINVN-...`, `VATVN-...`) are read too. Accepted:

| prefix                           | claim         | format                                          |
|----------------------------------|---------------|-------------------------------------------------|
| CCCD, CMND, ETSI IDCVN-, PNOVN-  | personal_id   | 12 digits (a 9-digit CMND is not a personal ID) |
| MST, ETSI TINVN-, VATVN-         | tax_code      | 10 digits with check digit, 10-3, or 12 digits  |
| MNS (budget-unit code), HC (passport) | —        | recognised, not used: not a national account key |

Values without a prefix are not read: CAs also write their own customer numbers there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from idp.i18n import N_
from idp.identifiers import is_personal_id
from idp.identifiers import is_tax_code
from idp.verifiers.errors import VerificationFailed

MAX_NAME_CHARS = 200
PERSONAL_PREFIXES = frozenset({"CCCD", "CMND", "IDCVN", "PNOVN"})
TAX_PREFIXES = frozenset({"MST", "TINVN", "VATVN"})
_PREFIXED = re.compile(r"(?<![A-Za-z0-9])(CCCD|CMND|MST|MNS|HC|IDCVN|PNOVN|TINVN|VATVN)\s*[:\-]\s*([0-9][0-9-]*)",
                       re.IGNORECASE)


@dataclass(frozen=True)
class SubjectIdentity:
    personal_id: str | None
    tax_code: str | None
    full_name: str
    organization: str | None

    def __repr__(self) -> str:  # no personal data in logs
        return "SubjectIdentity(...)"


def read_identity(subject: x509.Name) -> SubjectIdentity:
    """Find one personal ID or tax code in the subject; raise no_identifier when there is none
    (or several different ones)."""
    personal: set[str] = set()
    tax: set[str] = set()
    values = [*_values(subject, NameOID.USER_ID), *_values(subject, NameOID.SERIAL_NUMBER),
              *_values(subject, NameOID.COMMON_NAME)]
    for value in values:
        for prefix, number in _PREFIXED.findall(value):
            prefix = prefix.upper()
            if prefix in PERSONAL_PREFIXES and is_personal_id(number):
                personal.add(number)
            elif prefix in TAX_PREFIXES and is_tax_code(number):
                tax.add(number)
    if len(personal) > 1 or (not personal and len(tax) != 1):
        raise VerificationFailed("no_identifier", N_(
            "This certificate does not contain a personal ID number or a tax code, so it cannot identify you. "
            "Use a certificate issued to you in person or to your business."))
    common_names = _values(subject, NameOID.COMMON_NAME)
    full_name = " ".join(_PREFIXED.sub(" ", common_names[0]).replace(",", " ").split()).strip(" -")
    organizations = _values(subject, NameOID.ORGANIZATION_NAME) or _values(subject, NameOID.ORGANIZATIONAL_UNIT_NAME)
    organization = " ".join(organizations[0].split()) if organizations else None
    return SubjectIdentity(personal_id=next(iter(personal), None), tax_code=None if personal else next(iter(tax)),
                           full_name=full_name[:MAX_NAME_CHARS] if common_names else "",
                           organization=organization[:MAX_NAME_CHARS] if organization else None)


def _values(subject: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [attribute.value for attribute in subject.get_attributes_for_oid(oid) if isinstance(attribute.value, str)]
