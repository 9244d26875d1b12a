"""The admin API for client portals (/admin/api/clients..., /admin/api/registration-requests,
/admin/api/initial-access-tokens): the pages' operations (idp.admin.clients) over the same service
functions, documented in the OpenAPI document. Errors are {"error", "error_description"} in English."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask import request
from werkzeug.wrappers import Response

from idp.admin.access import CLIENTS_APPROVE
from idp.admin.access import CLIENTS_READ
from idp.admin.access import CLIENTS_WRITE
from idp.admin.access import api_error
from idp.admin.access import current_admin
from idp.admin.client_actions import decide_request
from idp.admin.client_actions import edit_portal
from idp.admin.client_actions import issue_initial_access_token
from idp.admin.client_actions import pending_requests
from idp.admin.client_actions import rotate_secret
from idp.admin.client_actions import set_portal_suspended
from idp.admin.client_admin import ADMIN_AUTH_METHODS
from idp.admin.client_admin import MAX_QUERY
from idp.admin.client_admin import MAX_REASON
from idp.admin.client_admin import STATUSES
from idp.admin.client_admin import TOKEN_LIFETIME_MAX
from idp.admin.client_admin import TOKEN_LIFETIME_MIN
from idp.admin.client_admin import PortalAdminError
from idp.admin.client_admin import check_filters
from idp.admin.client_admin import find_portals
from idp.admin.client_admin import get_portal
from idp.admin.client_admin import portal_json
from idp.admin.client_usage import portal_usage
from idp.admin.openapi import operation
from idp.admin.openapi import request_body
from idp.auth.assurance import ACR_VALUES
from idp.extensions import db
from idp.oidc.keys import ALGORITHMS

NULLABLE_STRING = {"type": ["string", "null"]}
URI = {"type": "string", "maxLength": 500}
OPTIONAL_URI = {"type": ["string", "null"], "maxLength": 500}
URIS = {"type": "array", "items": URI, "maxItems": 20}
PORTAL_SCHEMA = {
    "type": "object",
    "required": ["client_id", "status", "metadata"],
    "properties": {
        "client_id": {"type": "string"}, "status": {"enum": list(STATUSES)}, "agency": NULLABLE_STRING,
        "agency_code": NULLABLE_STRING, "trusted": {"type": "boolean"}, "created_at": {"type": "string"},
        "has_client_secret": {"type": "boolean"},
        "metadata": {"type": "object", "description": "RFC 7591 / OpenID Connect Registration metadata."},
        "registration": {"type": ["object", "null"], "properties": {
            "status": {"type": "string"}, "reason": NULLABLE_STRING, "created_at": {"type": "string"},
            "decided_at": NULLABLE_STRING, "decided_by": NULLABLE_STRING, "via": {"enum": ["web", "api"]},
            "submitted_by": {"type": ["integer", "null"]}, "contact_email": NULLABLE_STRING,
            "contacts": {"type": "array", "items": {"type": "string"}, "maxItems": 5,
                         "description": "RFC 7591 §2 contacts of an API request; told of the decision."}}},
    },
}
EDIT_SCHEMA = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "description": "The metadata to change (RFC 7591 names); null removes an optional value.",
    "properties": {
        "client_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "redirect_uris": {**URIS, "minItems": 1}, "post_logout_redirect_uris": URIS,
        "backchannel_logout_uri": OPTIONAL_URI, "frontchannel_logout_uri": OPTIONAL_URI,
        "jwks_uri": OPTIONAL_URI, "sector_identifier_uri": OPTIONAL_URI, "jwks": {"type": ["object", "null"]},
        "token_endpoint_auth_method": {"enum": list(ADMIN_AUTH_METHODS)},
        "scope": {"type": "string", "maxLength": 1000},
        "default_acr_values": {"type": ["array", "null"], "items": {"enum": list(ACR_VALUES)}, "maxItems": 1},
        "minimum_acr": {"enum": [*ACR_VALUES, None]},
        "id_token_signed_response_alg": {"enum": [*ALGORITHMS, None]},
        "agency": {"type": ["string", "null"], "maxLength": 200},
        "agency_code": {"type": ["string", "null"], "maxLength": 64,
                        "description": "National administrators only."},
    },
}
NOT_FOUND = {"404": "No such portal, or not one the token's agency reaches (error: not_found)."}
CONFLICT = {"409": "The portal is not in a state that allows this (error: invalid_state)."}


def _refused(exc: PortalAdminError) -> Response:
    db.session.rollback()
    return api_error(exc.status, exc.code, exc.english)


def _portal_response(client_id: str, status: int = 200) -> Response:
    response = jsonify(portal_json(get_portal(current_admin(), client_id)))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@operation("/clients", "GET", permission=CLIENTS_READ, summary="List and search portals", tag="clients",
           parameters=(
               {"name": "q", "in": "query", "description": "Part of the name, client_id, agency or agency code.",
                "schema": {"type": "string", "maxLength": MAX_QUERY}},
               {"name": "status", "in": "query", "schema": {"enum": list(STATUSES)}},
               {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}),
           response_schema={"type": "object", "properties": {
               "portals": {"type": "array", "items": PORTAL_SCHEMA}, "page": {"type": "integer"},
               "next_page": {"type": ["integer", "null"]}}})
def list_portals() -> Response:
    try:
        q, status, page = check_filters(request.args.get("q"), request.args.get("status"), request.args.get("page"))
    except PortalAdminError as exc:
        return _refused(exc)
    rows, more = find_portals(current_admin(), q, status, page)
    return jsonify(portals=[portal_json(row) for row in rows], page=page, next_page=page + 1 if more else None)


@operation("/clients/<client_id>", "GET", permission=CLIENTS_READ, summary="A portal's metadata and status",
           tag="clients", response_schema=PORTAL_SCHEMA, errors=NOT_FOUND)
def show_portal(client_id: str) -> Response:
    try:
        return _portal_response(client_id)
    except PortalAdminError as exc:
        return _refused(exc)


@operation("/clients/<client_id>/usage", "GET", permission=CLIENTS_READ, tag="clients",
           summary="Logins per day (30 days), live grants, failed back-channel logout deliveries",
           response_schema={"type": "object", "properties": {
               "logins_per_day": {"type": "array", "items": {"type": "object", "properties": {
                   "date": {"type": "string", "format": "date"}, "count": {"type": "integer"}}}},
               "live_grants": {"type": "integer"},
               "logout_deliveries": {"type": "object", "properties": {
                   "failed": {"type": "integer"}, "pending": {"type": "integer"},
                   "recent_failures": {"type": "array", "items": {"type": "object"}}}}}},
           errors=NOT_FOUND)
def show_usage(client_id: str) -> Response:
    try:
        portal = get_portal(current_admin(), client_id)
    except PortalAdminError as exc:
        return _refused(exc)
    return jsonify(portal_usage(portal.client.client_id).as_json())


@operation("/clients/<client_id>", "PATCH", permission=CLIENTS_WRITE, tag="clients",
           summary="Edit a portal's metadata (the registration's validation; all or nothing)",
           request_schema=EDIT_SCHEMA,
           response_schema={"type": "object", "properties": {
               "portal": PORTAL_SCHEMA, "changed": {"type": "array", "items": {"type": "string"}},
               "client_secret": {"type": "string", "description": "Only when the change needs a new secret; "
                                                                  "shown once."}}},
           errors={**NOT_FOUND, **CONFLICT, "400": "A metadata value is refused (error: invalid_client_metadata, "
                                                   "invalid_redirect_uri or invalid_request)."})
def edit(client_id: str) -> Response:
    admin = current_admin()
    try:
        result = edit_portal(admin, get_portal(admin, client_id, CLIENTS_WRITE), request_body())
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    body: dict[str, Any] = {"portal": portal_json(get_portal(admin, client_id)), "changed": result.changed}
    if result.client_secret:
        body["client_secret"] = result.client_secret
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@operation("/clients/<client_id>/secret", "POST", permission=CLIENTS_WRITE, tag="clients",
           summary="Rotate the client secret (the old one stops working at once; the new one is shown once)",
           response_schema={"type": "object", "required": ["client_id", "client_secret"], "properties": {
               "client_id": {"type": "string"}, "client_secret": {"type": "string"}}},
           errors={**NOT_FOUND, **CONFLICT})
def rotate(client_id: str) -> Response:
    admin = current_admin()
    try:
        secret = rotate_secret(admin, get_portal(admin, client_id, CLIENTS_WRITE))
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    response = jsonify(client_id=client_id, client_secret=secret)
    response.headers["Cache-Control"] = "no-store"
    return response


def _suspension(client_id: str, suspended: bool) -> Response:
    admin = current_admin()
    try:
        set_portal_suspended(admin, get_portal(admin, client_id, CLIENTS_WRITE), suspended)
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    return _portal_response(client_id)


@operation("/clients/<client_id>/suspend", "POST", permission=CLIENTS_WRITE, tag="clients",
           summary="Suspend a portal (its tokens stop working at once)", response_schema=PORTAL_SCHEMA,
           errors={**NOT_FOUND, **CONFLICT})
def suspend(client_id: str) -> Response:
    return _suspension(client_id, suspended=True)


@operation("/clients/<client_id>/reactivate", "POST", permission=CLIENTS_WRITE, tag="clients",
           summary="Reactivate a suspended portal", response_schema=PORTAL_SCHEMA, errors={**NOT_FOUND, **CONFLICT})
def reactivate(client_id: str) -> Response:
    return _suspension(client_id, suspended=False)


def _decision(client_id: str, approve: bool, reason: str | None = None) -> Response:
    admin = current_admin()
    try:
        decide_request(admin, get_portal(admin, client_id), approve, reason)
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    return _portal_response(client_id)


@operation("/clients/<client_id>/approve", "POST", permission=CLIENTS_APPROVE, tag="registration",
           summary="Approve a registration request (the portal becomes active)", response_schema=PORTAL_SCHEMA,
           errors={**NOT_FOUND, **CONFLICT})
def approve(client_id: str) -> Response:
    return _decision(client_id, approve=True)


@operation("/clients/<client_id>/reject", "POST", permission=CLIENTS_APPROVE, tag="registration",
           summary="Reject a registration request with a reason (kept, audited, e-mailed to the contact)",
           request_schema={"type": "object", "required": ["reason"], "additionalProperties": False,
                           "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON}}},
           response_schema=PORTAL_SCHEMA, errors={**NOT_FOUND, **CONFLICT})
def reject(client_id: str) -> Response:
    return _decision(client_id, approve=False, reason=request_body()["reason"])


@operation("/registration-requests", "GET", permission=CLIENTS_APPROVE, tag="registration",
           summary="Registration requests waiting for a decision, oldest first",
           response_schema={"type": "object", "properties": {"requests": {"type": "array", "items": PORTAL_SCHEMA}}})
def list_requests() -> Response:
    return jsonify(requests=[portal_json(item.portal) for item in pending_requests()])


@operation("/initial-access-tokens", "POST", permission=CLIENTS_APPROVE, tag="registration", status=201,
           summary="Issue a single-use initial access token for POST /oauth2/register (shown once)",
           request_schema={"type": "object", "required": ["expires_in"], "additionalProperties": False,
                           "properties": {"expires_in": {"type": "integer", "minimum": TOKEN_LIFETIME_MIN,
                                                         "maximum": TOKEN_LIFETIME_MAX,
                                                         "description": "Seconds until it expires."}}},
           response_schema={"type": "object", "required": ["initial_access_token", "expires_at"], "properties": {
               "id": {"type": "integer"}, "initial_access_token": {"type": "string"},
               "expires_at": {"type": "string", "format": "date-time"}}})
def initial_access_token() -> Response:
    try:
        token, row = issue_initial_access_token(current_admin(), request_body()["expires_in"])
    except PortalAdminError as exc:
        return _refused(exc)
    db.session.commit()
    response = jsonify(id=row.id, initial_access_token=token, expires_at=row.expires_at.isoformat())
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
