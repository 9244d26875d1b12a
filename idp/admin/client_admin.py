"""Client portals in the admin console: find them, review registration requests, edit metadata, rotate
secrets, suspend and reactivate, issue initial access tokens.

The one place for this logic: the pages (idp.admin.clients) and the JSON API (idp.admin.clients_api)
call these functions and only translate their results. Validation is the registration's own
(idp.oidc.registration.parse_metadata, idp.oidc.client_updates.update_client) and so are the state
changes (idp.oidc.registration.decide, set_suspended). Every function checks the acting admin's reach
on the portal, raises PortalAdminError (status, stable code, English msgid), audits changes with
record_change, and never commits: the caller commits on success and rolls back on error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from idp.admin.access import CLIENTS_READ
from idp.admin.access import Admin
from idp.audit import record_change
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.oidc.models import Client
from idp.oidc.models import ClientStatus
from idp.oidc.registration import AUTH_METHODS
from idp.oidc.registration_models import RegistrationRequest
from idp.oidc.registration_models import RegistrationStatus

# What the console shows and filters by: the client's status, or the request's when it ended the portal.
ACTIVE, PENDING, SUSPENDED = ClientStatus.ACTIVE.value, ClientStatus.PENDING.value, ClientStatus.SUSPENDED.value
REJECTED, DELETED = RegistrationStatus.REJECTED.value, RegistrationStatus.DELETED.value
STATUSES = (ACTIVE, PENDING, SUSPENDED, REJECTED, DELETED)
# Admins may keep or set a public client (PKCE, no secret) besides the self-registration methods.
ADMIN_AUTH_METHODS = (*AUTH_METHODS, "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
# Metadata an admin may edit (RFC 7591 / OIDC Registration names, plus the agency fields).
EDITABLE = ("client_name", "redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri",
            "frontchannel_logout_uri", "token_endpoint_auth_method", "scope", "default_acr_values", "minimum_acr",
            "id_token_signed_response_alg", "jwks", "jwks_uri", "sector_identifier_uri", "agency", "agency_code")
ADMIN_API_SECTOR = "admin-api"  # idp.admin.api_clients: machine clients of the admin API, not portals
MAX_QUERY = 100
MAX_REASON = 500
MAX_AGENCY = 200
PAGE_SIZE = 50
MAX_PAGE = 10_000
TOKEN_LIFETIME_MIN, TOKEN_LIFETIME_MAX = 300, 30 * 86400


class PortalAdminError(IdpError):
    """A refused console action: HTTP status, stable code, English msgid with %(name)s parameters."""

    def __init__(self, status: int, code: str, message: str, params: dict[str, Any] | None = None,
                 from_metadata: bool = False) -> None:
        super().__init__(code, message)
        self.status, self.params, self.from_metadata = status, dict(params or {}), from_metadata

    @property
    def english(self) -> str:
        return self.message % self.params if self.params else self.message

    def localized(self) -> str:
        """The message in the page's language (registration messages through their own catalogue entries)."""
        if self.from_metadata:
            from idp.oidc.registration_form import translate_metadata_error

            return translate_metadata_error(self.message)
        return gettext(self.message, **self.params)


def refuse(status: int, code: str, message: str, **params: Any) -> PortalAdminError:
    return PortalAdminError(status, code, message, params)


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def has_control_characters(text: str, allow_newlines: bool = False) -> bool:
    """Control characters (C0, DEL, C1) or bidirectional overrides, which can disguise text in a page or e-mail."""
    allowed = "\r\n\t" if allow_newlines else ""
    return any((ord(c) < 32 and c not in allowed) or 0x7F <= ord(c) < 0xA0 or c in BIDI_CONTROLS for c in text)


def actor_label(admin: Admin) -> str:
    """Who acted, for columns that name the decider: "account:<id>" or "api:<client_id>"."""
    return f"account:{admin.account_id}" if admin.account_id is not None else f"api:{admin.client_id}"[:100]


# --- finding portals ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Portal:
    client: Client
    request: RegistrationRequest | None

    @property
    def status(self) -> str:
        if self.request is not None and self.request.status in (REJECTED, DELETED):
            return str(self.request.status)
        return str(self.client.status)


def check_filters(q: Any, status: Any, page: Any) -> tuple[str, str | None, int]:
    """Validate the list's search text, status filter and page number (strings from a query or JSON)."""
    q = "" if q is None else q
    if not isinstance(q, str) or len(q) > MAX_QUERY or has_control_characters(q):
        raise refuse(400, "invalid_request", N_("The search text must be at most %(count)s plain characters."),
                      count=MAX_QUERY)
    if status in (None, ""):
        status = None
    elif status not in STATUSES:
        raise refuse(400, "invalid_request", N_("Unknown status filter."))
    try:
        number = int(page) if page not in (None, "") else 1
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= MAX_PAGE:
        raise refuse(400, "invalid_request", N_("The page number is not valid."))
    return q.strip(), status, number


def _status_condition(status: str) -> Any:
    decided = RegistrationRequest.status
    if status in (REJECTED, DELETED):
        return decided == status
    if status == SUSPENDED:
        return and_(Client.status == SUSPENDED, or_(decided.is_(None), decided.notin_((REJECTED, DELETED))))
    return Client.status == status


def find_portals(admin: Admin, q: str = "", status: str | None = None, page: int = 1) -> tuple[list[Portal], bool]:
    """The portals the admin may read matching the search (name, client_id, agency, agency code); and
    whether there is a next page."""
    query = (select(Client, RegistrationRequest)
             .outerjoin(RegistrationRequest, RegistrationRequest.client_id == Client.client_id)
             .where(Client.sector_identifier != ADMIN_API_SECTOR))
    scope = admin.scope_of(CLIENTS_READ)
    if scope is not None:
        query = query.where(Client.agency_code.in_(sorted(scope)))
    if q:
        pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            Client.name, Client.client_id, Client.agency, Client.agency_code))))
    if status is not None:
        query = query.where(_status_condition(status))
    query = query.order_by(Client.name, Client.client_id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    rows = [Portal(client, request) for client, request in db.session.execute(query).all()]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def get_portal(admin: Admin, client_id: str, permission: str = CLIENTS_READ) -> Portal:
    """The portal if `permission` reaches it; 404 when it does not exist or the admin may not even read it
    (its existence is not revealed), 403 when it may be read but not changed."""
    client = None
    if isinstance(client_id, str) and 0 < len(client_id) <= 64 and client_id.isprintable():
        client = db.session.get(Client, client_id)
    if client is None or client.sector_identifier == ADMIN_API_SECTOR or not admin.can_on_client(CLIENTS_READ,
                                                                                                   client):
        raise refuse(404, "not_found", N_("No such portal."))
    if not admin.can_on_client(permission, client):
        raise refuse(403, "insufficient_scope", N_("Your role does not allow this on this portal."))
    return Portal(client, db.session.get(RegistrationRequest, client_id))


def portal_json(portal: Portal) -> dict[str, Any]:
    """The API's view of a portal: metadata in RFC 7591 names, agency, status and the registration request."""
    client, request = portal.client, portal.request
    body = {"client_id": client.client_id, "status": portal.status, "agency": client.agency,
            "agency_code": client.agency_code, "trusted": client.trusted,
            "created_at": client.created_at.isoformat(), "metadata": metadata_of(client),
            "has_client_secret": client.client_secret_hash is not None, "registration": None}
    if request is not None:
        body["registration"] = {
            "status": request.status, "reason": request.reason, "created_at": request.created_at.isoformat(),
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "decided_by": request.decided_by, "via": "web" if request.submitted_by is not None else "api",
            "submitted_by": request.submitted_by, "contact_email": request.contact_email,
            "contacts": list(request.contacts or [])}
    return body


def metadata_of(client: Client) -> dict[str, Any]:
    """The portal's current metadata as parse_metadata reads it (RFC 7591 / OIDC Registration names)."""
    meta = {key: value for key, value in client.client_metadata.items() if value is not None}
    meta.pop("grant_types", None)  # kept as they are (update_client adjusts them to a new auth method)
    meta.pop("response_types", None)
    for name in ("frontchannel_logout_uri", "minimum_acr", "jwks"):
        if getattr(client, name, None):
            meta[name] = getattr(client, name)
    if client.default_acr:
        meta["default_acr_values"] = [client.default_acr]
    return meta


def snapshot(client: Client) -> dict[str, Any]:
    """What an audit record compares: metadata, agency, status and the secret's digest (redacted there)."""
    return {**metadata_of(client), "agency": client.agency, "agency_code": client.agency_code,
            "status": client.status, "client_secret": client.client_secret_hash}


def audit_change(admin: Admin, event: str, client: Client, before: dict, after: dict, **data: Any) -> None:
    record_change(event, **admin.actor, target_type="client", target_id=client.client_id, before=before,
                  after=after, client_id=client.client_id, **data)
