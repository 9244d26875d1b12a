"""Administrative units as versioned reference data, not code.

Owns the lookup of the units in force since 1 July 2025 (34 provinces and centrally-run cities,
about 3,300 wards, communes and special zones; two levels, no districts), read once from the data
files of the `vietnam-provinces` package (version pinned by the project; REFERENCE_VERSION is its
data retrieval date). Codes are strings: two digits for a province ("01"), five for a ward ("00070").

No old-to-new transition table: the package ships only the current units, with no mapping from the
pre-July-2025 provinces, districts or wards to their successors, so none is offered here. Codes
printed in personal ID numbers use the pre-2025 province list (see identifiers.py), not this one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import vietnam_provinces

from idp.i18n import N_
from idp.identifiers import InvalidIdentifier

REFERENCE_VERSION: str = vietnam_provinces.__data_version__


@dataclass(frozen=True, slots=True)
class Province:
    """A province or centrally-run city; division_type "tỉnh" or "thành phố trung ương"."""

    code: str
    name: str
    division_type: str


@dataclass(frozen=True, slots=True)
class Ward:
    """A ward, commune or special zone; division_type "phường", "xã" or "đặc khu"."""

    code: str
    name: str
    division_type: str
    province_code: str


@dataclass(frozen=True, slots=True)
class _Units:
    provinces: dict[str, Province]
    wards: dict[str, Ward]


@cache
def _load() -> _Units:
    """Read the package's nested file (provinces, each with its wards) once per process."""
    with open(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH, encoding="utf-8") as handle:
        nested = json.load(handle)
    provinces_by_code: dict[str, Province] = {}
    wards_by_code: dict[str, Ward] = {}
    for item in nested:
        code = f"{item['code']:02d}"
        provinces_by_code[code] = Province(code=code, name=item["name"], division_type=item["division_type"])
        for ward in item["wards"]:
            ward_code = f"{ward['code']:05d}"
            wards_by_code[ward_code] = Ward(code=ward_code, name=ward["name"], division_type=ward["division_type"],
                                            province_code=code)
    return _Units(provinces=provinces_by_code, wards=wards_by_code)


def provinces() -> list[Province]:
    """All current provinces, sorted by code."""
    return sorted(_load().provinces.values(), key=lambda p: p.code)


def wards() -> list[Ward]:
    """All current wards, communes and special zones, sorted by code."""
    return sorted(_load().wards.values(), key=lambda w: w.code)


def find_province(code: str) -> Province | None:
    """The province with this two-digit code, or None."""
    return _load().provinces.get(code)


def find_ward(code: str) -> Ward | None:
    """The ward with this five-digit code, or None."""
    return _load().wards.get(code)


def check_address_units(province_code: str, ward_code: str | None) -> None:
    """Raise InvalidIdentifier unless the province exists and the ward (if given) lies in it."""
    if find_province(province_code) is None:
        raise InvalidIdentifier("unknown_province", N_("Unknown province code."))
    if ward_code is None:
        return
    ward = find_ward(ward_code)
    if ward is None:
        raise InvalidIdentifier("unknown_ward", N_("Unknown ward or commune code."))
    if ward.province_code != province_code:
        raise InvalidIdentifier("ward_not_in_province", N_("The ward or commune is not in that province."))
