"""What a person does in the browser to get somewhere: log in, enrol an app, read the outbox, start a QR login.

Shared by the page table (pages.py) and the keyboard and small-screen tests. Mouse clicks are fine here;
tests/browser/test_keyboard.py drives its own runs with the keyboard only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pyotp

from idp.verifiers.base import Level
from tests.auth.soft_authenticator import SoftAuthenticator
from tests.browser.site import Person
from tests.browser.site import Portal
from tests.browser.site import Site

ACR_HIGH = Level.HIGH.acr
ACR_SUBSTANTIAL = Level.SUBSTANTIAL.acr
TOTP_PERIOD = 30


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_path(portal: Portal, challenge: str, state: str = "st", prompt: str | None = None) -> str:
    """The test portal's authorization request (code flow, PKCE S256)."""
    params = {"response_type": "code", "client_id": portal.client_id, "redirect_uri": portal.redirect_uri,
              "scope": "openid profile email phone", "state": state, "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    if prompt:
        params["prompt"] = prompt
    return "/oauth2/authorize?" + urlencode(params)


def totp_code(person: Person) -> str:
    """The authenticator's next unused code: a step is accepted once, and one step early (idp/auth/mfa/totp.py)."""
    step = max(int(time.time()) // TOTP_PERIOD, person.last_totp_step + 1)
    assert step <= int(time.time()) // TOTP_PERIOD + 1, "no unused TOTP step left within the accepted drift"
    person.last_totp_step = step
    return pyotp.TOTP(person.totp_secret).at(step * TOTP_PERIOD)


def log_in(page: Any, person: Person, next_url: str = "") -> None:
    """Log in with the password (and the authenticator when the account has one)."""
    page.goto("/auth/login?" + urlencode({"next": next_url}) if next_url else "/auth/login")
    submit_password(page, person)
    if person.totp_secret:
        page.wait_for_url("**/auth/mfa**")
        page.fill("#code-totp", totp_code(person))
        page.click("#code-totp >> xpath=ancestor::form//button[@type='submit']")
    page.wait_for_load_state()
    assert "/auth/login" not in page.url and "/auth/mfa" not in page.url, page.url
    if person.high:
        step_up_to_high(page, person)


def step_up_to_high(page: Any, person: Person) -> None:
    """Confirm the identity at the high level with the mock source (what the admin console asks of staff)."""
    page.goto("/auth/login?" + urlencode({"acr": ACR_HIGH, "next": "/auth/done"}))
    page.click("form[action*='/auth/sources/mock/start'] button")
    page.wait_for_load_state()
    page.fill("#personal_id", person.pin)
    page.fill("#full_name", person.full_name)
    page.fill("#birthdate", person.birthdate)
    page.select_option("#level", "high")
    page.click("main form button[type=submit]:not([value=cancel])")
    page.wait_for_url("**/auth/done")


def submit_password(page: Any, person: Person, password: str | None = None) -> None:
    page.fill("#identifier", person.pin)
    page.fill("#password", password if password is not None else person.password)
    page.click("form[action$='/auth/login'] button[type=submit]")
    page.wait_for_load_state()


def totp_key(page: Any) -> str:
    """The base32 key shown on the enrolment page (grouped with spaces for reading)."""
    return page.inner_text("#totp-key").replace(" ", "")


def enrol_totp(page: Any, person: Person) -> None:
    """Add an authenticator app to a freshly logged-in person's account (recent login needed)."""
    page.goto("/accounts/security/totp/new")
    person.totp_secret = totp_key(page)
    page.fill("#code", totp_code(person))
    page.fill("#name", "Điện thoại")
    page.click("form[action$='/totp/new'] button[type=submit]")
    page.wait_for_url("**/accounts/security**")


def outbox_text(page: Any, recipient: str) -> str:
    """The newest sandbox message to `recipient` (/sandbox/outbox, development only)."""
    page.goto("/sandbox/outbox")
    for row in page.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        if recipient in cells[2]:
            return cells[3]
    raise AssertionError(f"no message to {recipient} in the outbox")


def link_in(message: str, path: str) -> str:
    match = re.search(r"https?://\S+" + re.escape(path) + r"\S*", message)
    assert match, f"no {path} link in: {message}"
    return match.group(0).rstrip(".")


def verify_email(page: Any, person: Person, email: str) -> None:
    """Send the verification link, open it from the outbox and confirm (the person is logged in)."""
    page.goto("/accounts/email")
    page.click("form[action$='/accounts/email'] button[type=submit]")
    page.wait_for_load_state()
    page.goto(link_in(outbox_text(page, email), "/accounts/email/verify/"))
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def start_qr_login(site: Site, lang: str, next_url: str = "") -> tuple[Any, str, str]:
    """A computer shows a QR login: (its page, the phone's URL, the number to tap). Close the page's context."""
    desktop = site.context(lang).new_page()
    desktop.goto("/auth/qr/start" + ("?" + urlencode({"next": next_url}) if next_url else ""))
    desktop.wait_for_url("**/wait")
    return desktop, desktop.inner_text(".crossdevice-url").strip(), desktop.inner_text("#crossdevice-number").strip()


def start_counter_check(page: Any) -> str:
    """A logged-in citizen asks for a post-office check from the sources page; return the reference."""
    page.goto("/accounts/sources")
    page.click("form[action*='/auth/sources/vnpost/start'] button")
    page.wait_for_load_state()
    match = re.search(r"\b[A-Z0-9]{5}-[A-Z0-9]{5}\b", page.inner_text("main"))
    assert match, page.inner_text("main")
    return match.group(0)


def add_passkey(page: Any, site: Site, name: str = "Khoá bảo mật") -> None:
    """Register a passkey for the logged-in person (a recent login) through the account page's two JSON calls.

    The key is a software authenticator (tests/auth/soft_authenticator.py), not Chromium's virtual one: the live
    provider's RP ID is its host, 127.0.0.1, and a browser refuses an IP address as RP ID (WebAuthn L3 §5.1.3
    step 8: it must be a valid domain, else SecurityError)."""
    page.goto("/accounts/passkeys")
    token = page.get_attribute("form[data-webauthn=register] input[name=csrf_token]", "value")
    headers = {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token}
    options = page.request.post("/accounts/passkeys/options", data=json.dumps({}), headers=headers)
    assert options.ok, options.text()
    authenticator = SoftAuthenticator(origin=site.url, rp_id=urlsplit(site.url).hostname)
    credential = authenticator.create(options.json())
    added = page.request.post("/accounts/passkeys", data=json.dumps({"name": name, "credential": credential}),
                              headers=headers)
    assert added.status == 201, added.text()
