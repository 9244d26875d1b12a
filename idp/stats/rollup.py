"""Daily roll-up of the login history: each finished Vietnam day counted once, kept after its rows go.

`login_daily` holds, per Vietnam day, portal, source, province and level, how many logins there
were; `login_daily_day` marks the days rolled up. Its primary key is what stops two workers from
counting one day twice: the second insert of a day waits for the first transaction and then fails,
and that worker simply reads the first one's counts.

A day is rolled up only once it ended more than SETTLE ago: a login stamped 23:59:59 may commit a
little later, and a fresh login's row is told its portal a moment after it is written
(idp.accounts.history.record_portal_login). The queries (idp.stats.queries) read rolled-up days
from here and every other day live from `login_event`, so a dashboard is right whether or not the
roll-up ran; `idp purge` rolls days up before it deletes old login history, so the statistics
outlive the retention period, and they do not change when an account is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Date
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from idp.accounts.history import SOURCE_MAX
from idp.accounts.history import LoginEvent
from idp.dbtypes import UTCDateTime
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import VIETNAM_TIME

# How long after a Vietnam day ends before it is rolled up (late commits, the portal set on a fresh login).
SETTLE = timedelta(hours=1)


class LoginDay(db.Model):
    """A Vietnam day whose logins are counted in `login_daily` (and no longer read from `login_event`)."""

    __tablename__ = "login_daily_day"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginDaily(db.Model):
    """How many logins one Vietnam day had for one portal, source, province and level."""

    __tablename__ = "login_daily"
    __table_args__ = (Index("ix_login_daily_day_client", "day", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, ForeignKey("login_daily_day.day", ondelete="CASCADE"))
    client_id: Mapped[str | None] = mapped_column(String(64))  # None: the provider's own pages
    source: Mapped[str] = mapped_column(String(SOURCE_MAX))
    province_code: Mapped[str | None] = mapped_column(String(8))
    level: Mapped[int] = mapped_column()
    logins: Mapped[int] = mapped_column()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next day) of a Vietnam day, in UTC."""
    first = datetime.combine(day, datetime.min.time(), VIETNAM_TIME)
    return first, first + timedelta(days=1)


def last_settled_day(now: datetime | None = None) -> date:
    """The newest Vietnam day that ended more than SETTLE ago."""
    return ((now or utcnow()) - SETTLE).astimezone(VIETNAM_TIME).date() - timedelta(days=1)


def rolled_days(first: date, last: date) -> set[date]:
    """The days from `first` to `last` (both included) already rolled up."""
    query = select(LoginDay.day).where(LoginDay.day >= first, LoginDay.day <= last)
    return set(db.session.execute(query).scalars())


def roll_up_day(day: date) -> bool:
    """Count one settled day into `login_daily` and commit; False if it was rolled up already."""
    if day > last_settled_day():
        raise ValueError(f"{day} has not settled yet")
    try:
        with db.session.begin_nested():
            db.session.add(LoginDay(day=day))
    except IntegrityError:  # another worker rolled this day up first (and has committed: the insert waited)
        return False
    start, end = day_bounds(day)
    keys = (LoginEvent.client_id, LoginEvent.source, LoginEvent.province_code, LoginEvent.level)
    counts = select(literal(day, Date), *keys, func.count()) \
        .where(LoginEvent.at >= start, LoginEvent.at < end).group_by(*keys)
    # One INSERT ... SELECT: the counting and the writing stay in the database (no row comes back here).
    columns = ["day", "client_id", "source", "province_code", "level", "logins"]
    db.session.execute(insert(LoginDaily).from_select(columns, counts))
    db.session.commit()
    return True


def roll_up(days: Iterable[date]) -> int:
    """Roll up every settled day of `days` not rolled up yet (one transaction each); return how many."""
    wanted = sorted({day for day in days if day <= last_settled_day()})
    if not wanted:
        return 0
    done = rolled_days(wanted[0], wanted[-1])
    return sum(roll_up_day(day) for day in wanted if day not in done)


def roll_up_history(before: datetime | None = None) -> int:
    """Roll up every settled day that has login rows (only those starting before `before`, when given)."""
    oldest = db.session.execute(select(func.min(LoginEvent.at))).scalar()
    if oldest is None:
        return 0
    first = oldest.astimezone(VIETNAM_TIME).date()
    last = last_settled_day()
    if before is not None:
        last = min(last, before.astimezone(VIETNAM_TIME).date())
    return roll_up(first + timedelta(days=n) for n in range((last - first).days + 1))
