"""What admins change on portals: edit metadata, rotate the secret, suspend/reactivate, decide registration
requests, issue initial access tokens (shared by idp.admin.clients pages and idp.admin.clients_api).

Each function takes the acting Admin and a Portal already found with the right permission
(idp.admin.client_admin.get_portal), raises PortalAdminError, audits with record_change and leaves the
commit to the caller (a refused action is rolled back by the caller: nothing is partially saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from idp.accounts.models import Account
from idp.admin.access import CLIENTS_APPROVE
from idp.admin.access import CLIENTS_WRITE
from idp.admin.access import Admin
from idp.admin.client_admin import ACTIVE
from idp.admin.client_admin import ADMIN_AUTH_METHODS
from idp.admin.client_admin import EDITABLE
from idp.admin.client_admin import MAX_AGENCY
from idp.admin.client_admin import MAX_REASON
from idp.admin.client_admin import PENDING
from idp.admin.client_admin import SECRET_METHODS
from idp.admin.client_admin import SUSPENDED
from idp.admin.client_admin import TOKEN_LIFETIME_MAX
from idp.admin.client_admin import TOKEN_LIFETIME_MIN
from idp.admin.client_admin import Portal
from idp.admin.client_admin import PortalAdminError
from idp.admin.client_admin import actor_label
from idp.admin.client_admin import audit_change
from idp.admin.client_admin import has_control_characters
from idp.admin.client_admin import metadata_of
from idp.admin.client_admin import refuse
from idp.admin.client_admin import snapshot
from idp.audit import record_change
from idp.extensions import db
from idp.i18n import N_
from idp.notify import send
from idp.oidc.client_updates import update_client
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import check_agency_code
from idp.oidc.registration import RegistrationError
from idp.oidc.registration import create_initial_access_token
from idp.oidc.registration import decide
from idp.oidc.registration import parse_metadata
from idp.oidc.registration import set_suspended
from idp.oidc.registration_models import InitialAccessToken
from idp.oidc.registration_models import RegistrationRequest
from idp.oidc.registration_models import RegistrationStatus
from idp.oidc.secrets import hash_client_secret
from idp.oidc.secrets import new_client_secret


def _metadata_refusal(exc: InvalidClientMetadata) -> PortalAdminError:
    return PortalAdminError(400, exc.code, exc.message, from_metadata=True)


# --- edit -----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EditResult:
    changed: list[str]
    client_secret: str | None  # a secret the portal needs now (switched to a secret method), shown once


def _agency(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_AGENCY or has_control_characters(value):
        raise refuse(400, "invalid_client_metadata", N_("The agency must be at most %(count)s plain characters."),
                      count=MAX_AGENCY)
    return value.strip() or None


def _new_agency_code(admin: Admin, portal: Portal, changes: dict) -> str | None:
    current = portal.client.agency_code
    if (changes.get("agency_code", current) or None) == current:
        return current
    if admin.scope_of(CLIENTS_WRITE) is not None:
        raise refuse(403, "insufficient_scope", N_("Only a national administrator may change the agency code."))
    code = changes["agency_code"] or None
    try:
        return None if code is None else check_agency_code(code)
    except InvalidClientMetadata as exc:
        raise refuse(400, "invalid_client_metadata", N_("The agency code must be 1 to 64 characters: lowercase "
                                                         "letters, digits, '.', '_' or '-'.")) from exc


def check_editable(admin: Admin, portal: Portal) -> None:
    """Refuse to edit a rejected or deleted portal, or a pending request for anyone but a national admin."""
    if portal.status not in (ACTIVE, PENDING, SUSPENDED):
        raise refuse(409, "invalid_state", N_("A rejected or deleted registration cannot be edited."))
    if portal.status == PENDING and not admin.can(CLIENTS_APPROVE):
        raise refuse(403, "insufficient_scope", N_("Only a national administrator may edit a registration "
                                                    "request before it is decided."))


def edit_portal(admin: Admin, portal: Portal, changes: dict[str, Any]) -> EditResult:
    """Apply `changes` (EDITABLE names; None removes an optional value) with the registration's validation.

    Agency administrators may narrow a portal's scopes but not add one, and may not change its agency code:
    both widen what the portal (or who manages it) reaches, a national decision like the approval."""
    client = portal.client
    check_editable(admin, portal)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise refuse(400, "invalid_request", N_("%(name)s cannot be edited."), name=unknown[0][:64])
    agency = _agency(changes["agency"]) if "agency" in changes else client.agency
    agency_code = _new_agency_code(admin, portal, changes)
    meta = {**metadata_of(client), **{k: v for k, v in changes.items() if k not in ("agency", "agency_code")}}
    meta = {key: value for key, value in meta.items() if value is not None}
    try:
        reg, frontchannel = parse_metadata(meta, auth_methods=ADMIN_AUTH_METHODS)
    except InvalidClientMetadata as exc:
        raise _metadata_refusal(exc) from exc
    added = sorted(set(reg.scopes) - set(client.scope.split()))
    if added and admin.scope_of(CLIENTS_WRITE) is not None:
        raise refuse(403, "insufficient_scope", N_("Only a national administrator may allow a portal a new scope "
                                                    "(%(scope)s)."), scope=added[0])
    reg.agency, reg.agency_code, reg.trusted = agency, agency_code, client.trusted
    before = snapshot(client)
    try:
        _changed, shown = update_client(client, reg, frontchannel)
    except InvalidClientMetadata as exc:
        raise _metadata_refusal(exc) from exc
    client.jwks = reg.jwks
    client.agency_code = agency_code  # update_client never clears it (RFC 7592 updates name none)
    after = snapshot(client)
    changed_keys = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    if changed_keys:
        audit_change(admin, "admin.client.updated", client, before, after)
    return EditResult(changed_keys, shown)


# --- secret, suspension ---------------------------------------------------------------------------------
def rotate_secret(admin: Admin, portal: Portal) -> str:
    """Replace the portal's client secret; the old one stops working at once. Return the new one (shown once)."""
    client = portal.client
    if portal.status not in (ACTIVE, SUSPENDED):
        raise refuse(409, "invalid_state", N_("Only an approved portal's secret can be rotated."))
    if client.token_endpoint_auth_method not in SECRET_METHODS:
        raise refuse(409, "invalid_state", N_("This portal authenticates without a client secret."))
    before = snapshot(client)
    secret = new_client_secret()
    client.client_secret_hash = hash_client_secret(secret)
    audit_change(admin, "admin.client.secret_rotated", client, before, snapshot(client))
    return secret


def set_portal_suspended(admin: Admin, portal: Portal, suspended: bool) -> None:
    """Suspend an active portal (its tokens stop working on their next use) or reactivate a suspended one."""
    if portal.status != (ACTIVE if suspended else SUSPENDED):
        raise refuse(409, "invalid_state", N_("Only an active portal can be suspended.") if suspended
                      else N_("Only a suspended, approved portal can be reactivated."))
    before = snapshot(portal.client)
    try:
        set_suspended(portal.client.client_id, suspended)
    except RegistrationError as exc:
        raise refuse(409, "invalid_state", N_("Only a suspended, approved portal can be reactivated.")) from exc
    audit_change(admin, "admin.client.suspended" if suspended else "admin.client.reactivated", portal.client, before,
           snapshot(portal.client))


# --- registration requests ------------------------------------------------------------------------------
def check_reason(reason: Any, required: bool) -> str | None:
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        if required:
            raise refuse(400, "invalid_request", N_("Give the reason for the rejection."))
        return None
    if not isinstance(reason, str) or len(reason) > MAX_REASON or has_control_characters(reason, allow_newlines=True):
        raise refuse(400, "invalid_request", N_("The reason must be at most %(count)s plain characters."),
                      count=MAX_REASON)
    return reason.strip()


def decide_request(admin: Admin, portal: Portal, approve: bool, reason: Any = None) -> None:
    """Approve (the portal becomes active) or reject with a reason (kept, audited, e-mailed to the contacts)."""
    text = check_reason(reason, required=not approve)
    client_id = portal.client.client_id
    # Lock the request: two admins deciding at once must not both succeed.
    row = db.session.execute(select(RegistrationRequest).where(RegistrationRequest.client_id == client_id)
                             .with_for_update().execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None or row.status != RegistrationStatus.PENDING:
        raise refuse(409, "invalid_state", N_("This portal has no registration request waiting for a decision."))
    before = {**snapshot(portal.client), "request": row.status}
    client = decide(client_id, approve, text)
    row.decided_by = actor_label(admin)
    audit_change(admin, "admin.client.approved" if approve else "admin.client.rejected", client, before,
           {**snapshot(client), "request": row.status}, reason=text)
    for address in decision_recipients(row):
        send("email", address, "client.registration_approved" if approve else "client.registration_rejected",
             portal=client.name, client_id=client_id, reason=text or "")


def decision_recipients(row: RegistrationRequest) -> list[str]:
    """Who is told of a decision: the web form's contact e-mail and the RFC 7591 §2 contacts, each once."""
    recipients: dict[str, str] = {}
    for address in [row.contact_email, *(row.contacts or [])]:
        if address:
            recipients.setdefault(address.lower(), address)
    return list(recipients.values())


@dataclass(frozen=True, slots=True)
class PendingRequest:
    portal: Portal
    submitter: Account | None


def pending_requests() -> list[PendingRequest]:
    """Registration requests waiting for a decision, oldest first, with the account that sent a web request."""
    from idp.oidc.models import Client

    rows = db.session.execute(
        select(Client, RegistrationRequest, Account)
        .join(RegistrationRequest, RegistrationRequest.client_id == Client.client_id)
        .outerjoin(Account, Account.id == RegistrationRequest.submitted_by)
        .where(RegistrationRequest.status == RegistrationStatus.PENDING)
        .order_by(RegistrationRequest.created_at, Client.client_id).limit(500)).all()
    return [PendingRequest(Portal(client, request), account) for client, request, account in rows]


# --- initial access tokens ------------------------------------------------------------------------------
def issue_initial_access_token(admin: Admin, expires_in: Any) -> tuple[str, InitialAccessToken]:
    """A single-use initial access token for POST /oauth2/register (shown once) and its row."""
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not (
            TOKEN_LIFETIME_MIN <= expires_in <= TOKEN_LIFETIME_MAX):
        raise refuse(400, "invalid_request", N_("The lifetime must be %(low)s to %(high)s seconds."),
                      low=TOKEN_LIFETIME_MIN, high=TOKEN_LIFETIME_MAX)
    token, row = create_initial_access_token(actor_label(admin), timedelta(seconds=expires_in))
    record_change("admin.client.initial_access_token_created", **admin.actor, target_type="initial_access_token",
                  target_id=row.id, before=None, after={"expires_at": row.expires_at.isoformat()})
    return token, row


def recent_initial_access_tokens(limit: int = 20) -> list[InitialAccessToken]:
    """The latest initial access tokens (digests only), newest first."""
    return list(db.session.execute(select(InitialAccessToken).order_by(InitialAccessToken.created_at.desc(),
                                                                       InitialAccessToken.id.desc())
                                   .limit(limit)).scalars())
