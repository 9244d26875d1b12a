"""The 12-digit personal identification number and business tax codes (masking: tests/test_masking.py)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from idp.identifiers import PRE_2025_PROVINCE_CODES
from idp.identifiers import InvalidIdentifier
from idp.identifiers import PersonalIdParts
from idp.identifiers import check_personal_id
from idp.identifiers import check_tax_code
from idp.identifiers import personal_id_parts
from idp.identifiers import tax_code_check_digit

# Codes 001-096 that were never in the Circular 07/2016/TT-BCA appendix (gaps between provinces).
NEVER_ISSUED = ("003", "005", "007", "009", "013", "016", "018", "021", "023", "028", "029", "032", "039", "041",
                "043", "047", "050", "053", "055", "057", "059", "061", "063", "065", "069", "071", "073", "076",
                "078", "081", "085", "088", "090")


def _error(call, *args, **kwargs) -> str:  # noqa: ANN001
    with pytest.raises(InvalidIdentifier) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, ValueError) and info.value.message
    return info.value.code


# --- personal identification number -------------------------------------------------------------------------


@pytest.mark.parametrize(("pin", "born", "sex"), [
    ("001090012345", date(1990, 5, 12), "male"),
    ("079301004567", date(2001, 9, 3), "female"),
    ("096199000001", date(1999, 1, 1), "female"),
    ("077085001234", date(1985, 6, 1), "male"),  # Bà Rịa-Vũng Tàu: merged into HCMC in 2025, code still valid
    ("002000000001", date(1900, 1, 1), "male"),  # Hà Giang, born 1900: first year of the "20th century" digit
])
def test_valid_personal_ids(pin: str, born: date, sex: str):
    assert check_personal_id(f"  {pin}\n", birthdate=born, gender=sex) == pin
    parts = personal_id_parts(pin)
    assert (parts.province_code, parts.birth_year, parts.sex) == (pin[:3], born.year, sex)


def test_parts_are_a_frozen_dataclass():
    parts = personal_id_parts("031305000123")
    assert parts == PersonalIdParts(province_code="031", century_start_year=2000, sex="female", birth_year=2005)
    with pytest.raises(dataclasses.FrozenInstanceError):
        parts.birth_year = 1905  # type: ignore[misc]


@pytest.mark.parametrize("pin", [
    "", "   ", "00109001234", "0010900123456", "00109001234a", "001 90012345", "001-090-012345",
    "００１０９００１２３４５",  # full-width digits are not ASCII digits
    "٠٠١٠٩٠٠١٢٣٤٥",  # nor are Arabic-Indic digits
    "+01090012345",
])
def test_personal_id_format(pin: str):
    assert _error(check_personal_id, pin) == "personal_id_format"


@pytest.mark.parametrize("province", ["000", "097", "099", "100", "999", *NEVER_ISSUED])
def test_province_codes_outside_the_pre_2025_list_are_rejected(province: str):
    assert _error(check_personal_id, f"{province}090012345") == "personal_id_province"


@pytest.mark.parametrize("province", sorted(PRE_2025_PROVINCE_CODES))
def test_every_pre_2025_province_code_is_accepted(province: str):
    assert check_personal_id(f"{province}090012345") == f"{province}090012345"


def test_pre_2025_list_has_the_63_provinces_from_001_to_096():
    assert len(PRE_2025_PROVINCE_CODES) == 63
    assert min(PRE_2025_PROVINCE_CODES) == "001" and max(PRE_2025_PROVINCE_CODES) == "096"
    every_code = {f"{n:03d}" for n in range(1, 97)}
    assert every_code - PRE_2025_PROVINCE_CODES == set(NEVER_ISSUED)


@pytest.mark.parametrize(("digit", "century", "sex"), [
    ("0", 1900, "male"), ("1", 1900, "female"), ("2", 2000, "male"), ("3", 2000, "female"),
    ("4", 2100, "male"), ("5", 2100, "female"), ("6", 2200, "male"), ("7", 2200, "female"),
    ("8", 2300, "male"), ("9", 2300, "female"),
])
def test_century_and_sex_digit(digit: str, century: int, sex: str):
    pin = f"001{digit}07123456"
    parts = personal_id_parts(pin)
    assert (parts.century_start_year, parts.sex, parts.birth_year) == (century, sex, century + 7)
    assert check_personal_id(pin, birthdate=date(century + 7, 12, 31), gender=sex) == pin


@pytest.mark.parametrize(("pin", "born"), [
    ("001290012345", date(1990, 5, 12)),  # 2 = born 2000-2099
    ("001090012345", date(2090, 5, 12)),  # 0 = born 1900-1999
    ("001091012345", date(1990, 5, 12)),  # year digits 91
    ("001000012345", date(2000, 1, 1)),  # 0 + 00 = 1900, not 2000
    ("001399012345", date(1999, 1, 1)),
])
def test_birthdate_must_agree(pin: str, born: date):
    assert _error(check_personal_id, pin, birthdate=born) == "personal_id_birthdate_mismatch"


@pytest.mark.parametrize(("pin", "sex"), [("001090012345", "female"), ("001190012345", "male"),
                                           ("079305004567", "male"), ("079205004567", "female")])
def test_gender_must_agree(pin: str, sex: str):
    assert _error(check_personal_id, pin, gender=sex) == "personal_id_gender_mismatch"


def test_format_is_checked_before_province_and_province_before_birthdate():
    assert _error(check_personal_id, "0970900123", birthdate=date(1990, 1, 1)) == "personal_id_format"
    assert _error(check_personal_id, "097090012345", birthdate=date(1991, 1, 1)) == "personal_id_province"


def test_gender_outside_male_female_does_not_constrain():
    assert check_personal_id("001090012345", gender=None) == "001090012345"
    assert check_personal_id("001090012345", gender="other") == "001090012345"


# --- tax codes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first9", "check"), [
    ("010010910", 6),  # 0100109106
    ("010023348", 8),  # 0100233488 (python-stdnum doctest)
    ("010004751", 6),  # 0100047516
    ("031440905", 8),  # 0314409058
    ("010000001", 0),  # weighted sum 32, 32 mod 11 = 10, check 10 - 10 = 0
    ("010000005", None),  # weighted sum 44, 44 mod 11 = 0, 10 - 0 = 10 is not a digit: never issued
])
def test_tax_code_check_digit(first9: str, check: int | None):
    assert tax_code_check_digit(first9) == check


def test_check_digit_worked_by_hand():
    """0100109106: 0*31 + 1*29 + 0*23 + 0*19 + 1*17 + 0*13 + 9*7 + 1*5 + 0*3 = 114; 114 mod 11 = 4; 10 - 4 = 6."""
    assert 1 * 29 + 1 * 17 + 9 * 7 + 1 * 5 == 114 and 10 - 114 % 11 == 6
    assert check_tax_code("0100109106") == "0100109106"


@pytest.mark.parametrize("code", [
    "0100109106", "0100233488", "0100047516", "0314409058", "0100000010",
    "0100109106-001", "0100109106-999", "0314409058-002",
    " 0100109106\t",
])
def test_valid_business_tax_codes(code: str):
    assert check_tax_code(code) == code.strip()


@pytest.mark.parametrize("code", ["0100109107", "0100109100", "1100109106", "0100109107-001", "0314409050-002"])
def test_wrong_check_digit(code: str):
    assert _error(check_tax_code, code) == "tax_code_check_digit"


@pytest.mark.parametrize("last", "0123456789")
def test_prefix_without_a_possible_check_digit_is_rejected(last: str):
    assert _error(check_tax_code, f"010000005{last}") == "tax_code_check_digit"


@pytest.mark.parametrize("code", [
    "", "010010910", "01001091061", "0100109106001", "0100109106-000", "0100109106-01", "0100109106-0001",
    "0100109106 - 001", "0100109106-00a", "01001O9106", "0100109106_001", "0100109106-", "-001",
    "０１００１０９１０６",
])
def test_tax_code_format(code: str):
    assert _error(check_tax_code, code) == "tax_code_format"


def test_twelve_digits_is_an_individual_tax_code_checked_as_a_personal_id():
    assert check_tax_code(" 001090012345 ") == "001090012345"
    assert _error(check_tax_code, "097090012345") == "personal_id_province"

