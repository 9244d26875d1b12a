"""The person's profile (`/accounts/profile`): every attribute on file and who vouched for it.

Each attribute is shown with its value (the personal ID masked but for its last 3 digits) and the
record of its verifications (idp.accounts.models.AttributeVerification): which source, at which
level and when, strongest first; "self" reads "Declared by you". Read-only: values change through
the identity sources (linking.py decides which value wins), not by typing them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import render_template
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.accounts.models import AccountKind
from idp.accounts.models import AttributeVerification
from idp.accounts.pages import console_login
from idp.accounts.pages import kind_name
from idp.accounts.views import bp
from idp.masking import mask_identifier

# (attribute, label), in the order shown; the identifier comes first and has its own label per kind.
ATTRIBUTES = (
    ("full_name", _l("Full name")),
    ("given_name", _l("Given name")),
    ("family_name", _l("Family name")),
    ("birthdate", _l("Date of birth")),
    ("gender", _l("Sex")),
    ("phone", _l("Phone number")),
    ("email", _l("E-mail address")),
    ("street_address", _l("Street address")),
    ("ward_code", _l("Ward or commune")),
    ("province_code", _l("Province or city")),
    ("agency", _l("Agency")),
)
GENDERS = {"male": _l("Male"), "female": _l("Female")}


@dataclass(frozen=True, slots=True)
class ProfileRow:
    attribute: str
    label: str
    value: str | None
    verifications: list[AttributeVerification]


def display_value(account: Account, attribute: str) -> str | None:
    """The attribute's value as people read it (a date as 31/12/1990, a ward or province by name)."""
    from idp.accounts.admin_units import find_province
    from idp.accounts.admin_units import find_ward

    value: Any = getattr(account, attribute)
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if attribute == "gender":
        return str(GENDERS.get(value, value))
    if attribute == "ward_code":
        unit = find_ward(value)
        return unit.name if unit else value
    if attribute == "province_code":
        unit = find_province(value)
        return unit.name if unit else value
    return str(value)


def profile_rows(account: Account) -> list[ProfileRow]:
    """Every attribute (empty ones too, so the person sees what is not on file) with its verifications."""
    rows = []
    for attribute, label in ATTRIBUTES:
        if attribute == "agency" and account.kind != AccountKind.OFFICIAL and not account.agency:
            continue
        found = sorted((v for v in account.verifications if v.attribute == attribute),
                       key=lambda v: (v.level, v.verified_at), reverse=True)
        rows.append(ProfileRow(attribute, str(label), display_value(account, attribute), found))
    return rows


@bp.get("/profile")
def profile() -> Response | str:
    """The attributes on file and the source of each."""
    login, refusal = console_login(url_for("accounts.profile"))
    if refusal is not None:
        return refusal
    account = login.account
    identifier_label = _("Tax code") if account.kind == AccountKind.BUSINESS else _("Personal ID number")
    return render_template("accounts/profile.html", account=account, rows=profile_rows(account),
                           identifier_label=identifier_label, masked_id=mask_identifier(account.identifier),
                           kind=kind_name(account))
