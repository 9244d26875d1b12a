"""Finding an account in the admin console: exact matches by personal ID, tax code, phone or e-mail.

The typed value is normalised the way the app stores it, then matched exactly (never a prefix or a
pattern), so a search answers only "which account has exactly this", the question staff need:
- personal ID: 12 digits with a valid province code (idp.identifiers), matched against the key;
- tax code: 10 digits with its check digit, 10-3 for a dependent unit, or 12 digits (an individual's
  tax code is their personal ID), matched against the key;
- phone: any usual Vietnamese mobile spelling, normalised to E.164 by the telecom source's rules
  (the form telecom operators vouch for); accounts store it as a source gave it or as the person
  typed it at registration (0912345678, 84912345678), so those spellings of the same number match;
- e-mail: trimmed, compared case-insensitively.
A malformed value is refused with the reason (400) and nothing is searched. Searches are limited per
admin (SEARCH_LIMIT) and audited (`admin.account.searched`: the kind, the value masked, the count).
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse
from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.linking import identity_level
from idp.accounts.models import Account
from idp.admin.access import Admin
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import audit_read
from idp.errors import IdpError
from idp.extensions import db
from idp.extensions import limiter
from idp.i18n import N_
from idp.identifiers import InvalidIdentifier
from idp.identifiers import check_personal_id
from idp.identifiers import check_tax_code
from idp.masking import mask_email
from idp.masking import mask_identifier
from idp.masking import mask_name
from idp.masking import mask_personal_id
from idp.masking import mask_phone
from idp.masking import mask_tax_code

PERSONAL_ID, TAX_CODE, PHONE, EMAIL = "personal_id", "tax_code", "phone", "email"
SEARCH_KINDS = (PERSONAL_ID, TAX_CODE, PHONE, EMAIL)
SEARCH_LIMIT = "30 per minute"  # per admin (staff account or API client)
MAX_RESULTS = 20
VALUE_MAX = 254


@dataclass(frozen=True, slots=True)
class SearchQuery:
    kind: str
    values: tuple[str, ...]  # the stored spellings that match exactly
    masked: str  # for the audit trail and the page


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """One search result, masked for a list."""

    id: int
    kind: str
    status: str
    level: int
    identifier: str
    name: str
    phone: str | None
    email: str | None

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "identity_level": self.level,
                "identifier_masked": self.identifier, "name_initials": self.name, "phone_masked": self.phone,
                "email_masked": self.email}


def _refuse(code: str, message: str) -> AdminRefusal:
    return AdminRefusal(400, code, message)


def _phone_spellings(raw: str) -> tuple[tuple[str, ...], str]:
    from idp.verifiers.telecom.phone import normalise

    try:
        e164 = normalise(raw)
    except IdpError as exc:
        raise _refuse(exc.code, exc.message) from exc
    national = e164[3:]
    return (e164, "0" + national, "84" + national), mask_phone(e164)


def parse_query(kind: object, raw: object) -> SearchQuery:
    """Normalise a typed search; raise AdminRefusal (400) with what is wrong."""
    if kind not in SEARCH_KINDS:
        raise _refuse("search_kind", N_("Choose what to search by."))
    if not isinstance(raw, str) or not raw.strip():
        raise _refuse("search_empty", N_("Type what to search for."))
    if len(raw) > VALUE_MAX:
        raise _refuse("search_too_long", N_("What you typed is too long."))
    value = raw.strip()
    try:
        if kind == PERSONAL_ID:
            value = check_personal_id(value)
            return SearchQuery(kind, (value,), mask_personal_id(value))
        if kind == TAX_CODE:
            value = check_tax_code(value)
            return SearchQuery(kind, (value,), mask_tax_code(value))
    except InvalidIdentifier as exc:
        raise _refuse(exc.code, exc.message) from exc
    if kind == PHONE:
        spellings, shown = _phone_spellings(value)
        return SearchQuery(kind, spellings, shown)
    local, at, domain = value.partition("@")
    if not (at and local and "." in domain and "@" not in domain) or any(c.isspace() for c in value) \
            or not value.isprintable():
        raise _refuse("email_format", N_("This is not an e-mail address."))
    return SearchQuery(kind, (value.lower(),), mask_email(value))


def _matching(query: SearchQuery) -> list[Account]:
    if query.kind in (PERSONAL_ID, TAX_CODE):
        condition = Account.identifier == query.values[0]
    elif query.kind == PHONE:
        condition = Account.phone.in_(query.values)
    else:
        condition = func.lower(Account.email) == query.values[0]
    return list(db.session.execute(select(Account).where(condition).order_by(Account.id)
                                   .limit(MAX_RESULTS)).scalars())


def _actor_key(admin: Admin) -> str:
    return f"account:{admin.account_id}" if admin.account_id is not None else f"client:{admin.client_id}"


def summarise(account: Account) -> AccountSummary:
    return AccountSummary(id=account.id, kind=account.kind, status=account.status,
                          level=int(identity_level(account)), identifier=mask_identifier(account.identifier),
                          name=mask_name(account.full_name), phone=mask_phone(account.phone) or None,
                          email=mask_email(account.email) or None)


def search_accounts(admin: Admin, kind: object, raw: object) -> tuple[SearchQuery, list[AccountSummary]]:
    """Run one exact search for `admin`; audited. Raise AdminRefusal: 400 malformed, 429 too many.
    The caller commits."""
    if not limiter.limiter.hit(parse(SEARCH_LIMIT), "admin-account-search", _actor_key(admin)):
        raise AdminRefusal(429, "slow_down", N_("Too many searches. Please wait a minute and try again."))
    query = parse_query(kind, raw)
    found = [summarise(account) for account in _matching(query)]
    audit_read("admin.account.searched", admin, search_kind=query.kind, query=query.masked, results=len(found))
    return query, found
