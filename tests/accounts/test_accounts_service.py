"""Account creation rules: identifiers per kind, address units, provenance of each attribute."""

from __future__ import annotations

from datetime import date

import pytest

from idp.accounts.service import AccountError
from idp.accounts.service import NewAccount
from idp.accounts.service import create_account
from idp.extensions import db


def _create(app, **fields):  # noqa: ANN001, ANN202
    fields.setdefault("kind", "citizen")
    fields.setdefault("full_name", "Phạm Thị Dung")
    with app.app_context():
        account = create_account(NewAccount(**fields))
        db.session.commit()
        return account.id, {v.attribute: v.source for v in account.verifications}


def test_citizen_with_address_in_current_units(app):
    _, sources = _create(app, identifier="001090001701", birthdate=date(1990, 3, 3), province_code="01",
                         ward_code="00070", street_address="1 Tràng Tiền")
    assert sources["province_code"] == "self" and sources["ward_code"] == "self"


@pytest.mark.parametrize(("fields", "code"), [
    ({"province_code": "99"}, "unknown_province"),
    ({"province_code": "01", "ward_code": "99999"}, "unknown_ward"),
    ({"province_code": "79", "ward_code": "00070"}, "ward_not_in_province"),
    ({"identifier": "0100109107", "kind": "business"}, "tax_code_check_digit"),
    ({"kind": "nobody"}, "unknown_kind"),
])
def test_invalid_accounts_are_refused_with_a_code(app, fields: dict, code: str):
    fields.setdefault("identifier", "001090001702")
    with pytest.raises(AccountError) as info:
        _create(app, **fields)
    assert info.value.code == code


def test_business_keyed_by_tax_code_and_dependent_unit(app):
    _create(app, kind="business", identifier="0100109106", full_name="Công ty A")
    _create(app, kind="business", identifier="0100109106-001", full_name="Chi nhánh A")


def test_birth_before_2025_keeps_old_province_code(app):
    """Digits 1-3 come from the pre-2025 list: 077 (Bà Rịa-Vũng Tàu) no longer exists as a province."""
    _create(app, identifier="077085001234", birthdate=date(1985, 6, 1))
