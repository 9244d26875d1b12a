"""National identifiers: the 12-digit personal identification number and tax codes (masking: idp.masking).

Owns the syntax rules only (pure functions, no Flask, no database; identity sources use them too):
whether a value *can* be an identifier, never whether it was issued. Errors carry a stable
snake_case `code` and an English `message` that the pages translate (the messages are in the idp
catalogues; reuse them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from idp.i18n import N_

# Digits 1-3 of the personal ID: the province where the birth was registered, from the appendix of
# Circular 07/2016/TT-BCA (codes kept by Circular 59/2021/TT-BCA): the 63 provinces before the 2025
# merger, 001 Hà Nội ... 096 Cà Mau, with gaps (003, 005, ...) that were never issued. Do not check
# against today's 34 provinces: everyone registered before July 2025 keeps a code from this list.
PRE_2025_PROVINCE_CODES: frozenset[str] = frozenset(f"{c:03d}" for c in (
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42,
    44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86,
    87, 89, 91, 92, 93, 94, 95, 96,
))
# Digit 4 (same circulars): century of birth and sex; even = male, odd = female.
# 0/1 = 1900-1999, 2/3 = 2000-2099, 4/5 = 2100-2199, 6/7 = 2200-2299, 8/9 = 2300-2399.
CENTURY_START: dict[int, int] = {digit: 1900 + 100 * (digit // 2) for digit in range(10)}
# Business tax code (MST) check digit, digit 10: weights over digits 1-9, then 10 - (sum mod 11);
# a prefix whose result is 10 has no valid check digit. Rule as implemented by python-stdnum,
# stdnum/vn/mst.py (calc_check_digit/validate), whose tests include 0100233488 and 0314409058-002.
TAX_CODE_WEIGHTS: tuple[int, ...] = (31, 29, 23, 19, 17, 13, 7, 5, 3)

_PERSONAL_ID = re.compile(r"[0-9]{12}")
_TAX_CODE = re.compile(r"([0-9]{10})(?:-([0-9]{3}))?")


class InvalidIdentifier(ValueError):
    """An identifier that breaks a rule; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


@dataclass(frozen=True, slots=True)
class PersonalIdParts:
    """What digits 1-6 of a personal ID encode."""

    province_code: str
    century_start_year: int
    sex: str
    birth_year: int


def personal_id_parts(pin: str) -> PersonalIdParts:
    """Split a syntactically valid personal ID (12 ASCII digits) into its coded parts."""
    digit = int(pin[3])
    century = CENTURY_START[digit]
    return PersonalIdParts(province_code=pin[:3], century_start_year=century,
                           sex="female" if digit % 2 else "male", birth_year=century + int(pin[4:6]))


def check_personal_id(pin: str, birthdate: date | None = None, gender: str | None = None) -> str:
    """Return the personal ID without surrounding whitespace, or raise InvalidIdentifier.

    There is no check digit. With `birthdate`, digits 4-6 must give its year; with `gender`
    "male" or "female", digit 4 must give that sex (any other value does not constrain).
    """
    value = pin.strip()
    if not _PERSONAL_ID.fullmatch(value):
        raise InvalidIdentifier("personal_id_format", N_("The personal ID number must be exactly 12 digits."))
    if value[:3] not in PRE_2025_PROVINCE_CODES:
        raise InvalidIdentifier("personal_id_province",
                                N_("The personal ID number does not start with a valid province code."))
    parts = personal_id_parts(value)
    if birthdate is not None and birthdate.year != parts.birth_year:
        raise InvalidIdentifier("personal_id_birthdate_mismatch",
                                N_("The personal ID number does not match the date of birth."))
    if gender in ("male", "female") and gender != parts.sex:
        raise InvalidIdentifier("personal_id_gender_mismatch", N_("The personal ID number does not match the sex."))
    return value


def tax_code_check_digit(first9: str) -> int | None:
    """The check digit for the first 9 digits of a tax code, or None if no digit can be valid."""
    check = 10 - sum(int(d) * w for d, w in zip(first9, TAX_CODE_WEIGHTS, strict=True)) % 11
    return check if check < 10 else None


def check_tax_code(code: str) -> str:
    """Return the tax code without surrounding whitespace, or raise InvalidIdentifier.

    Accepted: 10 digits with a valid check digit (an organisation); those 10 digits, "-" and
    001-999 (a dependent unit); 12 digits, checked as a personal ID (since 1 July 2025 an
    individual's tax code is their personal identification number).
    """
    value = code.strip()
    if _PERSONAL_ID.fullmatch(value):
        return check_personal_id(value)
    match = _TAX_CODE.fullmatch(value)
    if match is None or match.group(2) == "000":
        raise InvalidIdentifier("tax_code_format", N_("A tax code has 10 digits, or 10 digits, a dash and 3 digits."))
    base = match.group(1)
    if tax_code_check_digit(base[:9]) != int(base[9]):
        raise InvalidIdentifier("tax_code_check_digit", N_("The tax code's check digit is wrong."))
    return value


def is_personal_id(value: str) -> bool:
    """True when `value` can be a personal identification number (check_personal_id passes)."""
    try:
        check_personal_id(value)
    except InvalidIdentifier:
        return False
    return True


def is_tax_code(value: str) -> bool:
    """True when `value` can be a tax code: 10 digits with check digit, 10-3, or a 12-digit personal ID."""
    try:
        check_tax_code(value)
    except InvalidIdentifier:
        return False
    return True

