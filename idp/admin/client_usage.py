"""How a portal is used, for its admin page and the API: logins per day, live grants, back-channel logout
deliveries that failed. Counts only: no account, no personal data.

Days are Vietnam's calendar days (GMT+7, no daylight saving), the ones admins and agencies talk about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import case
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import VIETNAM_TIME
from idp.oidc.logout import FAILED
from idp.oidc.logout import PENDING
from idp.oidc.logout import LogoutDelivery
from idp.oidc.models import Grant
from idp.oidc.models import RefreshToken
from idp.settings import current_settings

USAGE_DAYS = 30
RECENT_FAILURES = 10


@dataclass(frozen=True, slots=True)
class Usage:
    logins_per_day: list[tuple[date, int]]  # oldest first, USAGE_DAYS days ending today, zeros included
    live_grants: int
    logout_failed: int  # deliveries given up on within USAGE_DAYS
    logout_pending: int  # deliveries still being retried
    recent_failures: list[LogoutDelivery]  # the latest given-up deliveries (no token shown)

    @property
    def total_logins(self) -> int:
        return sum(count for _day, count in self.logins_per_day)

    def as_json(self) -> dict[str, Any]:
        return {
            "logins_per_day": [{"date": day.isoformat(), "count": count} for day, count in self.logins_per_day],
            "live_grants": self.live_grants,
            "logout_deliveries": {"failed": self.logout_failed, "pending": self.logout_pending, "recent_failures": [
                {"id": row.id, "created_at": row.created_at.isoformat(), "attempts": row.attempts,
                 "last_error": row.last_error} for row in self.recent_failures]},
        }


def day_starts(now: datetime, days: int = USAGE_DAYS) -> list[tuple[date, datetime]]:
    """The last `days` Vietnam calendar days (oldest first) with the UTC instant each one starts."""
    today = now.astimezone(VIETNAM_TIME).date()
    result = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        result.append((day, datetime(day.year, day.month, day.day, tzinfo=VIETNAM_TIME)))
    return result


def logins_per_day(client_id: str, now: datetime | None = None) -> list[tuple[date, int]]:
    """Logins into the portal per day (fresh and single sign-on), one indexed scan bucketed by CASE."""
    starts = day_starts(now or utcnow())
    # The latest start first: the first bound an instant passes names its day.
    bucket = case(*((LoginEvent.at >= start, index) for index, (_day, start) in reversed(list(enumerate(starts)))),
                  else_=-1).label("bucket")
    counts = dict(db.session.execute(
        select(bucket, func.count()).where(LoginEvent.client_id == client_id, LoginEvent.at >= starts[0][1])
        .group_by(bucket)).all())
    return [(day, int(counts.get(index, 0))) for index, (day, _start) in enumerate(starts)]


def live_grants(client_id: str, now: datetime | None = None) -> int:
    """Token families of the portal that can still be used: not revoked, and with an access token still
    within its lifetime or a refresh token still valid."""
    now = now or utcnow()
    fresh = now - timedelta(seconds=current_settings().oidc.access_token_ttl)
    refreshable = exists().where(RefreshToken.grant_id == Grant.id, RefreshToken.revoked_at.is_(None),
                                 RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
    return int(db.session.scalar(select(func.count()).select_from(Grant).where(
        Grant.client_id == client_id, Grant.revoked_at.is_(None), or_(Grant.created_at >= fresh, refreshable))) or 0)


def portal_usage(client_id: str, now: datetime | None = None) -> Usage:
    now = now or utcnow()
    since = now - timedelta(days=USAGE_DAYS)
    failed = select(LogoutDelivery).where(LogoutDelivery.client_id == client_id, LogoutDelivery.status == FAILED,
                                          LogoutDelivery.created_at >= since)
    return Usage(
        logins_per_day=logins_per_day(client_id, now),
        live_grants=live_grants(client_id, now),
        logout_failed=int(db.session.scalar(select(func.count()).select_from(failed.subquery())) or 0),
        logout_pending=int(db.session.scalar(select(func.count()).select_from(LogoutDelivery).where(
            LogoutDelivery.client_id == client_id, LogoutDelivery.status == PENDING)) or 0),
        recent_failures=list(db.session.execute(failed.order_by(LogoutDelivery.created_at.desc(),
                                                                LogoutDelivery.id.desc())
                                                .limit(RECENT_FAILURES)).scalars()),
    )
