"""National identifiers: the 12-digit personal identification number and business tax codes.

Pure functions, no Flask, no database. Errors carry a stable code and an English message
that the pages translate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from idp.i18n import N_

# Birth-registration province codes of the 12-digit personal ID (Circular 07/2016/TT-BCA,
# Appendix; kept by Circular 59/2021/TT-BCA): the 63 provinces before the 2025 merger.
# Never validate against today's 34 provinces: people born before 2025 keep these codes.
PRE_2025_PROVINCE_CODES = frozenset(f"{c:03d}" for c in (
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42,
    44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86,
    87, 89, 91, 92, 93, 94, 95, 96,
))
# Digit 4: century and sex (0/1 = 1900s male/female, 2/3 = 2000s, ... 8/9 = 2200s).
CENTURY_START = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100, 6: 2200, 7: 2200, 8: 2300, 9: 2300}
# Vietnamese enterprise tax code check digit weights over the first 9 digits.
TAX_CODE_WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
_DIGITS12 = re.compile(r"^[0-9]{12}$")
_TAX10 = re.compile(r"^[0-9]{10}$")
_TAX13 = re.compile(r"^([0-9]{10})-([0-9]{3})$")


class InvalidIdentifier(ValueError):
    """An identifier that breaks a rule; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class PersonalIdParts:
    province_code: str
    century_start_year: int
    sex: str
    birth_year: int


def personal_id_parts(pin: str) -> PersonalIdParts:
    """Split a syntactically valid personal ID into its coded parts."""
    digit = int(pin[3])
    century = CENTURY_START[digit]
    return PersonalIdParts(province_code=pin[:3], century_start_year=century,
                           sex="female" if digit % 2 else "male", birth_year=century + int(pin[4:6]))


def check_personal_id(pin: str, birthdate: date | None = None, gender: str | None = None) -> str:
    """Return the normalised 12-digit personal ID or raise InvalidIdentifier."""
    value = pin.strip()
    if not _DIGITS12.match(value):
        raise InvalidIdentifier("personal_id_format", N_("The personal ID number must be exactly 12 digits."))
    if value[:3] not in PRE_2025_PROVINCE_CODES:
        raise InvalidIdentifier("personal_id_province", N_("The personal ID number does not start with a valid "
                                                           "province code."))
    parts = personal_id_parts(value)
    if birthdate is not None and birthdate.year != parts.birth_year:
        raise InvalidIdentifier("personal_id_birthdate_mismatch",
                                N_("The personal ID number does not match the date of birth."))
    if gender is not None and gender in ("male", "female") and gender != parts.sex:
        raise InvalidIdentifier("personal_id_gender_mismatch", N_("The personal ID number does not match the sex."))
    return value


def _tax_check_digit_ok(code10: str) -> bool:
    total = sum(int(d) * w for d, w in zip(code10[:9], TAX_CODE_WEIGHTS, strict=True))
    check = 10 - total % 11
    return check < 10 and check == int(code10[9])


def check_tax_code(code: str) -> str:
    """Return a valid tax code (10 digits, 10-3 for a dependent unit, or a 12-digit personal ID)."""
    value = code.strip()
    if _DIGITS12.match(value):
        return check_personal_id(value)
    match = _TAX13.match(value)
    base = match.group(1) if match else value
    if not _TAX10.match(base) or (match and match.group(2) == "000"):
        raise InvalidIdentifier("tax_code_format", N_("A tax code has 10 digits, or 10 digits, a dash and 3 digits."))
    if not _tax_check_digit_ok(base):
        raise InvalidIdentifier("tax_code_check_digit", N_("The tax code's check digit is wrong."))
    return value


def mask_identifier(value: str) -> str:
    """Keep the last 4 characters, for logs and audit (e.g. ********1234)."""
    return "*" * max(len(value) - 4, 0) + value[-4:]
