"""Staff roles from the admin console (roles.write: national administrators).

Grants and revocations go through idp.accounts.roles (grant_role / revoke_role, which audit
`role.granted` / `role.revoked`) and are audited again as admin changes with who and why
(`admin.role.granted` / `admin.role.revoked`). Scopes: a postal clerk works at one post office (its
code), an agency administrator for one agency (the agency code of its portals, Client.agency_code);
the other roles are national and take no scope. The console cannot lock itself out: nobody revokes
the last national administrator's role, and a national administrator never revokes their own last
one (the national_admin grants are locked while this is checked, so two admins revoking each
other at the same moment cannot both succeed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import KNOWN_ROLES
from idp.accounts.roles import NATIONAL_ADMIN
from idp.accounts.roles import POSTAL_CLERK
from idp.accounts.roles import AccountRole
from idp.accounts.roles import RoleError
from idp.accounts.roles import check_role
from idp.accounts.roles import grant_role
from idp.accounts.roles import revoke_role
from idp.accounts.roles import roles_of
from idp.accounts.service import find_account
from idp.admin.access import Admin
from idp.admin.account_admin import DB_INT_MAX
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import check_reason
from idp.admin.account_admin import get_account
from idp.admin.account_admin import masked_identifier
from idp.audit import record_change
from idp.extensions import db
from idp.i18n import N_
from idp.identifiers import is_personal_id
from idp.identifiers import is_tax_code

SCOPED_ROLES = frozenset({POSTAL_CLERK, AGENCY_ADMIN})


def staff_grants() -> list[dict[str, Any]]:
    """Every role grant with its account (identifier masked), by role then account."""
    rows = db.session.execute(select(AccountRole, Account).join(Account, Account.id == AccountRole.account_id)
                              .order_by(AccountRole.role, Account.id, AccountRole.id)).all()
    return [{"id": grant.id, "account_id": account.id, "identifier_masked": masked_identifier(account.identifier),
             "name": account.full_name, "role": grant.role, "scope": grant.scope, "granted_at": grant.granted_at,
             "granted_by": grant.granted_by} for grant, account in rows]


def check_grant(role: object, scope: object) -> tuple[str, str | None]:
    """The role and its scope, trimmed; raise AdminRefusal (400) unless the scope fits the role."""
    if role not in KNOWN_ROLES:
        raise AdminRefusal(400, "unknown_role", N_("Unknown role."))
    scope = scope.strip() or None if isinstance(scope, str) else None
    if role in SCOPED_ROLES and scope is None:
        raise AdminRefusal(400, "scope_required", N_(
            "This role needs a scope: the post office code for a postal clerk, the agency code for an agency "
            "administrator."))
    if role not in SCOPED_ROLES and scope is not None:
        raise AdminRefusal(400, "scope_not_allowed", N_("This role is national and takes no scope."))
    try:
        check_role(str(role), scope)
    except RoleError as exc:
        raise AdminRefusal(400, exc.code, exc.message) from exc
    return str(role), scope


def find_staff_account(identifier: object) -> Account:
    """The account with this personal ID or tax code (typed on the roles page); raise AdminRefusal 400/404."""
    if not isinstance(identifier, str) or not identifier.strip() or len(identifier) > 32:
        raise AdminRefusal(400, "identifier_required", N_("Type the personal ID number of the staff member."))
    value = identifier.strip()
    if not (is_personal_id(value) or is_tax_code(value)):  # checked before any query (no NUL reaches the database)
        raise AdminRefusal(400, "identifier_format", N_("This is not a personal ID number or a tax code."))
    account = find_account(value)
    if account is None:
        raise AdminRefusal(404, "account_not_found", N_("No account has this personal ID number or tax code."))
    return account


def grant(admin: Admin, account_id: int, role: object, scope: object, reason: object) -> AccountRole:
    """Give the account a staff role; raise AdminRefusal (400, 404, 409). The caller commits."""
    role, scope = check_grant(role, scope)
    reason = check_reason(reason)
    account = get_account(account_id)
    if any(row.scope == scope for row in roles_of(account.id, role)):
        raise AdminRefusal(409, "role_held", N_("This account already holds this role."))
    row = grant_role(account.id, role, scope, granted_by=admin.account_id)
    record_change("admin.role.granted", **admin.actor, target_type="account", target_id=account.id,
                  before=None, after={"role": role, "scope": scope}, reason=reason, grant_id=row.id)
    return row


def _check_not_locking_out(admin: Admin, row: AccountRole) -> None:
    remaining = [g for g in db.session.execute(select(AccountRole).where(AccountRole.role == NATIONAL_ADMIN)
                                               .with_for_update()).scalars() if g.id != row.id]
    if admin.account_id == row.account_id and not any(g.account_id == row.account_id for g in remaining):
        raise AdminRefusal(409, "own_last_national_admin", N_(
            "You cannot remove your own national administrator role: ask another national administrator."))
    if not remaining:
        raise AdminRefusal(409, "last_national_admin", N_(
            "This is the last national administrator. Grant the role to someone else first."))


def revoke(admin: Admin, grant_id: int, reason: object) -> AccountRole:
    """Take a staff role away; raise AdminRefusal (400, 404, 409). The caller commits."""
    reason = check_reason(reason)
    row = db.session.get(AccountRole, grant_id) if 0 < grant_id <= DB_INT_MAX else None
    if row is None:
        raise AdminRefusal(404, "grant_not_found", N_("No role grant has this number."))
    if row.role == NATIONAL_ADMIN:
        _check_not_locking_out(admin, row)
    account_id, role, scope = row.account_id, row.role, row.scope
    try:
        revoke_role(account_id, role, scope, revoked_by=admin.account_id)
    except RoleError as exc:  # a grant stored by an older version with a role no longer known
        raise AdminRefusal(409, exc.code, exc.message) from exc
    record_change("admin.role.revoked", **admin.actor, target_type="account", target_id=account_id,
                  before={"role": role, "scope": scope}, after=None, reason=reason, grant_id=grant_id)
    return row
