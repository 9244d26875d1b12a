"""A real provider process (`idp serve`, gunicorn, 2 workers) on a free loopback port.

Backed by PostgreSQL and Redis when IDP_TEST_DATABASE_URL / IDP_TEST_REDIS_URL are set (CI sets
both), else by a SQLite file. Relying parties talk to it over real HTTP.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

IDP = str(Path(sys.executable).parent / "idp")


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        done = subprocess.run([IDP, *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _fresh_postgres(url: str, suffix: str) -> str:
    base = make_url(url)
    name = f"{base.database}_{suffix}"
    engine = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("live")) as server:
        yield server


@contextmanager
def running_server(work: Path, database_suffix: str = "live", extra_env: Mapping[str, str] | None = None,
                   ) -> Iterator[LiveServer]:
    """Start `idp serve` with demo data (files in `work`, PostgreSQL database `<test db>_<suffix>`); stop it after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    pg = os.environ.get("IDP_TEST_DATABASE_URL")
    env.update({
        "IDP_ENV": "testing",
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_DATABASE_URL": _fresh_postgres(pg, database_suffix) if pg else f"sqlite:///{work}/idp.db",
        "IDP_KEYS_DIR": str(work / "keys"),
        "IDP_PASSWORDS__TIME_COST": "1",
        "IDP_PASSWORDS__MEMORY_COST": "1024",
        "IDP_PASSWORDS__PARALLELISM": "1",
    })
    if os.environ.get("IDP_TEST_REDIS_URL"):
        env["IDP_REDIS_URL"] = os.environ["IDP_TEST_REDIS_URL"]
    env.update(extra_env or {})
    server = LiveServer(url=f"http://127.0.0.1:{port}", env=env)
    server.cli("db", "upgrade")
    server.cli("demo")
    log = open(work / "server.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen([IDP, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{server.url}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):  # a loaded machine may answer slowly at first
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start: " + (work / "server.log").read_text()[-2000:])
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


DEMO_PIN = "001090012345"  # a demo account (idp/demo.py)
DEMO_PASSWORD = "demo-password-2025"


def require_tool(path: str | None, what: str, install: str) -> str:
    """Skip when a relying-party tool is missing on a developer machine; in CI (CI=true) fail instead."""
    if path and (shutil.which(path) or Path(path).exists()):
        return path
    message = f"{what} is not installed ({install})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message}: CI must run the interoperability tests", pytrace=False)
    pytest.skip(message)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def log_in_and_consent(server: LiveServer, browser: requests.Session, authorization_url: str,
                       redirect_prefix: str) -> str:
    """Play the user's browser on the provider: login page, password, consent; return the redirect back.

    `authorization_url` is the provider's /oauth2/authorize URL built by the relying party; the returned
    URL starts with `redirect_prefix` (the relying party's redirect URI) and carries the code.
    """
    to_login = browser.get(authorization_url, allow_redirects=False)
    assert to_login.status_code == 302, to_login.text[:300]
    location = urljoin(server.url, to_login.headers["Location"])
    if not location.startswith(redirect_prefix):  # no single sign-on session yet: log in
        page = browser.get(location)
        assert page.status_code == 200 and 'name="identifier"' in page.text, page.text[:300]
        next_url = html.unescape(re.search(r'name="next" type="hidden" value="([^"]+)"', page.text).group(1))
        logged_in = browser.post(f"{server.url}/auth/login", allow_redirects=False, data={
            "csrf_token": _csrf(page.text), "identifier": DEMO_PIN, "password": DEMO_PASSWORD, "next": next_url})
        assert logged_in.status_code == 303, logged_in.text[:300]
        location = urljoin(server.url, logged_in.headers["Location"])
    if not location.startswith(redirect_prefix):
        consent = browser.get(location, allow_redirects=False)
        if consent.status_code == 302:
            location = urljoin(server.url, consent.headers["Location"])
        else:
            assert consent.status_code == 200 and 'name="decision"' in consent.text, consent.text[:300]
            action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', consent.text).group(1))
            granted = browser.post(urljoin(server.url, action), allow_redirects=False,
                                   data={"csrf_token": _csrf(consent.text), "decision": "allow"})
            assert granted.status_code == 302, granted.text[:300]
            location = granted.headers["Location"]
    assert location.startswith(redirect_prefix), location
    return location
