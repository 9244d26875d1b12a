"""Staff roles from the admin console (roles.write: national administrators).

Grants and revocations go through idp.accounts.roles (grant_role / revoke_role, which audit
`role.granted` / `role.revoked`) and are audited again as admin changes with who and why
(`admin.role.granted` / `admin.role.revoked`). Scopes: a postal clerk works at one post office (its
code), an agency administrator for one agency (the agency code of its portals, Client.agency_code);
the other roles are national and take no scope. The console cannot lock itself out: nobody revokes
the last national administrator's role, and a national administrator never revokes their own last
one (the national_admin grants are locked while this is checked, so two admins revoking each
other at the same moment cannot both succeed). These rules are idp.accounts.roles' (check_grant,
check_revoke), shared with `idp accounts grant-role|revoke-role`; here they become AdminRefusals.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.accounts.models import Account
from idp.accounts.roles import AccountRole
from idp.accounts.roles import RoleError
from idp.accounts.roles import check_grant as check_role_grant
from idp.accounts.roles import grant_role
from idp.accounts.roles import revoke_role
from idp.accounts.roles import roles_of
from idp.accounts.service import find_account
from idp.admin.access import Admin
from idp.admin.account_admin import DB_INT_MAX
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import check_reason
from idp.admin.account_admin import get_account
from idp.audit import record_change
from idp.extensions import db
from idp.i18n import N_
from idp.identifiers import is_personal_id
from idp.identifiers import is_tax_code
from idp.masking import mask_identifier


def staff_grants() -> list[dict[str, Any]]:
    """Every role grant with its account (identifier masked), by role then account."""
    rows = db.session.execute(select(AccountRole, Account).join(Account, Account.id == AccountRole.account_id)
                              .order_by(AccountRole.role, Account.id, AccountRole.id)).all()
    return [{"id": grant.id, "account_id": account.id, "identifier_masked": mask_identifier(account.identifier),
             "name": account.full_name, "role": grant.role, "scope": grant.scope, "granted_at": grant.granted_at,
             "granted_by": grant.granted_by} for grant, account in rows]


def check_grant(role: object, scope: object) -> tuple[str, str | None]:
    """The role and its scope, trimmed; raise AdminRefusal (400) unless the grant follows the role rules."""
    try:
        return check_role_grant(role, scope)
    except RoleError as exc:
        raise AdminRefusal(400, exc.code, exc.message) from exc


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


def revoke(admin: Admin, grant_id: int, reason: object) -> AccountRole:
    """Take a staff role away; raise AdminRefusal (400, 404, 409). The caller commits."""
    reason = check_reason(reason)
    row = db.session.get(AccountRole, grant_id) if 0 < grant_id <= DB_INT_MAX else None
    if row is None:
        raise AdminRefusal(404, "grant_not_found", N_("No role grant has this number."))
    account_id, role, scope = row.account_id, row.role, row.scope
    try:
        revoke_role(account_id, role, scope, revoked_by=admin.account_id)
    except RoleError as exc:  # the last national administrator, or a role no longer known (an older version's)
        raise AdminRefusal(409, exc.code, exc.message) from exc
    record_change("admin.role.revoked", **admin.actor, target_type="account", target_id=account_id,
                  before={"role": role, "scope": scope}, after=None, reason=reason, grant_id=grant_id)
    return row
