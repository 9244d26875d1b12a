"""The admin JSON API for accounts: the same operations and checks as the pages (idp.admin.accounts),
through the same services. The search is a POST so that personal IDs, phone numbers and e-mail
addresses never appear in URLs or access logs."""

from __future__ import annotations

from werkzeug.wrappers import Response

from idp.admin.access import ACCOUNTS_READ
from idp.admin.access import ACCOUNTS_UNLOCK
from idp.admin.access import ACCOUNTS_WRITE
from idp.admin.access import current_admin
from idp.admin.account_actions import end_all_sessions
from idp.admin.account_actions import lock_account
from idp.admin.account_actions import unlock_account
from idp.admin.account_admin import REASON_SCHEMA
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import api_json
from idp.admin.account_admin import api_refusal
from idp.admin.account_admin import get_account
from idp.admin.account_detail import account_detail
from idp.admin.account_search import SEARCH_KINDS
from idp.admin.account_search import VALUE_MAX
from idp.admin.account_search import search_accounts
from idp.admin.openapi import operation
from idp.admin.openapi import request_body
from idp.extensions import db

_NULLABLE_STRING = {"type": ["string", "null"]}
SUMMARY_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string"}, "status": {"type": "string"},
    "identity_level": {"type": "integer"}, "identifier_masked": {"type": "string"},
    "name_initials": {"type": "string"}, "phone_masked": _NULLABLE_STRING, "email_masked": _NULLABLE_STRING}}
SEARCH_SCHEMA = {"type": "object", "required": ["kind", "value"], "additionalProperties": False, "properties": {
    "kind": {"enum": list(SEARCH_KINDS)},
    "value": {"type": "string", "minLength": 1, "maxLength": VALUE_MAX,
              "description": "The exact value: 12-digit personal ID, tax code, mobile number or e-mail address."}}}
_LIST = {"type": "array", "items": {"type": "object"}}
DETAIL_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string"}, "status": {"type": "string"},
    "identity_level": {"type": "integer"}, "login_throttled": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"},
    "identifier": {"type": ["string", "null"], "description": "In full for national admin and helpdesk scopes only."},
    "identifier_masked": {"type": "string"}, "attributes": _LIST, "linked_sources": _LIST,
    "second_factors": {"type": "object"}, "sessions": _LIST, "consents": _LIST, "recent_logins": _LIST,
    "staff_roles": _LIST, "open_reviews": {"type": "array", "items": {"type": "integer"}}}}
OUTCOME_SCHEMA = {"type": "object", "properties": {
    "status": {"type": "string"}, "sessions_ended": {"type": "integer"}, "grants_revoked": {"type": "integer"},
    "login_budget_cleared": {"type": "boolean"}}}
NOT_FOUND = {"404": "No account has this number (error: account_not_found)."}


@operation("/accounts/search", "POST", permission=ACCOUNTS_READ, summary="Find accounts by an exact identifier",
           tag="accounts", request_schema=SEARCH_SCHEMA,
           response_schema={"type": "object", "properties": {"query_masked": {"type": "string"},
                                                             "accounts": {"type": "array", "items": SUMMARY_SCHEMA}}},
           errors={"429": "Too many searches by this client (error: slow_down)."})
def search() -> Response:
    body = request_body()
    try:
        query, results = search_accounts(current_admin(), body["kind"], body["value"])
    except AdminRefusal as exc:
        return api_refusal(exc)
    db.session.commit()
    return api_json({"query_masked": query.masked, "accounts": [row.as_json() for row in results]})


@operation("/accounts/<int:account_id>", "GET", permission=ACCOUNTS_READ, summary="One account in detail (audited)",
           tag="accounts", response_schema=DETAIL_SCHEMA, errors=NOT_FOUND)
def detail(account_id: int) -> Response:
    try:
        found = account_detail(current_admin(), get_account(account_id))
    except AdminRefusal as exc:
        return api_refusal(exc)
    db.session.commit()
    return api_json(found)


def _act(account_id: int, action) -> Response:  # noqa: ANN001 - one of the account_actions functions
    try:
        outcome = action(current_admin(), get_account(account_id), request_body()["reason"])
    except AdminRefusal as exc:
        return api_refusal(exc)
    db.session.commit()
    return api_json(outcome.as_json())


@operation("/accounts/<int:account_id>/lock", "POST", permission=ACCOUNTS_WRITE, tag="accounts",
           summary="Lock an account: it cannot log in; its sessions end with single logout, its tokens are revoked",
           request_schema=REASON_SCHEMA, response_schema=OUTCOME_SCHEMA,
           errors={**NOT_FOUND, "409": "The account is not active, or is the caller's own "
                                       "(error: account_not_active, own_account)."})
def lock(account_id: int) -> Response:
    return _act(account_id, lock_account)


@operation("/accounts/<int:account_id>/unlock", "POST", permission=ACCOUNTS_UNLOCK, tag="accounts",
           summary="Unlock an account and clear the block after failed logins",
           request_schema=REASON_SCHEMA, response_schema=OUTCOME_SCHEMA,
           errors={**NOT_FOUND, "409": "The account is not locked (error: account_not_locked)."})
def unlock(account_id: int) -> Response:
    return _act(account_id, unlock_account)


@operation("/accounts/<int:account_id>/sessions/end", "POST", permission=ACCOUNTS_WRITE, tag="accounts",
           summary="End all sessions: back-channel logout to every portal, refresh tokens revoked",
           request_schema=REASON_SCHEMA, response_schema=OUTCOME_SCHEMA, errors=NOT_FOUND)
def end_sessions(account_id: int) -> Response:
    return _act(account_id, end_all_sessions)
