"""Everything the statistics page and its API need, for one period and one scope, in one call.

A scope is a set of agency codes (an agency administrator's) or None (everything). Pages and the
JSON API both call `build_dashboard`, so they always show the same numbers. It first rolls up the
period's settled days that are not yet (normally `idp purge` has done it already), so the queries
read a few rows per day rather than every login.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import VIETNAM_TIME
from idp.stats.queries import DaySeries
from idp.stats.queries import FactorShare
from idp.stats.queries import Period
from idp.stats.queries import level_distribution
from idp.stats.queries import logins_per_day
from idp.stats.queries import second_factor_share
from idp.stats.rollup import roll_up

DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Dashboard:
    period: Period
    client_ids: list[str] | None  # None: every portal and the provider's own pages
    by_portal: DaySeries
    by_source: DaySeries
    by_province: DaySeries
    levels: dict[int, int]
    factors: FactorShare

    @property
    def total(self) -> int:
        return sum(self.by_portal.per_day())

    def to_json(self) -> dict[str, Any]:
        def series(values: DaySeries) -> list[dict[str, Any]]:
            return [{"key": key, "total": total, "per_day": values.counts[key]} for key, total in values.totals()]

        factors = self.factors
        return {
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "days": [day.isoformat() for day in self.period.days],
            "logins": {"total": self.total, "per_day": self.by_portal.per_day()},
            "by_portal": series(self.by_portal),
            "by_source": series(self.by_source),
            "by_province": series(self.by_province),
            "levels": [{"level": level, "count": count} for level, count in sorted(self.levels.items())],
            "second_factor": {"active_accounts": factors.accounts, "totp": factors.totp,
                              "webauthn": factors.webauthn, "any": factors.any, "share": round(factors.share, 4)},
        }


def default_period(today: date | None = None) -> Period:
    """The last DEFAULT_DAYS Vietnam days, today included."""
    end = today or utcnow().astimezone(VIETNAM_TIME).date()
    return Period(end - timedelta(days=DEFAULT_DAYS - 1), end)


def portals_of(agency_codes: Collection[str] | None) -> list[str] | None:
    """The client ids an agency scope reaches (None: no limit)."""
    if agency_codes is None:
        return None
    from idp.oidc.models import Client

    if not agency_codes:
        return []
    query = select(Client.client_id).where(Client.agency_code.in_(sorted(agency_codes)))
    return sorted(db.session.execute(query).scalars())


def build_dashboard(period: Period, agency_codes: Collection[str] | None = None) -> Dashboard:
    """Run every query of the dashboard for `period`, limited to the agencies' portals when given."""
    roll_up(period.days)
    client_ids = portals_of(agency_codes)
    return Dashboard(
        period=period, client_ids=client_ids,
        by_portal=logins_per_day(period, "portal", client_ids),
        by_source=logins_per_day(period, "source", client_ids),
        by_province=logins_per_day(period, "province", client_ids),
        levels=level_distribution(period, client_ids),
        factors=second_factor_share(period, client_ids),
    )
