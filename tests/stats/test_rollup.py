"""The daily roll-up: each settled Vietnam day counted once, read instead of the rows, kept after them."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from idp.accounts.history import LoginEvent
from idp.dbtypes import utcnow
from idp.extensions import db
from idp.notify import VIETNAM_TIME
from idp.stats.dashboard import build_dashboard
from idp.stats.queries import Period
from idp.stats.queries import live_periods
from idp.stats.queries import logins_per_day
from idp.stats.rollup import SETTLE
from idp.stats.rollup import LoginDaily
from idp.stats.rollup import LoginDay
from idp.stats.rollup import last_settled_day
from idp.stats.rollup import roll_up
from idp.stats.rollup import roll_up_day

NOV = Period(date(2026, 11, 10), date(2026, 11, 12))


def _login(account_id: int, at: datetime, client_id: str | None = None, source: str = "vneid",
           level: int = 3) -> LoginEvent:
    return LoginEvent(at=at, account_id=account_id, client_id=client_id, source=source, level=level,
                      province_code="01", network="203.0.113.0/24", device="Firefox on Linux")


@pytest.fixture
def history(app, make_account, make_client):  # noqa: ANN001, ANN201
    """Ten logins a day from 10 to 12 November 2026 (Vietnam days), half to one portal."""
    account = make_account("001090066601")
    portal, _ = make_client(name="Cổng dịch vụ công")
    with app.app_context():
        for day in NOV.days:
            first = datetime.combine(day, datetime.min.time(), VIETNAM_TIME).astimezone(UTC)
            for n in range(10):
                db.session.add(_login(account, first + timedelta(hours=2 * n), portal if n % 2 else None))
        db.session.commit()
    return {"account": account, "portal": portal}


def _counts(client_ids: list[str] | None = None) -> dict:
    return logins_per_day(NOV, "portal", client_ids).counts


def test_a_day_is_counted_once_and_read_instead_of_the_rows(app, history):
    with app.app_context():
        live = _counts()
        assert live == {history["portal"]: [5, 5, 5], None: [5, 5, 5]}
        assert roll_up(NOV.days) == 3
        assert roll_up(NOV.days) == 0  # already rolled up: nothing counted twice
        assert db.session.execute(select(func.sum(LoginDaily.logins))).scalar() == 30
        assert live_periods(NOV) == []
        # The counts now come from the roll-up: deleting the rows changes nothing.
        db.session.execute(delete(LoginEvent))
        db.session.commit()
        assert _counts() == live
        assert _counts([history["portal"]]) == {history["portal"]: [5, 5, 5]}


def test_days_not_rolled_up_are_read_live(app, history):
    with app.app_context():
        assert roll_up([date(2026, 11, 10)]) == 1
        assert live_periods(NOV) == [Period(date(2026, 11, 11), date(2026, 11, 12))]
        assert sum(_counts()[None]) == 15
        assert roll_up([date(2026, 11, 12)]) == 1
        assert live_periods(NOV) == [Period(date(2026, 11, 11), date(2026, 11, 11))]
        assert _counts() == {history["portal"]: [5, 5, 5], None: [5, 5, 5]}


def test_a_day_that_has_not_settled_stays_live(app, history):
    now = utcnow()
    today = now.astimezone(VIETNAM_TIME).date()
    with app.app_context():
        db.session.add(_login(history["account"], now))
        db.session.commit()
        assert last_settled_day(now) < today
        assert last_settled_day(datetime.combine(today, datetime.min.time(), VIETNAM_TIME) + SETTLE
                                + timedelta(seconds=1)) == today - timedelta(days=1)
        assert last_settled_day(datetime.combine(today, datetime.min.time(), VIETNAM_TIME) + SETTLE
                                - timedelta(seconds=1)) == today - timedelta(days=2)
        assert roll_up([today]) == 0
        with pytest.raises(ValueError):
            roll_up_day(today)
        period = Period(today, today)
        assert build_dashboard(period).total == 1
        assert live_periods(period) == [period]


def test_a_day_rolled_up_by_another_worker_is_not_counted_again(app, history):
    with app.app_context():
        db.session.add(LoginDay(day=date(2026, 11, 11)))  # as if another worker committed it first
        db.session.commit()
        assert roll_up_day(date(2026, 11, 11)) is False
        assert db.session.execute(select(func.count()).select_from(LoginDaily)).scalar() == 0
        # The session is still usable, and the other days roll up.
        assert roll_up(NOV.days) == 2


def test_purge_rolls_up_before_it_deletes_old_history(app, history):
    with app.app_context():
        before = build_dashboard(NOV).to_json()
        db.session.execute(delete(LoginDay))  # undo the dashboard's own roll-up: purge must do it
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(LoginEvent)).scalar() == 30  # within 365 days
        db.session.execute(delete(LoginEvent))  # as if the retention period had passed
        db.session.commit()
        assert build_dashboard(NOV).to_json() == before
    assert '"login_days_rolled_up": ' in result.output
