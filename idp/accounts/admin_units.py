"""Administrative units as versioned reference data: the 34 provinces and ~3,300 wards/communes
in force since 1 July 2025, read from the `vietnam-provinces` package's data files.

The package does not ship an old-to-new transition table, so none is offered here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import vietnam_provinces

from idp.accounts.identifiers import InvalidIdentifier
from idp.i18n import N_

REFERENCE_VERSION = vietnam_provinces.__data_version__


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    name: str
    division_type: str


@dataclass(frozen=True, slots=True)
class Ward:
    code: str
    name: str
    province_code: str


@cache
def _data() -> tuple[dict[str, Province], dict[str, Ward]]:
    with open(vietnam_provinces.NESTED_DIVISIONS_JSON_PATH, encoding="utf-8") as handle:
        nested = json.load(handle)
    provinces: dict[str, Province] = {}
    wards: dict[str, Ward] = {}
    for item in nested:
        code = f"{item['code']:02d}"
        provinces[code] = Province(code=code, name=item["name"], division_type=item["division_type"])
        for ward in item["wards"]:
            ward_code = f"{ward['code']:05d}"
            wards[ward_code] = Ward(code=ward_code, name=ward["name"], province_code=code)
    return provinces, wards


def provinces() -> list[Province]:
    return sorted(_data()[0].values(), key=lambda p: p.code)


def find_province(code: str) -> Province | None:
    return _data()[0].get(code)


def find_ward(code: str) -> Ward | None:
    return _data()[1].get(code)


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
