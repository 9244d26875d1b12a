"""The 12-digit personal identification number and business tax codes."""

from __future__ import annotations

from datetime import date

import pytest

from idp.accounts.admin_units import REFERENCE_VERSION
from idp.accounts.admin_units import check_address_units
from idp.accounts.admin_units import find_province
from idp.accounts.admin_units import find_ward
from idp.accounts.admin_units import provinces
from idp.accounts.identifiers import PRE_2025_PROVINCE_CODES
from idp.accounts.identifiers import InvalidIdentifier
from idp.accounts.identifiers import check_personal_id
from idp.accounts.identifiers import check_tax_code
from idp.accounts.identifiers import mask_identifier
from idp.accounts.identifiers import personal_id_parts


@pytest.mark.parametrize(("pin", "born", "sex"), [
    ("001090012345", date(1990, 5, 12), "male"),
    ("079301004567", date(2001, 9, 3), "female"),
    ("096199000001", date(1999, 1, 1), "female"),
    ("077085001234", date(1985, 6, 1), "male"),  # Bà Rịa-Vũng Tàu: merged in 2025, code still valid
])
def test_valid_personal_ids(pin: str, born: date, sex: str):
    assert check_personal_id(f"  {pin} ", birthdate=born, gender=sex) == pin
    parts = personal_id_parts(pin)
    assert parts.birth_year == born.year and parts.sex == sex


@pytest.mark.parametrize(("pin", "code"), [
    ("00109001234", "personal_id_format"),
    ("0010900123456", "personal_id_format"),
    ("00109001234a", "personal_id_format"),
    ("００１０９００１２３４５", "personal_id_format"),  # full-width digits are not ASCII digits
    ("000090012345", "personal_id_province"),
    ("003090012345", "personal_id_province"),  # 003 never existed
    ("097090012345", "personal_id_province"),  # beyond 096
])
def test_invalid_personal_ids(pin: str, code: str):
    with pytest.raises(InvalidIdentifier) as info:
        check_personal_id(pin)
    assert info.value.code == code


def test_pre_2025_list_has_63_provinces():
    assert len(PRE_2025_PROVINCE_CODES) == 63
    assert "001" in PRE_2025_PROVINCE_CODES and "096" in PRE_2025_PROVINCE_CODES


def test_century_digit_must_agree_with_birthdate():
    with pytest.raises(InvalidIdentifier) as info:
        check_personal_id("001290012345", birthdate=date(1990, 5, 12))  # 2 = 21st century
    assert info.value.code == "personal_id_birthdate_mismatch"
    with pytest.raises(InvalidIdentifier) as info:
        check_personal_id("001090012345", gender="female")
    assert info.value.code == "personal_id_gender_mismatch"


@pytest.mark.parametrize("code", ["0100109106", "0100109106-001", "001090012345"])
def test_valid_tax_codes(code: str):
    assert check_tax_code(code) == code


@pytest.mark.parametrize(("code", "error"), [
    ("0100109107", "tax_code_check_digit"),
    ("010010910", "tax_code_format"),
    ("0100109106-000", "tax_code_format"),
    ("0100109106-01", "tax_code_format"),
    ("0100109107-001", "tax_code_check_digit"),
])
def test_invalid_tax_codes(code: str, error: str):
    with pytest.raises(InvalidIdentifier) as info:
        check_tax_code(code)
    assert info.value.code == error


def test_mask_identifier():
    assert mask_identifier("001090012345") == "********2345"


def test_current_administrative_units():
    """Since 1 July 2025: 34 provinces and about 3,300 wards and communes."""
    assert len(provinces()) == 34 and REFERENCE_VERSION
    assert find_province("01").name == "Thành phố Hà Nội"
    assert find_ward("00070").province_code == "01"
    check_address_units("01", "00070")
    for province, ward, code in (("99", None, "unknown_province"), ("01", "12345678", "unknown_ward"),
                                 ("79", "00070", "ward_not_in_province")):
        with pytest.raises(InvalidIdentifier) as info:
            check_address_units(province, ward)
        assert info.value.code == code
