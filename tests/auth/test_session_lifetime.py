"""SSO session lifetimes: an idle lifetime (login.session_idle_lifetime) beside the absolute one
(login.session_lifetime).

NIST SP 800-63B §7.1 (session management) / §4.x reauthentication: a session ends after a period of
inactivity and after an overall time limit, whichever comes first. Activity is recorded at most once a
minute per session so ordinary requests do not write.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import event
from sqlalchemy import select

from idp import create_app
from idp.accounts.models import LoginSession
from idp.errors import ConfigError
from idp.extensions import db
from tests.conftest import base_settings

PIN = "001090077101"
START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def _logged_in(client) -> bool:  # noqa: ANN001
    """A page that needs a login answers 200 when the session is alive, 303 to the login page otherwise."""
    response = client.get("/accounts/sessions")
    assert response.status_code in (200, 303)
    return response.status_code == 200


def _last_seen(app) -> datetime | None:  # noqa: ANN001
    with app.app_context():
        [row] = db.session.execute(select(LoginSession)).scalars().all()
        return row.last_seen_at


@pytest.fixture
def updates(app):  # noqa: ANN001, ANN201
    """Count UPDATE statements on login_session (the activity writes)."""
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # noqa: ANN001, ANN202
        if statement.lstrip().upper().startswith("UPDATE LOGIN_SESSION"):
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_idle_session_ends_exactly_after_the_idle_lifetime(app, client, browser, make_account):
    """Not used for session_idle_lifetime (1800 s) seconds: over, although 8 h have not passed."""
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        assert browser.login(PIN).status_code == 303
        assert _last_seen(app) == START  # a new session counts as used now
        clock.move_to(START + timedelta(seconds=1799))
        assert _logged_in(client)  # one second before the limit: alive (and this use is recorded) ...
        clock.move_to(START + timedelta(seconds=1799 + 1800))
        assert not _logged_in(client)  # ... idle exactly 1800 s since that use: over


def test_idle_limit_without_any_use(app, client, browser, make_account):
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        browser.login(PIN)
        clock.move_to(START + timedelta(seconds=1800))
        assert not _logged_in(client)


def test_activity_keeps_the_session_alive_and_writes_at_most_once_a_minute(app, client, browser, make_account,
                                                                            updates):
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        browser.login(PIN)
        updates.clear()
        for second in (10, 20, 59):  # within the first minute: no write at all
            clock.move_to(START + timedelta(seconds=second))
            assert _logged_in(client)
        assert updates == [] and _last_seen(app) == START
        clock.move_to(START + timedelta(seconds=60))
        assert _logged_in(client) and _logged_in(client)  # two requests, one write
        assert len(updates) == 1 and _last_seen(app) == START + timedelta(seconds=60)
        # Used every 20 minutes for 2 hours: never idle for 30 minutes, so never over.
        for minutes in range(21, 121, 20):
            clock.move_to(START + timedelta(minutes=minutes))
            assert _logged_in(client)
        assert _last_seen(app) == START + timedelta(minutes=101)


def test_absolute_lifetime_still_ends_an_active_session(app, client, browser, make_account):
    """session_lifetime (8 h) ends the session however busy it is."""
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        browser.login(PIN)
        for minutes in range(10, 8 * 60, 10):
            clock.move_to(START + timedelta(minutes=minutes))
            assert _logged_in(client)
        clock.move_to(START + timedelta(hours=8))
        assert not _logged_in(client)


def test_sso_reuse_by_a_second_portal_counts_as_activity(app, client, browser, make_account, make_client):
    """OIDC Core §3.1.2.1 prompt=none at a second portal reuses the session: that is a use of it."""
    make_account(PIN)
    first, _ = make_client(trusted=True)
    second, _ = make_client(trusted=True)
    with time_machine.travel(START, tick=False) as clock:
        browser.code_for(PIN, first)
        clock.move_to(START + timedelta(minutes=25))
        params = browser.code_for(PIN, second, prompt="none")
        assert "code" in params
        assert _last_seen(app) == START + timedelta(minutes=25)
        clock.move_to(START + timedelta(minutes=50))  # 50 min since login, 25 since the second portal
        assert _logged_in(client)


def test_sessions_from_before_the_migration_count_from_their_start(app, client, browser, make_account):
    """Rows without last_seen_at (opened before this revision) are idle since created_at."""
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        browser.login(PIN)
        with app.app_context():
            db.session.execute(LoginSession.__table__.update().values(last_seen_at=None))
            db.session.commit()
        clock.move_to(START + timedelta(seconds=1799))
        assert _logged_in(client)
        assert _last_seen(app) == START + timedelta(seconds=1799)


def test_a_failed_request_does_not_commit_other_work(app, client, browser, make_account):
    """The activity write never commits a view's unfinished changes: a 4xx response keeps nothing."""
    make_account(PIN)
    with time_machine.travel(START, tick=False) as clock:
        browser.login(PIN)
        clock.move_to(START + timedelta(minutes=5))
        assert client.post("/accounts/sessions", data={"sid": "x"}).status_code == 400  # no CSRF token
        assert _last_seen(app) == START


@pytest.mark.parametrize("value", [0])
def test_idle_lifetime_must_be_positive(database_url, keys_dir, value):  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        create_app(base_settings(database_url, keys_dir, login={"session_idle_lifetime": value}))
    assert info.value.code == "login.session_idle_lifetime"


def test_idle_lifetime_is_configurable(app, database_url, keys_dir):  # noqa: ANN001
    other = create_app(base_settings(database_url, keys_dir, login={"session_idle_lifetime": 600}))
    assert other.extensions["idp.settings"].login.session_idle_lifetime == 600
    assert app.extensions["idp.settings"].login.session_idle_lifetime == 1800
