"""Staff roles: which account may do which staff work, optionally scoped (e.g. to one post office).

A small store, not a permission system: `has_role` answers one question for the staff pages
(the postal clerk UI, the admin console's idp.admin.access). Every grant and revocation is audited.

The rules for staff roles live here, so that the admin console (idp.admin.role_admin) and the
command line (`idp accounts grant-role|revoke-role`) enforce the same ones:
- `check_grant`: the role is known; a postal clerk needs its post office code and an agency
  administrator its agency code (the syntax of `Client.agency_code`, idp.oidc.clients.check_agency_code),
  since an unscoped grant of either reaches nothing; the national roles take no scope.
- `revoke_role` never removes the last national administrator, nor (when the revoker is known)
  the revoker's own last national administrator role.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.audit import record
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.errors import IdpError
from idp.extensions import db
from idp.i18n import N_
from idp.oidc.clients import InvalidClientMetadata
from idp.oidc.clients import check_agency_code

POSTAL_CLERK = "postal_clerk"  # confirms identities at a post office counter (scope: post office code)
# Defined now so that names stay stable; used by the admin console later.
NATIONAL_ADMIN = "national_admin"
AGENCY_ADMIN = "agency_admin"
HELPDESK = "helpdesk"
AUDITOR = "auditor"
KNOWN_ROLES = (POSTAL_CLERK, NATIONAL_ADMIN, AGENCY_ADMIN, HELPDESK, AUDITOR)
# Roles whose grant must name what it reaches (a post office, an agency); the others are national.
SCOPED_ROLES = frozenset({POSTAL_CLERK, AGENCY_ADMIN})
SCOPE_MAX = 64


class RoleError(IdpError):
    """A role that cannot be granted or revoked as asked."""


class AccountRole(db.Model):
    """One role held by one account, optionally limited to a scope (a post office, an agency)."""

    __tablename__ = "account_role"
    # One grant per (account, role, scope); NULL scopes compare equal through coalesce, so two
    # concurrent grants of the same role cannot both be stored.
    __table_args__ = (Index("uq_account_role_grant", "account_id", "role", func.coalesce(text("scope"), ""),
                            unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str | None] = mapped_column(String(SCOPE_MAX))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The account that granted it; None when granted from the command line.
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))

    def __repr__(self) -> str:
        return f"<AccountRole account_id={self.account_id} role={self.role} scope={self.scope}>"


def check_role(role: str, scope: str | None) -> None:
    """Raise RoleError unless `role` is known and `scope` is short printable ASCII."""
    if role not in KNOWN_ROLES:
        raise RoleError("unknown_role", N_("Unknown role."))
    if scope is not None and not (0 < len(scope) <= SCOPE_MAX and scope.isascii() and scope.isprintable()):
        raise RoleError("invalid_scope", N_("The scope must be up to 64 plain characters."))


def check_grant(role: object, scope: object) -> tuple[str, str | None]:
    """Validate a grant by the staff-role rules; return the role and its scope (trimmed, blank: None).

    Raises RoleError: `unknown_role`, `scope_required` (postal clerk, agency administrator),
    `scope_not_allowed` (national roles), `invalid_scope` (not short plain text), `invalid_agency_code`.
    """
    if role not in KNOWN_ROLES:
        raise RoleError("unknown_role", N_("Unknown role."))
    scope = scope.strip() or None if isinstance(scope, str) else None
    if role in SCOPED_ROLES and scope is None:
        raise RoleError("scope_required", N_(
            "This role needs a scope: the post office code for a postal clerk, the agency code for an agency "
            "administrator."))
    if role not in SCOPED_ROLES and scope is not None:
        raise RoleError("scope_not_allowed", N_("This role is national and takes no scope."))
    check_role(str(role), scope)
    if role == AGENCY_ADMIN:
        try:
            check_agency_code(scope)
        except InvalidClientMetadata as exc:
            raise RoleError("invalid_agency_code", N_(
                "An agency code is up to 64 lowercase letters, digits, '.', '_' or '-', starting with a letter "
                "or a digit, as in the agency's portals.")) from exc
    return str(role), scope


def check_revoke(account_id: int, role: str, scope: str | None, revoked_by: int | None = None) -> None:
    """Raise RoleError unless revoking this grant leaves a national administrator (and, when
    `revoked_by` is the account itself, another national administrator role of theirs).

    Reads the national_admin grants FOR UPDATE, so two revocations at the same moment cannot each
    leave the other as the last one and both succeed."""
    if role != NATIONAL_ADMIN:
        return
    grants = list(db.session.execute(select(AccountRole).where(AccountRole.role == NATIONAL_ADMIN)
                                     .order_by(AccountRole.id).with_for_update()).scalars())
    removed = {g.id for g in grants if g.account_id == account_id and g.scope == scope}
    if not removed:
        return
    remaining = [g for g in grants if g.id not in removed]
    if revoked_by == account_id and not any(g.account_id == account_id for g in remaining):
        raise RoleError("own_last_national_admin", N_(
            "You cannot remove your own national administrator role: ask another national administrator."))
    if not remaining:
        raise RoleError("last_national_admin", N_(
            "This is the last national administrator. Grant the role to someone else first."))


def roles_of(account_id: int, role: str | None = None) -> list[AccountRole]:
    """Return the account's roles (only `role` when given), oldest first."""
    query = select(AccountRole).where(AccountRole.account_id == account_id)
    if role is not None:
        query = query.where(AccountRole.role == role)
    return list(db.session.execute(query.order_by(AccountRole.granted_at, AccountRole.id)).scalars())


def has_role(account_id: int, role: str, scope: str | None = None) -> bool:
    """Tell whether the account holds `role`; with `scope`, unscoped grants count too."""
    return any(found.scope is None or scope is None or found.scope == scope for found in roles_of(account_id, role))


def grant_role(account_id: int, role: str, scope: str | None = None, granted_by: int | None = None) -> AccountRole:
    """Give the account a role (idempotent); audited. The caller commits.

    Checks only `check_role`; the console and the command line validate the grant with `check_grant` first."""
    check_role(role, scope)
    existing = next((found for found in roles_of(account_id, role) if found.scope == scope), None)
    if existing is not None:
        return existing
    row = AccountRole(account_id=account_id, role=role, scope=scope, granted_at=utcnow(), granted_by=granted_by)
    try:
        with db.session.begin_nested():  # a savepoint: losing a race to the same grant keeps the transaction
            db.session.add(row)
    except IntegrityError:
        return next(found for found in roles_of(account_id, role) if found.scope == scope)
    record("role.granted", account_id=account_id, role=role, scope=scope, granted_by=granted_by)
    return row


def revoke_role(account_id: int, role: str, scope: str | None = None, revoked_by: int | None = None) -> bool:
    """Take a role away (only the grant with exactly this scope); audited. Return whether one was held.

    Raises RoleError for an unknown role or when `check_revoke` refuses (the last national administrator)."""
    check_role(role, scope)
    check_revoke(account_id, role, scope, revoked_by)
    found = [row for row in roles_of(account_id, role) if row.scope == scope]
    for row in found:
        db.session.delete(row)
    if found:
        record("role.revoked", account_id=account_id, role=role, scope=scope, revoked_by=revoked_by)
    return bool(found)
