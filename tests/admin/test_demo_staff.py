"""The demo data gives every admin role an account that can open the console (README quick start)."""

from __future__ import annotations

import pytest

from idp.demo import DEMO_STAFF
from idp.demo import load_demo
from idp.extensions import db
from tests.conftest import press_source
from tests.conftest import submit_form


@pytest.mark.parametrize("index", range(len(DEMO_STAFF)))
def test_demo_staff_reach_the_console_through_the_mock_source_at_high(app, index):
    with app.app_context():
        described = load_demo()
        db.session.commit()
    new, role, scope = DEMO_STAFF[index]
    assert {"identifier": new.identifier, "name": new.full_name, "role": role, "scope": scope} in \
        described["admin_console"]["staff"]
    browser = app.test_client()
    page = press_source(browser)
    submit_form(browser, page, personal_id=new.identifier, full_name=new.full_name,
                birthdate=new.birthdate.isoformat(), level="high")
    assert browser.get("/admin/").status_code == 200
