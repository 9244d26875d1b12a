"""What the admin console's account area shares: refusals, reasons and who sees what (masks: idp.masking).

Personal data in the account area (docs/operations.md, "Accounts in the admin console"):
- lists (search results, the review queue, staff roles) show identifiers, phone numbers and e-mail
  addresses masked and names as initials, by the one convention of idp.masking;
- an account's detail page shows the full personal ID (or tax code) only to national administrators
  and the helpdesk, who confirm a caller's identity with it; auditors see it masked;
- audit events and logs carry account ids and masked values, never a full identifier, phone number
  or e-mail address.
Pages (idp.admin.accounts, reviews, roles) and the JSON API (idp.admin.accounts_api, reviews, roles)
call the same service functions (account_search, account_detail, account_actions, review_admin,
role_admin); those raise AdminRefusal, which each door turns into its own 4xx answer.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from werkzeug.wrappers import Response

from idp.accounts.models import Account
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.admin.access import Admin
from idp.admin.access import api_error
from idp.audit import record
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_

REASON_MIN = 3
REASON_MAX = 500
DB_INT_MAX = 2**31 - 1  # ids beyond a PostgreSQL integer cannot exist (and must not reach the database)
# Roles that see an account's full personal ID or tax code on its detail page.
FULL_IDENTIFIER_ROLES = frozenset({NATIONAL_ADMIN, HELPDESK})


class AdminRefusal(IdpError):
    """An admin request that cannot be done as asked; `status` is the HTTP status of the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


def check_reason(raw: object) -> str:
    """The reason an admin gave for an action, trimmed; raise AdminRefusal (400) unless it is 3-500
    characters of text (no control characters)."""
    reason = " ".join(str(raw or "").split()) if isinstance(raw, str) else ""
    if len(reason) < REASON_MIN:
        raise AdminRefusal(400, "reason_required", N_("Give a reason (at least 3 characters)."))
    if len(reason) > REASON_MAX:
        raise AdminRefusal(400, "reason_too_long", N_("The reason is too long (at most 500 characters)."))
    if any(unicodedata.category(char).startswith("C") for char in reason):
        raise AdminRefusal(400, "reason_invalid", N_("The reason contains characters that are not allowed."))
    return reason


def get_account(account_id: int) -> Account:
    """The account with this id; raise AdminRefusal (404) when there is none."""
    account = db.session.get(Account, account_id) if 0 < account_id <= DB_INT_MAX else None
    if account is None:
        raise AdminRefusal(404, "account_not_found", N_("No account has this number."))
    return account


def shows_full_identifier(admin: Admin) -> bool:
    return bool(admin.roles & FULL_IDENTIFIER_ROLES)


def audit_read(event: str, admin: Admin, **data: Any) -> None:
    """Audit a look at personal data (a search, a viewed account): who looked, never the value in clear."""
    actor: dict[str, Any] = {"actor_id": admin.account_id}
    if admin.client_id is not None:
        actor["actor_client"] = admin.client_id
    record(event, account_id=admin.account_id, **actor, **data)


def jsonable(value: Any) -> Any:
    """A detail built for the pages, for the API: dates and datetimes as ISO 8601 strings."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return value


def api_json(payload: Any, status: int = 200) -> Response:
    """An API answer carrying personal data: JSON (dates as ISO 8601), never stored by caches."""
    from flask import jsonify

    response = jsonify(jsonable(payload))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def api_refusal(exc: AdminRefusal) -> Response:
    """The API's answer to a refusal: nothing of the request is kept; RFC-style error JSON (English)."""
    db.session.rollback()
    return api_error(exc.status, exc.code, exc.message)


REASON_SCHEMA = {"type": "object", "required": ["reason"], "additionalProperties": False,
                 "properties": {"reason": {"type": "string", "minLength": REASON_MIN, "maxLength": REASON_MAX,
                                           "description": "Why; kept in the audit trail."}}}
