"""Helpers for the account console tests (tests/accounts/test_console*.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import time_machine
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from flask_babel import gettext
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db
from idp.outbox import OutboxMessage
from tests.conftest import BrowserFlow
from tests.conftest import press_source
from tests.conftest import submit_form

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
CHROME_ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Mobile Safari/537.36")
CONSOLE_PAGES = ("/accounts/", "/accounts/profile", "/accounts/sources", "/accounts/history", "/accounts/export",
                 "/accounts/delete")
# The existing account pages that now carry the console's navigation.
OTHER_ACCOUNT_PAGES = ("/accounts/security", "/accounts/passkeys", "/accounts/sessions", "/accounts/consents",
                       "/accounts/password", "/accounts/email")


def log_in(client: FlaskClient, pin: str, **headers: str) -> None:
    """Log in with the password (fresh login: recent enough for sensitive actions)."""
    flow = BrowserFlow(client)
    if headers:
        client.environ_base.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    response = flow.login(pin)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]


def log_in_with_source(client: FlaskClient, pin: str, level: str = "substantial", verifier_id: str = "mock",
                       next_url: str = "", **claims: str) -> Any:
    """Log in (or step up, or add a source) through the mock identity source."""
    prompt = press_source(client, verifier_id, next_url=next_url)
    assert prompt.status_code == 200, prompt.get_data(as_text=True)[:300]
    done = submit_form(client, prompt, personal_id=pin, level=level, **claims)
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    return done


@contextmanager
def later(seconds: int) -> Iterator[None]:
    """Move the clock forward (the login is no longer recent; sessions stay alive under the idle limit)."""
    with time_machine.travel(time.time() + seconds, tick=False):
        yield


def translated(app: Flask, lang: str, msgid: str, **params: Any) -> str:
    """What the page shows for `msgid` in `lang` (the catalogue's text once translated)."""
    with app.test_request_context(), force_locale(lang):
        return gettext(msgid, **params)


def events(app: Flask, name: str, account_id: int | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).where(AuditEvent.event == name)
        if account_id is not None:
            query = query.where(AuditEvent.account_id == account_id)
        return list(db.session.execute(query.order_by(AuditEvent.id)).scalars())


def outbox(app: Flask) -> list[str]:
    with app.app_context():
        return [m.body for m in db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]


def form_token(html: str, action: str) -> str:
    """The CSRF token of the form posting to `action`."""
    match = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>\s*<input id="csrf_token" '
                      r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no form to {action}"
    return match.group(1)
