"""Housekeeping: delete protocol rows that can no longer matter (never audit events)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import or_

from idp.accounts.models import LoginSession
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.oidc.models import AuthorizationCode
from idp.oidc.models import RefreshToken
from idp.oidc.models import RevokedAccessToken
from idp.oidc.models import UsedAssertion
from idp.settings import current_settings


def purge_expired(retention_days: int) -> dict[str, int]:
    """Delete expired codes, refresh tokens, denylist entries, one-time values and old sessions; roll up
    every settled day of login history for the statistics (idp.stats.rollup), then delete login history
    older than `accounts.login_history_days`; minimise decided linking reviews that still hold their
    claims (idp.admin.review_admin); carry out the account deletions that are due.

    Codes are kept one day past expiry so a late replay still revokes what they issued; ended
    or expired login sessions are kept `retention_days`. Returns counts; commits.
    """
    from idp.accounts.deletion import process_due_deletions
    from idp.accounts.history import purge_login_history
    from idp.admin.review_admin import minimise_decided_reviews
    from idp.stats.rollup import roll_up_history

    now = utcnow()
    days_rolled_up = roll_up_history()  # the statistics keep every settled day, its rows may go below
    keep_sessions = now - timedelta(days=retention_days)
    statements = {
        "authorization_codes": delete(AuthorizationCode).where(
            AuthorizationCode.expires_at < now - timedelta(days=1)),
        "refresh_tokens": delete(RefreshToken).where(RefreshToken.expires_at < now),
        "revoked_access_tokens": delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now),
        "used_assertions": delete(UsedAssertion).where(UsedAssertion.expires_at < now),
        "login_sessions": delete(LoginSession).where(
            or_(LoginSession.ended_at < keep_sessions, LoginSession.expires_at < keep_sessions)),
    }
    counts = {name: db.session.execute(statement).rowcount for name, statement in statements.items()}
    counts["login_events"] = purge_login_history(now, current_settings().accounts.login_history_days)
    counts["login_days_rolled_up"] = days_rolled_up
    counts["reviews_minimised"] = minimise_decided_reviews()
    db.session.commit()
    counts["accounts_deleted"] = process_due_deletions(now)  # commits once per account
    return counts
