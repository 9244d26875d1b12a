"""The live provider as the browser tests see it: the people who use it and new browser contexts."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import requests

from tests.live.conftest import LiveServer

LANGUAGES = {"vi": "vi-VN", "en": "en-US"}
PASSWORD = "browser-test-password-2025"


@dataclass
class Person:
    """An account the tests log in with; `totp_secret` when it has an authenticator app."""

    pin: str
    password: str = PASSWORD
    totp_secret: str | None = None
    last_totp_step: int = 0
    state: dict | None = None  # cookies of a login kept for the whole run (see test_pages.py)
    high: bool = False  # steps up to the high level with the mock source after the password (administrators)

    full_name: str = "Lê Thị Thử"
    birthdate: str = "1992-03-04"

    @property
    def email(self) -> str:
        return f"p{self.pin}@example.vn"


def _pins() -> Iterator[str]:
    # Province 001, a woman born in 1992 (the century-and-sex digit 1, then the year): see Person.birthdate.
    return iter(f"001192{n:06d}" for n in range(1, 999_999))


class _PortalPage(BaseHTTPRequestHandler):
    """The portal's pages: whatever the provider sends the browser to, a small page; the path is recorded."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.arrivals.append(self.path)
        body = "<!doctype html><html lang=\"vi\"><title>Cổng thử nghiệm</title><main><h1>Cổng thử nghiệm</h1></main>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Portal:
    """A relying party on a loopback port, registered with `idp clients add` (not trusted: it asks for consent)."""

    url: str
    client_id: str
    client_secret: str
    arrivals: list[str]  # paths the browser was sent to, oldest first

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.url}/bye"


@contextmanager
def running_portal(server: LiveServer) -> Iterator[Portal]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PortalPage)
    httpd.arrivals = []
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    client = json.loads(server.cli("clients", "add", "--name", "Cổng thử nghiệm trợ năng", "--agency", "Sở thử nghiệm",
                                   "--redirect-uri", f"{url}/callback", "--post-logout-redirect-uri", f"{url}/bye"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Portal(url, client["client_id"], client["client_secret"], httpd.arrivals)
    finally:
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Site:
    """The live provider, the shared Chromium and the people who use it."""

    server: LiveServer
    browser: Any  # playwright.sync_api.Browser
    axe_source: str
    portal: Portal
    people: dict[str, Person] = field(default_factory=dict)
    _pins: Iterator[str] = field(default_factory=_pins)

    @property
    def url(self) -> str:
        return self.server.url

    @staticmethod
    def client_address() -> str:
        """A made-up client address: with one trusted proxy hop (proxy_hops = 1) each context is its own client,
        so per-address rate limits of one test never meet another's, even in a Redis shared between runs."""
        return f"10.{secrets.randbelow(250) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(250) + 1}"

    def context(self, lang: str = "vi", *, javascript: bool = True, width: int = 1280, height: int = 900,
                state: dict | None = None) -> Any:
        """A new browser context (its own cookies and client address) speaking `lang`; `state`: saved cookies."""
        address = self.client_address()
        return self.browser.new_context(
            base_url=self.url, locale=LANGUAGES[lang], java_script_enabled=javascript,
            viewport={"width": width, "height": height}, extra_http_headers={"X-Forwarded-For": address},
            storage_state=state)

    def new_person(self) -> Person:
        """Register a fresh citizen account (e-mail and phone not verified) on the registration page."""
        person = Person(next(self._pins))
        with requests.Session() as http:
            http.headers["X-Forwarded-For"] = self.client_address()  # registration allows 10 per hour per address
            form = http.get(f"{self.url}/accounts/register", timeout=10)
            csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text).group(1)
            done = http.post(f"{self.url}/accounts/register", allow_redirects=False, timeout=10, data={
                "csrf_token": csrf, "personal_id": person.pin, "full_name": person.full_name,
                "birthdate": person.birthdate, "gender": "female", "email": person.email,
                "phone": "+849" + person.pin[-8:], "password": person.password, "confirm": person.password})
        assert done.status_code == 303, done.text[:500]
        return person
