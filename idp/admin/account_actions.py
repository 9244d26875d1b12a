"""What staff do to an account: lock it, unlock it, end all its sessions. Each needs a reason and is
audited with who, before and after (idp.audit.record_change).

- **Lock** (accounts.write): an active account becomes `locked` (compare-and-set on the status, so
  two admins cannot both lock it); it can no longer log in, its live sessions end and its token
  families are revoked, exactly as ending its sessions does (below). Nobody locks their own account.
- **Unlock** (accounts.unlock: national admins and the helpdesk): a `locked` account becomes active
  again, and the brute-force budget of its identifier (idp.accounts.lockout) is given back, so a
  person locked out by wrong passwords can log in at once. Refused when there is nothing to unlock.
- **End all sessions** (accounts.write): an admin-initiated logout, through the same functions as a
  password reset and the account page (idp.accounts.recovery.end_sessions / revoke_grants): every
  live session ends, every portal of every session gets a back-channel logout token from the durable
  outbox (idp.oidc.logout), and every token family is revoked, so refresh tokens stop at once.
  Front-channel logout needs the person's own browser, so it does not apply here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update

from idp.accounts.lockout import clear_failures
from idp.accounts.lockout import is_locked
from idp.accounts.models import Account
from idp.accounts.models import AccountStatus
from idp.accounts.recovery import end_sessions
from idp.accounts.recovery import revoke_grants
from idp.admin.access import Admin
from idp.admin.account_admin import AdminRefusal
from idp.admin.account_admin import check_reason
from idp.audit import record_change
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.i18n import N_


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did, for the page's message and the API's answer."""

    status: str
    sessions_ended: int = 0
    grants_revoked: int = 0
    login_budget_cleared: bool = False

    def as_json(self) -> dict:
        return {"status": self.status, "sessions_ended": self.sessions_ended, "grants_revoked": self.grants_revoked,
                "login_budget_cleared": self.login_budget_cleared}


def _set_status(account: Account, old: str, new: str) -> bool:
    """Compare-and-set the status: False when it was not `old` any more."""
    done = db.session.execute(update(Account).where(Account.id == account.id, Account.status == old)
                              .values(status=new, updated_at=utcnow())
                              .execution_options(synchronize_session=False)).rowcount
    db.session.expire(account, ["status", "updated_at"])
    return done == 1


def _end_everything(account: Account, why: str) -> tuple[int, int]:
    return end_sessions(account, reason=why), revoke_grants(account, reason=why)


def lock_account(admin: Admin, account: Account, reason: object) -> Outcome:
    """Lock an active account and log it out everywhere. The caller commits."""
    reason = check_reason(reason)
    if admin.account_id == account.id:
        raise AdminRefusal(409, "own_account", N_("You cannot lock your own account."))
    if not _set_status(account, AccountStatus.ACTIVE, AccountStatus.LOCKED):
        raise AdminRefusal(409, "account_not_active", N_("Only an active account can be locked."))
    sessions, grants = _end_everything(account, "admin_lock")
    record_change("admin.account.locked", **admin.actor, target_type="account", target_id=account.id,
                  before={"status": AccountStatus.ACTIVE.value}, after={"status": AccountStatus.LOCKED.value},
                  reason=reason, sessions_ended=sessions, grants_revoked=grants)
    return Outcome(AccountStatus.LOCKED.value, sessions, grants)


def unlock_account(admin: Admin, account: Account, reason: object) -> Outcome:
    """Unlock a locked account and/or give its identifier's failure budget back. The caller commits."""
    reason = check_reason(reason)
    throttled = is_locked(account.identifier)
    unlocked = _set_status(account, AccountStatus.LOCKED, AccountStatus.ACTIVE)
    if not unlocked and not throttled:
        raise AdminRefusal(409, "account_not_locked", N_("This account is not locked."))
    clear_failures(account.identifier)
    before = {"status": AccountStatus.LOCKED.value if unlocked else account.status, "login_throttled": throttled}
    after = {"status": account.status, "login_throttled": False}
    record_change("admin.account.unlocked", **admin.actor, target_type="account", target_id=account.id,
                  before=before, after=after, reason=reason)
    return Outcome(account.status, login_budget_cleared=throttled)


def end_all_sessions(admin: Admin, account: Account, reason: object) -> Outcome:
    """End every session of the account with single logout to each portal; revoke its token families.
    The caller commits."""
    reason = check_reason(reason)
    sessions, grants = _end_everything(account, "admin")
    record_change("admin.account.sessions_ended", **admin.actor, target_type="account", target_id=account.id,
                  before=None, after=None, reason=reason, sessions_ended=sessions, grants_revoked=grants)
    return Outcome(account.status, sessions, grants)
