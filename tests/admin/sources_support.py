"""Helpers of the identity-source admin tests (tests/admin/test_sources*.py): configurations with
several sources, the pages' forms, and audit look-ups."""

from __future__ import annotations

import re
import socket
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from idp.audit import AuditEvent
from idp.extensions import db
from tests.conftest import csrf_from


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Identity sources of the tests: `mock` logs the staff in, `spare` (a second mock) is switched and
# edited, `upstream` is an OpenID provider on a closed loopback port (answers nothing, needs no network).
UPSTREAM = {"kind": "vneid", "issuer": f"http://127.0.0.1:{closed_port()}", "client_id": "national-sso",
            "client_secret": "file-secret-value"}
SOURCES = {
    "mock": {"kind": "mock"},
    "spare": {"kind": "mock", "names": {"vi": "Nguồn dự phòng", "en": "Spare source"}, "max_level": "substantial"},
    "upstream": UPSTREAM,
}
ADMIN_SETTINGS = {"admin": {"session_lifetime": 600, "reauth_seconds": 120}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def page_csrf(browser: FlaskClient, path: str = "/admin/sources/spare") -> str:
    return csrf_from(browser.get(path).get_data(as_text=True))


def post_page(browser: FlaskClient, path: str, multipart: bool = False, page: str | None = None,
              **fields: Any) -> Any:
    """POST a form of the source pages with the session's CSRF token (read from `page`)."""
    data = {"csrf_token": page_csrf(browser, page or path.rsplit("/", 1)[0]), **fields}
    return browser.post(path, data=data, content_type="multipart/form-data" if multipart else None)


def settings_inputs(html: str) -> dict[str, str]:
    """The settings form's current values by input name (text inputs and textareas)."""
    found = {m.group(1): unescape(m.group(2)) for m in re.finditer(
        r'<input type="text" id="[^"]+" name="(setting-[^"]+)" value="([^"]*)"', html)}
    found |= {m.group(1): unescape(m.group(2)) for m in re.finditer(
        r'<textarea id="[^"]+" name="(setting-[^"]+)"[^>]*>(.*?)</textarea>', html, re.S)}
    return found


def submit_settings(browser: FlaskClient, verifier_id: str, **changes: str) -> Any:
    """Submit the settings form as a browser does: every input as shown, `changes` (by setting key) typed in."""
    html = browser.get(f"/admin/sources/{verifier_id}").get_data(as_text=True)
    fields = settings_inputs(html)
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    for key, value in changes.items():
        fields[key if key.startswith(("reset-", "new_")) else f"setting-{key}"] = value
    return browser.post(f"/admin/sources/{verifier_id}/settings", content_type="multipart/form-data",
                        data={"csrf_token": csrf_from(html), "version": version, **fields})


def audit_events(app: Flask, event: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.execute(select(AuditEvent).where(AuditEvent.event == event)
                                       .order_by(AuditEvent.id)).scalars())
        db.session.expunge_all()
        return rows
