"""The failure budget of one account identifier, shared by every way of proving it.

A wrong password, a wrong password-reset code and a wrong second factor all spend the same budget
(`login.per_account_failures` failures per `login.lockout_seconds`, a moving window): guessing
cannot be spread across endpoints. The budget is keyed by the identifier as typed, whether or not
an account has it, so a lockout never tells that an account exists. Counters live in the
Flask-Limiter storage: memory in development, Redis in production (shared by every worker). The
key is an HMAC of the identifier: no identifier in the store.

A lockout of a real account is audited each time (`login.locked_out`) and notified to its owner
at most once per lockout window.
"""

from __future__ import annotations

import hashlib
import hmac

from limits import RateLimitItemPerSecond

from idp.accounts.models import Account
from idp.audit import record
from idp.extensions import limiter
from idp.masking import mask_identifier
from idp.settings import DEV_SECRET
from idp.settings import current_settings

NAMESPACE = "login-failures"
NOTICE_NAMESPACE = "lockout-notice"


def _limit() -> RateLimitItemPerSecond:
    login = current_settings().login
    return RateLimitItemPerSecond(login.per_account_failures, login.lockout_seconds)


def budget_key(identifier: str) -> str:
    """The store key of an identifier's budget (an HMAC: the store never holds the identifier)."""
    secret = (current_settings().secret_key or DEV_SECRET).encode("utf-8")
    return hmac.new(secret, b"failures:" + identifier.strip().encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def is_locked(identifier: str) -> bool:
    """Whether the identifier has spent its failure budget (known account or not)."""
    return not limiter.limiter.test(_limit(), NAMESPACE, budget_key(identifier))


def count_failure(identifier: str, account: Account | None, method: str) -> bool:
    """Spend one failure; audit it for a real account; on the failure that locks, audit the lockout
    and notify the owner (once per window). Return whether the identifier is now locked."""
    item, key = _limit(), budget_key(identifier)
    limiter.limiter.hit(item, NAMESPACE, key)
    locked = not limiter.limiter.test(item, NAMESPACE, key)
    if account is None:
        # Unknown identifier: audited too (password spraying shows in the trail), never in clear.
        record("login.failed", method=method, reason="unknown_account", identifier=mask_identifier(identifier))
        return locked
    record("login.failed", account_id=account.id, method=method)
    if locked:
        record("login.locked_out", account_id=account.id, method=method)
        notice = RateLimitItemPerSecond(1, current_settings().login.lockout_seconds)
        if limiter.limiter.hit(notice, NOTICE_NAMESPACE, str(account.id)):
            from idp.notify import notify

            notify(account, "login.locked_out", method=method)
    return locked


def clear_failures(identifier: str) -> None:
    """Give the identifier its whole budget back (after a reset proved a verified channel)."""
    limiter.limiter.clear(_limit(), NAMESPACE, budget_key(identifier))
