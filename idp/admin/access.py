"""Who may do what in the admin console: roles → permissions, agency scopes, and the two doors.

One authorization model behind both doors:
- pages (`admin_page`): a browser session of an account holding a staff role, authenticated at
  the high level (or a second factor on top of a verified identity), recently (admin.session_lifetime),
  and very recently for destructive actions (admin.reauth_seconds);
- the JSON API (`admin_api`): an RFC 9068 access token from client_credentials whose scopes name
  admin roles (ADMIN_SCOPES); an agency-admin token acts for its client's agency.

Roles live in idp.accounts.roles. An agency administrator's role scope is an agency code: it reaches
the portals whose `Client.agency_code` is that code, and nothing else. Every refusal is audited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import g
from flask import jsonify
from flask import redirect
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from idp.accounts.linking import identity_level
from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import roles_of
from idp.audit import record
from idp.auth.session import LoginState
from idp.auth.session import current_login
from idp.errors import error_page
from idp.extensions import db
from idp.settings import current_settings
from idp.verifiers.base import Level

# --- permissions -----------------------------------------------------------------------------------

CLIENTS_READ = "clients.read"
CLIENTS_WRITE = "clients.write"  # edit metadata, rotate secrets, suspend/reactivate (agency admins: their own)
CLIENTS_APPROVE = "clients.approve"  # decide registration requests, issue initial access tokens
SOURCES_READ = "sources.read"
SOURCES_WRITE = "sources.write"
ACCOUNTS_READ = "accounts.read"
ACCOUNTS_UNLOCK = "accounts.unlock"
ACCOUNTS_WRITE = "accounts.write"  # lock, end sessions, resolve linking reviews
ROLES_WRITE = "roles.write"
AUDIT_READ = "audit.read"
AUDIT_EXPORT = "audit.export"
STATS_READ = "stats.read"

ALL_PERMISSIONS = frozenset({
    CLIENTS_READ, CLIENTS_WRITE, CLIENTS_APPROVE, SOURCES_READ, SOURCES_WRITE, ACCOUNTS_READ, ACCOUNTS_UNLOCK,
    ACCOUNTS_WRITE, ROLES_WRITE, AUDIT_READ, AUDIT_EXPORT, STATS_READ,
})
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    NATIONAL_ADMIN: ALL_PERMISSIONS,
    # Scoped to the agency codes of the role grants.
    AGENCY_ADMIN: frozenset({CLIENTS_READ, CLIENTS_WRITE, STATS_READ}),
    HELPDESK: frozenset({ACCOUNTS_READ, ACCOUNTS_UNLOCK}),
    AUDITOR: frozenset({CLIENTS_READ, SOURCES_READ, ACCOUNTS_READ, AUDIT_READ, AUDIT_EXPORT, STATS_READ}),
}
STAFF_ROLES = frozenset(ROLE_PERMISSIONS)
# client_credentials scopes that make an access token act with a role's permissions.
ADMIN_SCOPES = {
    "admin:national": NATIONAL_ADMIN,
    "admin:agency": AGENCY_ADMIN,
    "admin:helpdesk": HELPDESK,
    "admin:auditor": AUDITOR,
}
# amr values of a second factor that, on top of a verified identity, let a session into the console.
SECOND_FACTOR_AMR = frozenset({"otp", "hwk", "swk", "x509", "sc"})


@dataclass(frozen=True, slots=True)
class Admin:
    """The principal behind an admin request: a staff account (pages) or an API client (tokens)."""

    account_id: int | None
    client_id: str | None
    # Role → agency codes it is limited to (None: unlimited).
    grants: dict[str, frozenset[str] | None]

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(self.grants)

    def scope_of(self, permission: str) -> frozenset[str] | None:
        """Agency codes the permission reaches: None = all of them, empty = none."""
        reach: set[str] = set()
        for role, agencies in self.grants.items():
            if permission in ROLE_PERMISSIONS.get(role, ()):
                if agencies is None:
                    return None
                reach |= agencies
        return frozenset(reach)

    def can(self, permission: str, agency_code: str | None = None) -> bool:
        """Whether the permission is held at all, or (with `agency_code`) for that agency's portals."""
        scope = self.scope_of(permission)
        if scope is None:
            return True
        return bool(scope) if agency_code is None else agency_code in scope

    def can_on_client(self, permission: str, client: Any) -> bool:
        """Whether the permission reaches this portal (agency admins: only their agency's)."""
        scope = self.scope_of(permission)
        return scope is None or (client.agency_code is not None and client.agency_code in scope)

    @property
    def actor(self) -> dict[str, Any]:
        """Who acted, as keyword arguments of idp.audit.record_change: `record_change(event, **admin.actor, ...)`."""
        if self.account_id is not None:
            return {"actor_id": self.account_id}
        return {"actor_id": None, "actor_client": self.client_id}


def current_admin() -> Admin:
    """The principal of the current admin request (set by admin_page / admin_api)."""
    return g.admin


def admin_of_account(account_id: int) -> Admin | None:
    grants: dict[str, frozenset[str] | None] = {}
    for row in roles_of(account_id):
        if row.role == AGENCY_ADMIN:
            # An unscoped agency-admin grant reaches no agency (never all of them).
            grants[row.role] = (grants.get(row.role) or frozenset()) | ({row.scope} if row.scope else set())
        elif row.role in STAFF_ROLES:
            grants[row.role] = None
    return Admin(account_id=account_id, client_id=None, grants=grants) if grants else None


def strong_enough(login: LoginState) -> bool:
    """High-level session, or a second factor on top of an identity verified at substantial or above."""
    level = Level.from_acr(login.acr) or Level.LOW
    if level >= Level.HIGH:
        return True
    return (level >= Level.SUBSTANTIAL and bool(SECOND_FACTOR_AMR & set(login.amr))
            and identity_level(login.account) >= Level.SUBSTANTIAL)


def _same_origin_back() -> str:
    """Where to come back after re-authenticating: the page itself for GET, the referring admin page for POST."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host and referrer.path.startswith("/admin"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return url_for("admin.home")


def _step_up() -> Response:
    return redirect(url_for("auth.login", acr=Level.HIGH.acr, prompt="login", next=_same_origin_back()), code=303)


def refuse_page(permission: str, login: LoginState) -> tuple[str, int]:
    record("admin.denied", account_id=login.account.id, permission=permission, path=request.path)
    db.session.commit()
    return error_page(403, _("Not allowed"), _("Your account does not have the role needed for this page."))


def admin_page(permission: str | None, *, destructive: bool = False) -> Callable:
    """Guard an admin page (`permission` None: any staff role). `destructive` POSTs need a very recent
    authentication."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            login = current_login()
            if login is None:
                return redirect(url_for("auth.login", next=_same_origin_back()), code=303)
            admin = admin_of_account(login.account.id)
            if admin is None or (permission is not None and not admin.can(permission)):
                return refuse_page(permission or "staff", login)
            settings = current_settings().admin
            age = time.time() - login.auth_time
            if not strong_enough(login) or age > settings.session_lifetime:
                return _step_up()
            if destructive and request.method == "POST" and age > settings.reauth_seconds:
                return _step_up()
            g.admin = admin
            return view(*args, **kwargs)

        guarded.admin_permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate


# --- the API door ----------------------------------------------------------------------------------

def api_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _bearer_error(status: int, error: str, description: str) -> Response:
    # RFC 6750 §3: the challenge names the error.
    return api_error(status, error, description,
                     {"WWW-Authenticate": f'Bearer realm="admin", error="{error}", error_description="{description}"'})


def admin_of_token() -> Admin | Response:
    from idp.oidc.runtime import runtime
    from idp.oidc.tokens import decode_access_token

    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return api_error(401, "invalid_token", "A bearer access token is required.",
                         {"WWW-Authenticate": 'Bearer realm="admin"'})
    token = decode_access_token(value.strip())
    if token is None or token.is_expired() or token.is_revoked():
        return _bearer_error(401, "invalid_token", "The access token is invalid, expired or revoked.")
    if token.account is not None or token.claims.get("gid") is not None:
        # Only client_credentials tokens: a person's token for a portal never opens the admin API.
        return _bearer_error(403, "insufficient_scope", "Admin API tokens come from the client_credentials grant.")
    client = runtime().find_client(token.claims.get("client_id"))
    grants: dict[str, frozenset[str] | None] = {}
    for scope in token.scope.split():
        role = ADMIN_SCOPES.get(scope)
        if role == AGENCY_ADMIN:
            code = getattr(client, "agency_code", None)
            grants[role] = frozenset({code}) if code else frozenset()
        elif role is not None:
            grants[role] = None
    if not grants:
        return _bearer_error(403, "insufficient_scope", "The access token carries no admin scope.")
    return Admin(account_id=None, client_id=token.claims.get("client_id"), grants=grants)


def admin_api(permission: str | None) -> Callable:
    """Guard an admin API endpoint (bearer token with an admin scope that grants `permission`;
    None: any admin scope)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            admin = admin_of_token()
            if isinstance(admin, Response):
                return admin
            if permission is not None and not admin.can(permission):
                record("admin.denied", client_id=admin.client_id, permission=permission, path=request.path)
                db.session.commit()
                return _bearer_error(403, "insufficient_scope", f"This needs the {permission} permission.")
            g.admin = admin
            return view(*args, **kwargs)

        guarded.admin_permission = permission  # type: ignore[attr-defined]
        return guarded

    return decorate


def scopes_granting(permission: str | None) -> list[str]:
    """The admin scopes whose role holds `permission` (for the OpenAPI security requirements)."""
    return [scope for scope, role in ADMIN_SCOPES.items() if permission is None or permission in ROLE_PERMISSIONS[role]]
