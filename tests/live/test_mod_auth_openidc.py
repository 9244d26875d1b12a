"""Apache httpd with mod_auth_openidc (the Debian packages) protects a page with the provider under test.

Apache runs in the foreground with its own configuration (tests/live/interop/apache.conf.in) on a free
loopback port. The test plays the browser: /protected → the provider's authorization endpoint (code
flow, PKCE S256 — RFC 7636 §4.3) → login and consent → back to Apache, which exchanges the code,
validates the ID token (OIDC Core §3.1.3.7) and serves the page with the `sub` claim; a second request
reuses Apache's session; the module's logout goes to our end_session_endpoint (RP-Initiated Logout 1.0).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import parse_qs
from urllib.parse import quote
from urllib.parse import urlsplit

import pytest
import requests

from tests.live.conftest import free_port
from tests.live.conftest import log_in_and_consent
from tests.live.conftest import require_tool

pytestmark = pytest.mark.live

INTEROP = Path(__file__).parent / "interop"
MODULES = Path(os.environ.get("APACHE_MODULES", "/usr/lib/apache2/modules"))
INSTALL = "apt-get install apache2 libapache2-mod-auth-openidc"


@dataclass
class Apache:
    url: str
    client: dict
    work: Path

    def log(self) -> str:
        return (self.work / "logs" / "error.log").read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def apache(live_server) -> Iterator[Apache]:
    httpd = require_tool(os.environ.get("APACHE2", "/usr/sbin/apache2"), "Apache httpd", INSTALL)
    require_tool(str(MODULES / "mod_auth_openidc.so"), "mod_auth_openidc", INSTALL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = json.loads(live_server.cli("clients", "add", "--name", "Apache mod_auth_openidc portal",
                                        "--redirect-uri", f"{base}/protected/redirect_uri",
                                        "--post-logout-redirect-uri", f"{base}/loggedout.html"))
    # Apache's workers drop root for www-data, so the tree must be readable by them (pytest's tmp is 0700).
    work = Path(tempfile.mkdtemp(prefix="idp-apache-"))
    server = Apache(url=base, client=client, work=work)
    process = None
    try:
        work.chmod(0o755)
        for sub in ("run", "logs", "htdocs/protected"):
            (work / sub).mkdir(parents=True)
        (work / "htdocs" / "protected" / "index.html").write_text("<p>protected page</p>\n")
        (work / "htdocs" / "loggedout.html").write_text("<p>signed out</p>\n")
        user_group = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        config = Template((INTEROP / "apache.conf.in").read_text()).substitute(
            work=work, port=port, modules=MODULES, issuer=live_server.url, user_group=user_group,
            client_id=client["client_id"], client_secret=client["client_secret"],
            passphrase=secrets.token_urlsafe(32))
        (work / "httpd.conf").write_text(config)
        checked = subprocess.run([httpd, "-t", "-d", str(work), "-f", str(work / "httpd.conf")],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen([httpd, "-DFOREGROUND", "-d", str(work), "-f", str(work / "httpd.conf")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{base}/loggedout.html", timeout=1)
                break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("apache did not start: " + server.log())
            time.sleep(0.1)
        yield server
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


def _log_in(apache: Apache, live_server, browser: requests.Session) -> requests.Response:
    start = browser.get(f"{apache.url}/protected/", allow_redirects=False)
    assert start.status_code == 302, apache.log()
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{live_server.url}/oauth2/authorize?")
    request = parse_qs(urlsplit(authorize).query)
    assert request["client_id"] == [apache.client["client_id"]] and request["code_challenge_method"] == ["S256"]
    assert request["scope"] == ["openid profile"] and "nonce" in request and "state" in request
    callback = log_in_and_consent(live_server, browser, authorize, f"{apache.url}/protected/redirect_uri")
    back = browser.get(callback, allow_redirects=False)  # Apache redeems the code and validates the ID token
    assert back.status_code == 302, back.text[:300] + apache.log()
    assert back.headers["Location"] in (f"{apache.url}/protected/", "/protected/")
    return browser.get(f"{apache.url}/protected/", allow_redirects=False)


def test_mod_auth_openidc_logs_in_reuses_its_session_and_logs_out(apache, live_server):
    browser = requests.Session()
    page = _log_in(apache, live_server, browser)
    assert page.status_code == 200 and "protected page" in page.text, apache.log()
    sub = page.headers["X-Sub"]
    assert sub and page.headers["X-Acr"] == "urn:vn:gov:sso:loa:low"

    # Apache's own session serves the page again without a trip to the provider.
    again = browser.get(f"{apache.url}/protected/", allow_redirects=False)
    assert again.status_code == 200 and again.headers["X-Sub"] == sub

    # The module's logout: clear Apache's session, then RP-Initiated Logout at our end_session_endpoint.
    done = f"{apache.url}/loggedout.html"
    logout = browser.get(f"{apache.url}/protected/redirect_uri?logout={quote(done, safe='')}", allow_redirects=False)
    assert logout.status_code == 302, apache.log()
    end = urlsplit(logout.headers["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{live_server.url}/oauth2/logout"
    hint = parse_qs(end.query)
    assert hint["post_logout_redirect_uri"] == [done] and "id_token_hint" in hint
    ended = browser.get(logout.headers["Location"], allow_redirects=False)
    assert ended.status_code == 302 and ended.headers["Location"].startswith(done), ended.text[:300]

    # Both sessions are gone: Apache sends the browser to the provider, which asks for the password again.
    after = browser.get(f"{apache.url}/protected/", allow_redirects=False)
    assert after.status_code == 302 and after.headers["Location"].startswith(f"{live_server.url}/oauth2/authorize?")
    to_login = browser.get(after.headers["Location"], allow_redirects=False)
    assert to_login.status_code == 302 and "/auth/login" in to_login.headers["Location"]


def test_mod_auth_openidc_refuses_a_callback_meant_for_another_browser(apache, live_server):
    """RFC 6749 §10.12 / OIDC Core §3.1.2.7: a code and state delivered to a browser that did not start the
    login (login CSRF) or a made-up state are refused, and the genuine browser can still finish."""
    victim, attacker = requests.Session(), requests.Session()
    made_up = attacker.get(f"{apache.url}/protected/redirect_uri?code=forged&state=forged", allow_redirects=False)
    assert made_up.status_code == 400

    start = victim.get(f"{apache.url}/protected/", allow_redirects=False)
    callback = log_in_and_consent(live_server, victim, start.headers["Location"],
                                  f"{apache.url}/protected/redirect_uri")
    stolen = attacker.get(callback, allow_redirects=False)
    assert stolen.status_code == 400, stolen.headers
    assert attacker.get(f"{apache.url}/protected/", allow_redirects=False).status_code == 302

    finished = victim.get(callback, allow_redirects=False)
    assert finished.status_code == 302
    page = victim.get(f"{apache.url}/protected/", allow_redirects=False)
    assert page.status_code == 200 and page.headers["X-Sub"]
