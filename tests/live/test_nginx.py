"""nginx (Debian's package, with its built-in auth_request module) protects a page with the provider under test,
through the example login gateway (clients/examples/nginx: nginx.conf and gateway.py, run as they are).

nginx runs in the foreground with its own prefix, temporary folders, pid file and error log on a free
loopback port; the gateway is a separate process (Flask + Authlib's client); the provider is the live
server. The test plays the browser: /protected/ → the gateway's /oauth2/start → the provider's
authorization endpoint (code flow, PKCE S256 — RFC 7636 §4.3, nonce — OIDC Core §3.1.2.1) → login and
consent → /oauth2/callback, where the gateway redeems the code and validates the ID token (OIDC Core
§3.1.3.7) → back to /protected/, served by nginx with the user's `sub`; the next request reuses the
gateway's session; RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 end it.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest
import requests

from tests.live.conftest import free_port
from tests.live.conftest import log_in_and_consent
from tests.live.conftest import require_tool

pytestmark = pytest.mark.live

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "clients" / "examples" / "nginx"
INSTALL = "apt-get install nginx"
TIMEOUT = 10
ACR_LOW = "urn:vn:gov:sso:loa:low"


@dataclass
class Nginx:
    url: str
    client: dict
    work: Path

    def log(self) -> str:
        logs = [self.work / "logs" / "error.log", self.work / "gateway.log"]
        return "\n".join(path.read_text(errors="replace")[-2000:] for path in logs if path.exists())


def _wait_for(url: str, process: subprocess.Popen, what: str, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {log()}")
        time.sleep(0.1)


def _config(work: Path, port: int, gateway_port: int) -> str:
    user = "user www-data;" if os.geteuid() == 0 else ""  # workers drop root; the tree is readable by them
    text = (EXAMPLE / "nginx.conf").read_text()
    for name, value in {"@PREFIX@": str(work), "@ROOT@": str(work / "site"), "@LISTEN@": f"127.0.0.1:{port}",
                        "@GATEWAY@": f"127.0.0.1:{gateway_port}", "@USER@": user}.items():
        text = text.replace(name, value)
    assert "@" not in re.sub(r"#.*", "", text), "a placeholder was left in nginx.conf"
    return text


@pytest.fixture(scope="module")
def nginx(live_server) -> Iterator[Nginx]:
    binary = require_tool(os.environ.get("NGINX", "/usr/sbin/nginx"), "nginx", INSTALL)
    port, gateway_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    client = json.loads(live_server.cli(
        "clients", "add", "--name", "Cổng sau nginx", "--redirect-uri", f"{base}/oauth2/callback",
        "--post-logout-redirect-uri", f"{base}/signed-out.html",
        "--backchannel-logout-uri", f"{base}/oauth2/backchannel_logout", "--scope", "openid profile"))
    work = Path(tempfile.mkdtemp(prefix="idp-nginx-"))
    server = Nginx(url=base, client=client, work=work)
    processes: list[subprocess.Popen] = []
    try:
        work.chmod(0o755)
        for sub in ("logs", "tmp"):
            (work / sub).mkdir()
        shutil.copytree(EXAMPLE / "site", work / "site")
        for folder in (work / "site", work / "site" / "protected"):
            folder.chmod(0o755)
        (work / "nginx.conf").write_text(_config(work, port, gateway_port))
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update({"IDP_ISSUER": live_server.url, "CLIENT_ID": client["client_id"],
                    "CLIENT_SECRET": client["client_secret"], "PORTAL_URL": base, "GATEWAY_PORT": str(gateway_port),
                    "PORTAL_SECRET_KEY": secrets.token_hex(32)})
        with open(work / "gateway.log", "w") as log:  # noqa: PTH123
            processes.append(subprocess.Popen([sys.executable, str(EXAMPLE / "gateway.py")], env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
        _wait_for(f"http://127.0.0.1:{gateway_port}/oauth2/auth", processes[-1], "the gateway", server.log)
        command = [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-e", str(work / "logs" / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stderr
        processes.append(subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        _wait_for(f"{base}/signed-out.html", processes[-1], "nginx", server.log)
        yield server
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


def _log_in(nginx: Nginx, live_server, browser: requests.Session) -> requests.Response:
    """The protected page → the provider → login and consent → the gateway's callback → the protected page."""
    start = browser.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)
    assert start.status_code == 302, start.text[:300] + nginx.log()
    authorize = start.headers["Location"]
    assert authorize.startswith(f"{live_server.url}/oauth2/authorize?")
    request = parse_qs(urlsplit(authorize).query)
    assert request["client_id"] == [nginx.client["client_id"]] and request["code_challenge_method"] == ["S256"]
    assert request["redirect_uri"] == [f"{nginx.url}/oauth2/callback"] and request["scope"] == ["openid profile"]
    assert "nonce" in request and "state" in request
    callback = log_in_and_consent(live_server, browser, authorize, f"{nginx.url}/oauth2/callback")
    back = browser.get(callback, allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 302, back.text[:300] + nginx.log()
    assert back.headers["Location"] == "/protected/"
    return browser.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)


def _sub_on(page: requests.Response) -> str:
    shown = re.search(r'<code id="sub">([^<]*)</code>', page.text)
    assert shown, page.text[:500]
    return shown.group(1)


def _asks_to_log_in(nginx: Nginx, live_server, browser: requests.Session) -> bool:
    """The protected page sends the browser to the provider, which shows its login page."""
    page = browser.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)
    if page.status_code != 302 or not page.headers["Location"].startswith(f"{live_server.url}/oauth2/authorize?"):
        return False
    to_login = browser.get(page.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    return to_login.status_code == 302 and "/auth/login" in to_login.headers["Location"]


def test_nginx_protects_a_page_reuses_the_session_and_signs_out(nginx, live_server):
    browser = requests.Session()
    page = _log_in(nginx, live_server, browser)
    assert page.status_code == 200 and "Protected page" in page.text, nginx.log()
    sub = _sub_on(page)
    assert sub and page.headers["X-Auth-Request-User"] == sub
    assert page.headers["X-Auth-Request-Acr"] == ACR_LOW and f'<code id="acr">{ACR_LOW}</code>' in page.text

    # The gateway's session serves the page again without a trip to the provider.
    again = browser.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)
    assert again.status_code == 200 and _sub_on(again) == sub
    # The auth subrequest location is internal: browsers cannot reach it.
    assert browser.get(f"{nginx.url}/oauth2/auth", timeout=TIMEOUT).status_code == 404

    # RP-Initiated Logout 1.0 §2: a confirmation form (CSRF token), then the provider's end_session_endpoint.
    form = browser.get(f"{nginx.url}/oauth2/sign_out", timeout=TIMEOUT)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert browser.post(f"{nginx.url}/oauth2/sign_out", data={}, allow_redirects=False,
                        timeout=TIMEOUT).status_code == 400
    out = browser.post(f"{nginx.url}/oauth2/sign_out", data={"csrf_token": token}, allow_redirects=False,
                       timeout=TIMEOUT)
    assert out.status_code == 302, out.text[:300]
    end = urlsplit(out.headers["Location"])
    assert f"{end.scheme}://{end.netloc}{end.path}" == f"{live_server.url}/oauth2/logout"
    hint = parse_qs(end.query)
    assert hint["post_logout_redirect_uri"] == [f"{nginx.url}/signed-out.html"] and "id_token_hint" in hint
    ended = browser.get(out.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    assert ended.status_code == 302 and ended.headers["Location"].startswith(f"{nginx.url}/signed-out.html")
    assert browser.get(ended.headers["Location"], timeout=TIMEOUT).status_code == 200

    # Both sessions are over: the protected page needs a login at the provider again.
    assert _asks_to_log_in(nginx, live_server, browser)


def test_back_channel_logout_from_the_provider_ends_the_gateway_session(nginx, live_server):
    """Back-Channel Logout 1.0 §2.5-2.7: logging out at the provider posts a logout token to the gateway,
    which validates it and ends the matching login; nginx then asks for a login again."""
    browser = requests.Session()
    page = _log_in(nginx, live_server, browser)
    assert page.status_code == 200 and _sub_on(page), nginx.log()
    confirm = browser.get(f"{live_server.url}/oauth2/logout", timeout=TIMEOUT)
    assert confirm.status_code == 200 and 'name="confirm"' in confirm.text, confirm.text[:300]
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', confirm.text).group(1))
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', confirm.text).group(1)
    done = browser.post(urljoin(live_server.url, action), data={"csrf_token": token, "confirm": "yes"},
                        timeout=TIMEOUT)
    assert done.status_code == 200, done.text[:300]
    # The provider delivers logout tokens from its outbox after answering: wait for the gateway to see it.
    deadline = time.monotonic() + 20
    while browser.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT).status_code == 200:
        assert time.monotonic() < deadline, "no back-channel logout reached the gateway: " + nginx.log()
        time.sleep(0.2)
    assert _asks_to_log_in(nginx, live_server, browser)


def test_a_forged_or_stolen_callback_is_refused(nginx, live_server):
    """RFC 6749 §10.12 / OIDC Core §3.1.2.7: a made-up state, or a code and state delivered to a browser that
    did not start the login (login CSRF), are refused; the genuine browser still finishes."""
    victim, attacker = requests.Session(), requests.Session()
    made_up = attacker.get(f"{nginx.url}/oauth2/callback?code=forged&state=forged", allow_redirects=False,
                           timeout=TIMEOUT)
    assert made_up.status_code == 400 and "mismatching_state" in made_up.text

    start = victim.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)
    callback = log_in_and_consent(live_server, victim, start.headers["Location"], f"{nginx.url}/oauth2/callback")
    stolen = attacker.get(callback, allow_redirects=False, timeout=TIMEOUT)
    assert stolen.status_code == 400
    assert attacker.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT).status_code == 302

    finished = victim.get(callback, allow_redirects=False, timeout=TIMEOUT)
    assert finished.status_code == 302
    page = victim.get(f"{nginx.url}/protected/", allow_redirects=False, timeout=TIMEOUT)
    assert page.status_code == 200 and _sub_on(page)


def test_the_gateway_returns_only_to_pages_of_its_own_site(nginx, live_server):
    """No open redirect (RFC 9700 §4.11): `rd` must be a path on this site; anything else returns to /."""
    browser = requests.Session()
    start = browser.get(f"{nginx.url}/oauth2/start?rd=//evil.example/x", allow_redirects=False, timeout=TIMEOUT)
    callback = log_in_and_consent(live_server, browser, start.headers["Location"], f"{nginx.url}/oauth2/callback")
    back = browser.get(callback, allow_redirects=False, timeout=TIMEOUT)
    assert back.status_code == 302 and back.headers["Location"] == "/"
