"""Admin statistics page and API: role matrix, agency scope, charts with data tables, hostile periods."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC
from datetime import datetime

import pytest
from sqlalchemy import update

from idp.accounts.history import LoginEvent
from idp.accounts.roles import AGENCY_ADMIN
from idp.accounts.roles import AUDITOR
from idp.accounts.roles import HELPDESK
from idp.accounts.roles import NATIONAL_ADMIN
from idp.extensions import db

MATRIX = [((NATIONAL_ADMIN, None), True), ((AUDITOR, None), True), ((AGENCY_ADMIN, "btc"), True),
          ((HELPDESK, None), False), ((None, None), False)]
SCOPES = {NATIONAL_ADMIN: "admin:national", AUDITOR: "admin:auditor", AGENCY_ADMIN: "admin:agency",
          HELPDESK: "admin:helpdesk"}
PERIOD = {"start": "2026-11-10", "end": "2026-11-12"}


@pytest.fixture
def seeded(app, make_account, make_client):  # noqa: ANN001, ANN201
    account = make_account("001090066601")
    tax, _ = make_client(name="Cổng Thuế")
    health, _ = make_client(name="Cổng Y tế")
    with app.app_context():
        from idp.oidc.models import Client

        db.session.execute(update(Client).where(Client.client_id == tax).values(agency_code="btc"))
        for hour, client_id, source, level in ((1, tax, "vneid", 3), (2, tax, "password", 1),
                                                (3, health, "vneid", 3), (4, None, "sso", 1)):
            db.session.add(LoginEvent(at=datetime(2026, 11, 11, hour, tzinfo=UTC), account_id=account,
                                      client_id=client_id, source=source, level=level, province_code="01"))
        db.session.commit()
    return {"tax": tax, "health": health}


@pytest.mark.parametrize(("role", "allowed"), MATRIX)
def test_page_role_matrix(staff, role, allowed):
    assert staff(*role).get("/admin/stats").status_code == (200 if allowed else 403)


@pytest.mark.parametrize(("role", "allowed"), [m for m in MATRIX if m[0][0] is not None])
def test_api_role_matrix(api_token, client, role, allowed):
    token = api_token(SCOPES[role[0]], agency_code=role[1])
    response = client.get("/admin/api/stats", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == (200 if allowed else 403)


def test_dashboard_page_has_accessible_charts_and_tables(seeded, staff):
    page = staff(NATIONAL_ADMIN).get("/admin/stats", query_string={**PERIOD, "lang": "en"}).get_data(as_text=True)
    assert "4 logins from 10/11/2026 to 12/11/2026" in page
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) == 5
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.get("role") == "img" and root.get("aria-labelledby")
    assert "Cổng Thuế" in page and "Cổng Y tế" in page and "The provider&#39;s own pages" in page
    assert page.count("<details>") == 5 and page.count("<caption>") == 5
    assert "<script" not in page.split("<main", 1)[-1]


def test_agency_admin_sees_only_its_portals(seeded, staff, api_token, client):
    page = staff(AGENCY_ADMIN, "btc").get("/admin/stats", query_string={**PERIOD, "lang": "en"})
    text = page.get_data(as_text=True)
    assert "2 logins from" in text and "Only the portals of your agency are counted." in text
    assert "Cổng Y tế" not in text
    token = api_token("admin:agency", agency_code="btc")
    body = client.get("/admin/api/stats", query_string=PERIOD, headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["scoped"] is True and body["logins"]["total"] == 2
    assert [row["key"] for row in body["by_portal"]] == [seeded["tax"]]
    national = client.get("/admin/api/stats", query_string=PERIOD,
                          headers={"Authorization": f"Bearer {api_token('admin:national')}"}).get_json()
    assert national["scoped"] is False and national["logins"] == {"total": 4, "per_day": [0, 4, 0]}
    assert {row["key"]: row["total"] for row in national["by_source"]} == {"vneid": 2, "password": 1, "sso": 1}


def test_hostile_periods_are_refused(staff, api_token, client):
    browser = staff(AUDITOR)
    auth = {"Authorization": f"Bearer {api_token('admin:auditor')}"}
    for query in ({"start": "2026-02-30"}, {"start": "2026-11-12", "end": "2026-11-10"},
                  {"start": "2020-01-01", "end": "2026-01-01"}, {"end": "<b>"}):
        assert browser.get("/admin/stats", query_string=query).status_code == 400, query
        response = client.get("/admin/api/stats", query_string=query, headers=auth)
        assert response.status_code == 400 and response.get_json()["error"] == "invalid_request", query


def test_default_period_is_the_last_30_days(staff):
    from datetime import timedelta

    from idp.stats.dashboard import default_period

    period = default_period()
    assert (period.end - period.start) == timedelta(days=29)
    page = staff(NATIONAL_ADMIN).get("/admin/stats?lang=en").get_data(as_text=True)
    assert f'value="{period.start.isoformat()}"' in page and f'value="{period.end.isoformat()}"' in page
    assert "1 login from" in page  # the administrator's own login, today
