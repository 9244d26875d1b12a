"""Administrative units in force since 1 July 2025, read from the vietnam-provinces package data."""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter

import pytest
import vietnam_provinces

from idp.accounts import admin_units
from idp.accounts.admin_units import REFERENCE_VERSION
from idp.accounts.admin_units import Province
from idp.accounts.admin_units import Ward
from idp.accounts.admin_units import check_address_units
from idp.accounts.admin_units import find_province
from idp.accounts.admin_units import find_ward
from idp.accounts.admin_units import provinces
from idp.accounts.admin_units import wards
from idp.identifiers import PRE_2025_PROVINCE_CODES
from idp.identifiers import InvalidIdentifier


def test_reference_version_is_the_package_data_version():
    assert vietnam_provinces.__data_version__ == REFERENCE_VERSION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", REFERENCE_VERSION)
    assert REFERENCE_VERSION >= "2025-07-01"  # data taken after the reform came into force


def test_34_provinces_six_of_them_centrally_run_cities():
    units = provinces()
    assert len(units) == 34
    assert [p.code for p in units] == sorted(p.code for p in units)
    assert all(re.fullmatch(r"\d{2}", p.code) for p in units)
    assert Counter(p.division_type for p in units) == {"tỉnh": 28, "thành phố trung ương": 6}


def test_about_3300_wards_and_communes():
    every_ward = wards()
    assert 3_200 <= len(every_ward) <= 3_400  # 3,321 in the 2025-10-18 data
    assert len({w.code for w in every_ward}) == len(every_ward)
    assert all(re.fullmatch(r"\d{5}", w.code) for w in every_ward)
    assert set(Counter(w.division_type for w in every_ward)) == {"phường", "xã", "đặc khu"}
    assert {w.province_code for w in every_ward} == {p.code for p in provinces()}


def test_nested_and_flat_data_files_agree():
    with open(vietnam_provinces.FLAT_DIVISIONS_JSON_PATH, encoding="utf-8") as handle:
        flat = json.load(handle)
    assert {f"{item['code']:05d}": item["name"] for item in flat} == {w.code: w.name for w in wards()}


def test_find_province():
    hanoi = find_province("01")
    assert hanoi == Province(code="01", name="Thành phố Hà Nội", division_type="thành phố trung ương")
    assert find_province("79").name == "Thành phố Hồ Chí Minh"
    assert find_province("96").name == "Cà Mau"


@pytest.mark.parametrize("code", ["1", "001", "02", "77", "99", "", "0l"])
def test_unknown_provinces(code: str):
    """Codes are two-digit strings; 02 (Hà Giang) and 77 (Bà Rịa-Vũng Tàu) were merged away in 2025."""
    assert find_province(code) is None


def test_find_ward():
    ward = find_ward("00070")
    assert ward == Ward(code="00070", name="Phường Hoàn Kiếm", division_type="phường", province_code="01")
    assert find_ward("70") is None and find_ward("99999") is None and find_ward("") is None


def test_units_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        find_province("01").name = "Hà Nội"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        find_ward("00070").province_code = "79"  # type: ignore[misc]


def test_data_is_loaded_once():
    assert admin_units._load() is admin_units._load()
    provinces().clear()  # callers get a copy
    assert len(provinces()) == 34


def test_current_province_codes_are_a_subset_of_the_pre_2025_codes():
    """Each new province kept the code of one of the provinces merged into it."""
    assert {f"0{p.code}" for p in provinces()} <= PRE_2025_PROVINCE_CODES


def test_check_address_units_accepts_a_ward_in_its_province():
    check_address_units("01", "00070")
    check_address_units("79", None)


@pytest.mark.parametrize(("province", "ward", "code"), [
    ("99", None, "unknown_province"),
    ("", None, "unknown_province"),
    ("77", "00070", "unknown_province"),
    ("01", "12345678", "unknown_ward"),
    ("01", "99999", "unknown_ward"),
    ("79", "00070", "ward_not_in_province"),
])
def test_check_address_units_errors(province: str, ward: str | None, code: str):
    with pytest.raises(InvalidIdentifier) as info:
        check_address_units(province, ward)
    assert info.value.code == code and info.value.message


def test_no_transition_table_is_invented():
    """The package ships only the current units; the module says so instead of guessing a mapping."""
    assert "transition" in (admin_units.__doc__ or "")
    assert not [name for name in dir(admin_units) if "successor" in name or "transition" in name]
