"""Statistics over seeded login history: per day (Vietnam days), portal, source, province; levels; factors."""

from __future__ import annotations

from datetime import UTC
from datetime import date
from datetime import datetime

import pytest
from sqlalchemy import update

from idp.accounts.history import LoginEvent
from idp.accounts.models import Account
from idp.auth.mfa.totp import TotpAuthenticator
from idp.auth.mfa.webauthn import WebAuthnCredential
from idp.extensions import db
from idp.stats.dashboard import build_dashboard
from idp.stats.queries import Period
from idp.stats.queries import level_distribution
from idp.stats.queries import logins_per_day
from idp.stats.queries import second_factor_share
from idp.stats.rollup import roll_up

PERIOD = Period(date(2026, 11, 10), date(2026, 11, 12))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture(params=["live", "rolled"])
def seeded(request, app, make_account, make_client):  # noqa: ANN001, ANN201
    """Three accounts, two portals (one of agency "BTC"), login rows around Vietnam midnight; every
    test runs once reading `login_event` live and once with the days rolled up (idp.stats.rollup)."""
    accounts = [make_account(f"00109008800{i}") for i in range(1, 4)]
    tax_portal, _ = make_client(name="Thuế")
    health_portal, _ = make_client(name="Y tế")
    rows = [
        # 16:59 UTC = 23:59 in Vietnam on the 10th; 17:00 UTC = 00:00 on the 11th.
        ("2026-11-10T16:59:00", accounts[0], tax_portal, "vneid", 3, "01"),
        ("2026-11-10T17:00:00", accounts[1], tax_portal, "password", 1, "01"),
        ("2026-11-11T03:00:00", accounts[1], health_portal, "sso", 1, "79"),
        ("2026-11-12T10:00:00", accounts[2], None, "telecom", 1, None),
        ("2026-11-12T11:00:00", accounts[2], health_portal, "vneid", 3, "79"),
        ("2026-11-09T16:59:59", accounts[0], tax_portal, "vneid", 3, "01"),  # the 9th in Vietnam: outside
        ("2026-11-12T17:00:00", accounts[0], tax_portal, "vneid", 3, "01"),  # the 13th in Vietnam: outside
    ]
    with app.app_context():
        db.session.execute(update(Account).where(Account.id.in_(accounts[:2])).values(province_code=None))
        for at, account_id, client_id, source, level, province in rows:
            db.session.add(LoginEvent(at=_at(at), account_id=account_id, client_id=client_id, source=source,
                                      level=level, province_code=province))
        from idp.oidc.models import Client

        db.session.execute(update(Client).where(Client.client_id == tax_portal).values(agency_code="BTC"))
        db.session.commit()
        if request.param == "rolled":
            assert roll_up(date(2026, 11, day) for day in range(9, 14)) == 5
    return {"accounts": accounts, "tax": tax_portal, "health": health_portal}


def test_period_days_and_bounds():
    assert PERIOD.days == [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)]
    assert PERIOD.bounds == (_at("2026-11-09T17:00:00"), _at("2026-11-12T17:00:00"))
    with pytest.raises(ValueError):
        Period(date(2026, 11, 12), date(2026, 11, 10))
    with pytest.raises(ValueError):
        Period(date(2025, 1, 1), date(2026, 11, 10))


def test_logins_per_day_by_portal_source_and_province(app, seeded):
    with app.app_context():
        portal = logins_per_day(PERIOD, "portal")
        assert portal.counts == {seeded["tax"]: [1, 1, 0], seeded["health"]: [0, 1, 1], None: [0, 0, 1]}
        assert portal.per_day() == [1, 2, 2]
        source = logins_per_day(PERIOD, "source")
        assert source.totals() == [("vneid", 2), ("password", 1), ("sso", 1), ("telecom", 1)]
        province = logins_per_day(PERIOD, "province")
        assert dict(province.totals()) == {"01": 2, "79": 2, None: 1}
        top = source.top(2, other="other")
        assert top.counts == {"vneid": [1, 0, 1], "password": [0, 1, 0], "other": [0, 1, 1]}


def test_scope_limits_to_the_agencys_portals(app, seeded):
    with app.app_context():
        scoped = logins_per_day(PERIOD, "source", [seeded["tax"]])
        assert scoped.counts == {"vneid": [1, 0, 0], "password": [0, 1, 0]}
        assert logins_per_day(PERIOD, "portal", []).counts == {}
        dashboard = build_dashboard(PERIOD, {"BTC"})
        assert dashboard.client_ids == [seeded["tax"]] and dashboard.total == 2
        assert build_dashboard(PERIOD, set()).total == 0
        assert build_dashboard(PERIOD, None).total == 5


def test_level_distribution(app, seeded):
    with app.app_context():
        assert level_distribution(PERIOD) == {1: 3, 3: 2}
        assert level_distribution(PERIOD, [seeded["health"]]) == {1: 1, 3: 1}


def test_second_factor_share(app, seeded, make_account):
    first, second, third = seeded["accounts"]
    locked = make_account("001090088009")
    with app.app_context():
        db.session.execute(update(Account).where(Account.id == locked).values(status="locked"))
        now = _at("2026-11-01T00:00:00")
        db.session.add(TotpAuthenticator(account_id=first, secret_sealed="v1.x", activated_at=now, name="app"))
        db.session.add(TotpAuthenticator(account_id=second, secret_sealed="v1.y"))  # pending: not counted
        db.session.add(WebAuthnCredential(account_id=first, name="key", credential_id=b"c1", public_key=b"p",
                                          aaguid="0" * 36, added_acr="x"))
        db.session.add(WebAuthnCredential(account_id=third, name="key", credential_id=b"c2", public_key=b"p",
                                          aaguid="0" * 36, added_acr="x"))
        db.session.add(TotpAuthenticator(account_id=locked, secret_sealed="v1.z", activated_at=now, name="app"))
        db.session.commit()
        share = second_factor_share()
        assert (share.accounts, share.totp, share.webauthn, share.any) == (3, 1, 2, 2)
        assert share.share == pytest.approx(2 / 3)
        scoped = second_factor_share(PERIOD, [seeded["tax"]])  # who logged in to the tax portal: first, second
        assert (scoped.accounts, scoped.any) == (2, 1)
        data = build_dashboard(PERIOD).to_json()
        assert data["second_factor"] == {"active_accounts": 3, "totp": 1, "webauthn": 2, "any": 2, "share": 0.6667}
        assert data["days"] == ["2026-11-10", "2026-11-11", "2026-11-12"]
        assert data["logins"] == {"total": 5, "per_day": [1, 2, 2]}
        assert data["levels"] == [{"level": 1, "count": 3}, {"level": 3, "count": 2}]
        assert data["by_source"][0] == {"key": "vneid", "total": 2, "per_day": [1, 0, 1]}
