"""Real-browser tests: Debian's Chromium driven by Playwright against a live provider process.

The provider is `idp serve` with demo data (tests/live/conftest.py `running_server`), configured with the
mock, telecom, post-office, certificate (the development test CA) and VNeID sources and the sandbox outbox;
the VNeID source talks to the VNeID sandbox provider (idp/verifiers/vneid/sandbox.py), served from this
process on its own loopback port. Each browser context pretends to come from
its own client address (X-Forwarded-For through one trusted proxy hop), so per-address rate limits of one
test never meet another's, even in a Redis shared between runs.

Nothing is downloaded at run time: Chromium comes from the system (`apt-get install chromium`), the
Playwright package from PyPI, axe-core from npm (`make browser`, pinned by package-lock.json). When one of
them is missing the tests are skipped with the reason, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from idp.verifiers.vneid.sandbox import RunningSandbox
from idp.verifiers.vneid.sandbox import start_in_thread
from tests.browser.page_steps import ADMIN
from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.site import running_portal
from tests.live.conftest import DEMO_PASSWORD
from tests.live.conftest import DEMO_PIN
from tests.live.conftest import LiveServer
from tests.live.conftest import require_tool
from tests.live.conftest import running_server

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
# No first-run, sync, component or background traffic: the browser talks to the provider only.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
POST_OFFICE = "100000"  # the counter of the test's postal clerk
VNEID_CLIENT = "browser-sso"
VNEID_SECRET = "browser-sandbox-secret"
# A source of each interaction kind, the sandbox outbox, and an easy clerk (a password login is enough).
SERVER_CONFIG = """
proxy_hops = 1
[features]
sandbox = true
self_registration = true
[verifiers.mock]
kind = "mock"
[verifiers.telecom]
kind = "telecom"
operator = { kind = "sandbox" }
sms = { kind = "sandbox" }
[verifiers.vnpost]
kind = "postal_counter"
clerk_min_level = "low"
[verifiers.vnpost_letter]
kind = "postal_letter"
sandbox = true
"""


def more_sources(devpki: Path, vneid_issuer: str) -> str:
    """The certificate source (the development test CA, written at start; a TLS terminator on loopback may
    forward a client certificate, so its button shows) and the VNeID source, as TOML."""
    return f"""[verifiers.certificate]
kind = "certificate"
development_pki = "{devpki}"
trusted_proxies = ["127.0.0.1"]
[verifiers.vneid]
kind = "vneid"
sandbox = true
issuer = "{vneid_issuer}"
client_id = "{VNEID_CLIENT}"
client_secret = "{VNEID_SECRET}"
"""


def _drop_postgres(url: str) -> None:
    """Drop the server's own PostgreSQL database once it has stopped."""
    parsed = make_url(url)
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def browser_tools() -> tuple[Any, str]:
    """Playwright's sync API and the axe-core source, or skip (fail in CI) naming what is missing."""
    require_tool(CHROMIUM, "Chromium", "apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_tool(None, "The playwright Python package", "pip install -e '.[test]'")
    require_tool(str(AXE), "axe-core", "make browser, i.e. npm ci --prefix tests/browser")
    return sync_playwright, AXE.read_text()


@pytest.fixture(scope="session")
def vneid_sandbox() -> Iterator[RunningSandbox]:
    """The VNeID sandbox provider on a free loopback port; browser_server registers its callback once known."""
    sandbox = start_in_thread({VNEID_CLIENT: {"redirect_uris": [], "secret": VNEID_SECRET}})
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="session")
def browser_server(tmp_path_factory: pytest.TempPathFactory, browser_tools: tuple[Any, str],
                   vneid_sandbox: RunningSandbox) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("browser")
    if os.environ.get("IDP_TEST_REDIS_URL"):
        # Per-account limits are keyed by account ids, which every run's fresh database hands out again.
        redis.Redis.from_url(os.environ["IDP_TEST_REDIS_URL"]).flushdb()
    config = work / "browser.toml"
    config.write_text(SERVER_CONFIG + more_sources(work / "devpki", vneid_sandbox.issuer))
    with running_server(work, "browser", {"IDP_CONFIG": str(config)}) as server:
        # The provider's port is known only now: the sandbox accepts its callback from here on.
        vneid_sandbox.provider.clients[VNEID_CLIENT].redirect_uris = (f"{server.url}/auth/sources/vneid/callback",)
        yield server
    if server.env["IDP_DATABASE_URL"].startswith("postgresql"):
        _drop_postgres(server.env["IDP_DATABASE_URL"])


@pytest.fixture(scope="session")
def site(browser_tools: tuple[Any, str], browser_server: LiveServer) -> Iterator[Site]:
    sync_playwright, axe_source = browser_tools
    with sync_playwright() as playwright, running_portal(browser_server) as portal:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        site = Site(server=browser_server, browser=chromium, axe_source=axe_source, portal=portal)
        clerk = site.new_person()
        browser_server.cli("accounts", "grant-role", clerk.pin, "postal_clerk", "--scope", POST_OFFICE)
        site.people = {"citizen": Person(DEMO_PIN, DEMO_PASSWORD), "clerk": clerk}
        try:
            yield site
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def admin(site: Site) -> Person:
    """A national administrator (`idp accounts grant-role`) who logs in at the high level."""
    person = site.new_person()
    person.high = True
    site.server.cli("accounts", "grant-role", person.pin, "national_admin")
    site.people[ADMIN] = person
    return person
