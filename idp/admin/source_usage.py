"""How much each identity source is used: logins per source from the login history (login_event)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.dbtypes import utcnow
from idp.extensions import db

USAGE_DAYS = 30


def logins_per_source(days: int = USAGE_DAYS) -> dict[str, int]:
    """Successful logins (and step-ups) per source over the last `days` days, by source id."""
    since = utcnow() - timedelta(days=days)
    rows = db.session.execute(select(LoginEvent.source, func.count()).where(LoginEvent.at >= since)
                              .group_by(LoginEvent.source))
    return {source: count for source, count in rows}
