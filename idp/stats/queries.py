"""Aggregation queries over the login history (and accounts, for the second-factor share).

Days are Vietnam days (UTC+7, no daylight saving time). A scope limits the counts to some
portals (an agency administrator's); `None` counts everything, the provider's own pages too.
Days already rolled up (idp.stats.rollup) are read from `login_daily`, the others live from
`login_event`: the answer is the same either way, the roll-up only makes it cheap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Date
from sqlalchemy import case
from sqlalchemy import cast
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import literal_column
from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement

from idp.accounts.history import LoginEvent
from idp.accounts.models import Account
from idp.accounts.models import AccountStatus
from idp.auth.mfa.totp import TotpAuthenticator
from idp.auth.mfa.webauthn import WebAuthnCredential
from idp.extensions import db
from idp.notify import VIETNAM_TIME
from idp.stats.rollup import LoginDaily
from idp.stats.rollup import rolled_days

DIMENSIONS = {"portal": LoginEvent.client_id, "source": LoginEvent.source, "province": LoginEvent.province_code}
ROLLED_DIMENSIONS = {"portal": LoginDaily.client_id, "source": LoginDaily.source,
                     "province": LoginDaily.province_code}
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    """Vietnam days from `start` to `end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("the period ends before it starts")
        if (self.end - self.start).days >= MAX_DAYS:
            raise ValueError(f"a period spans at most {MAX_DAYS} days")

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """[first instant, instant after the last day) in UTC, for the indexed `at` column."""
        first = datetime.combine(self.start, time(), VIETNAM_TIME).astimezone(UTC)
        return first, datetime.combine(self.end + timedelta(days=1), time(), VIETNAM_TIME).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DaySeries:
    """Counts per day and per key (a portal, a source, a province): `counts[key][i]` is day `days[i]`."""

    days: list[date]
    counts: dict[Any, list[int]] = field(default_factory=dict)

    def totals(self) -> list[tuple[Any, int]]:
        """Keys with their total over the period, largest first (ties by key)."""
        return sorted(((key, sum(values)) for key, values in self.counts.items()),
                      key=lambda item: (-item[1], str(item[0])))

    def per_day(self) -> list[int]:
        return [sum(values[i] for values in self.counts.values()) for i in range(len(self.days))]

    def top(self, limit: int, other: Any = "other") -> DaySeries:
        """The `limit` largest keys; the rest summed under `other` (so a chart keeps a readable legend)."""
        ranked = [key for key, _ in self.totals()]
        if len(ranked) <= limit:
            return self
        kept = {key: self.counts[key] for key in ranked[:limit]}
        rest = [self.counts[key] for key in ranked[limit:]]
        kept[other] = [sum(values[i] for values in rest) for i in range(len(self.days))]
        return DaySeries(self.days, kept)


def vietnam_day(column: Any) -> ColumnElement:
    """The Vietnam calendar day of a UTC timestamp column, in SQL (PostgreSQL or SQLite)."""
    # Vietnam keeps UTC+7 all year (no daylight saving time): a fixed offset, cheaper than a zone look-up.
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal_column("INTERVAL '7 hours'"), column), Date)
    return func.date(column, "+7 hours")  # SQLite stores UTC text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _scoped(query: Any, period: Period, client_ids: Collection[str] | None) -> Any:
    start, end = period.bounds
    query = query.where(LoginEvent.at >= start, LoginEvent.at < end)
    if client_ids is not None:
        query = query.where(LoginEvent.client_id.in_(list(client_ids)))
    return query


def _rolled(query: Any, period: Period, client_ids: Collection[str] | None) -> Any:
    query = query.where(LoginDaily.day >= period.start, LoginDaily.day <= period.end)
    if client_ids is not None:
        query = query.where(LoginDaily.client_id.in_(list(client_ids)))
    return query


def live_periods(period: Period) -> list[Period]:
    """The runs of days in `period` not rolled up yet (usually none, or the last day or two)."""
    rolled = rolled_days(period.start, period.end)
    runs: list[Period] = []
    for day in period.days:
        if day in rolled:
            continue
        if runs and runs[-1].end == day - timedelta(days=1):
            runs[-1] = Period(runs[-1].start, day)
        else:
            runs.append(Period(day, day))
    return runs


def logins_per_day(period: Period, dimension: str, client_ids: Collection[str] | None = None) -> DaySeries:
    """Logins per Vietnam day and per portal, source or province (`dimension`)."""
    key, rolled_key = DIMENSIONS[dimension], ROLLED_DIMENSIONS[dimension]
    day = vietnam_day(LoginEvent.at)
    queries = [_rolled(select(LoginDaily.day, rolled_key, func.sum(LoginDaily.logins)), period, client_ids)
               .group_by(LoginDaily.day, rolled_key)]
    queries += [_scoped(select(day, key, func.count()).select_from(LoginEvent), live, client_ids).group_by(day, key)
                for live in live_periods(period)]
    days = period.days
    index = {d: i for i, d in enumerate(days)}
    counts: dict[Any, list[int]] = defaultdict(lambda: [0] * len(days))
    for query in queries:
        for bucket, value, count in db.session.execute(query):
            position = index.get(_as_date(bucket))
            if position is not None:
                counts[value][position] += int(count)
    return DaySeries(days, dict(counts))


def level_distribution(period: Period, client_ids: Collection[str] | None = None) -> dict[int, int]:
    """Logins per assurance level reached (idp.verifiers.base.Level values)."""
    queries = [_rolled(select(LoginDaily.level, func.sum(LoginDaily.logins)), period, client_ids)
               .group_by(LoginDaily.level)]
    queries += [_scoped(select(LoginEvent.level, func.count()).select_from(LoginEvent), live, client_ids)
                .group_by(LoginEvent.level) for live in live_periods(period)]
    levels: dict[int, int] = defaultdict(int)
    for query in queries:
        for level, count in db.session.execute(query):
            levels[int(level)] += int(count)
    return dict(levels)


@dataclass(frozen=True, slots=True)
class FactorShare:
    """Active accounts, and how many of them have an authenticator app, a passkey/security key, either."""

    accounts: int
    totp: int
    webauthn: int
    any: int

    @property
    def share(self) -> float:
        return self.any / self.accounts if self.accounts else 0.0


def second_factor_share(period: Period | None = None, client_ids: Collection[str] | None = None) -> FactorShare:
    """Among active accounts (with a scope: those that logged in to its portals in `period`)."""
    has_totp = exists().where(TotpAuthenticator.account_id == Account.id, TotpAuthenticator.activated_at.is_not(None))
    has_webauthn = exists().where(WebAuthnCredential.account_id == Account.id)
    query = select(func.count(), func.count(case((has_totp, 1))), func.count(case((has_webauthn, 1))),
                   func.count(case((has_totp | has_webauthn, 1)))).select_from(Account) \
        .where(Account.status == AccountStatus.ACTIVE)
    if client_ids is not None:
        if period is None:
            raise ValueError("a scoped share needs a period")
        # A join on the distinct users (an IN over the rows made PostgreSQL re-scan them per account).
        users = _scoped(select(LoginEvent.account_id).distinct(), period, client_ids).subquery()
        query = query.join(users, users.c.account_id == Account.id)
    total, totp, webauthn, either = db.session.execute(query).one()
    return FactorShare(total, totp, webauthn, either)
