"""The steps that end on one page each, for the table in pages.py (clicks are fine here)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.steps import add_passkey
from tests.browser.steps import authorize_path
from tests.browser.steps import enrol_totp
from tests.browser.steps import link_in
from tests.browser.steps import log_in
from tests.browser.steps import outbox_text
from tests.browser.steps import pkce_pair
from tests.browser.steps import start_counter_check
from tests.browser.steps import start_qr_login
from tests.browser.steps import submit_password
from tests.browser.steps import verify_email

# Who is logged in when the page opens (test_pages.py `open_as`).
NOBODY = None
CITIZEN = "citizen"  # the demo citizen (idp/demo.py), logged in once per run: never log it out
CLERK = "clerk"  # a postal clerk (`idp accounts grant-role ... postal_clerk`), logged in once per run
NEW = "new"  # a citizen account registered for this page alone, just logged in (a recent login)
WITH_TOTP = "totp"  # an account with an authenticator app, logged in with it once per run
WITH_PASSKEY = "passkey"  # an account with a passkey, logged in (with the password, before adding it) once per run
ADMIN = "admin"  # a national administrator at the high level, logged in once per run

Reach = Callable[[Any, Site, Person | None], None]


def _click(page: Any, selector: str) -> None:
    page.click(selector)
    page.wait_for_load_state()


def wrong_password(page: Any, site: Site, _person: Person | None) -> None:
    page.goto("/auth/login")
    # An unknown account (a new one each time: no lockout counter carries over between runs).
    submit_password(page, Person(f"0010999{secrets.randbelow(100_000):05d}"), "not-the-password")


def empty_submit(path: str) -> Reach:
    def reach(page: Any, _site: Site, _person: Person | None) -> None:
        page.goto(path)
        _click(page, f"main form[action$='{path}'] button[type=submit]")
    return reach


def consent(page: Any, site: Site, _person: Person | None) -> None:
    page.goto(authorize_path(site.portal, pkce_pair()[1], prompt="consent"))


def source_start(source: str, listed_on: str = "/auth/login") -> Reach:
    def reach(page: Any, _site: Site, _person: Person | None) -> None:
        page.goto(listed_on)
        _click(page, f"form[action*='/auth/sources/{source}/start'] button")
    return reach


def mock_wrong(page: Any, site: Site, person: Person | None) -> None:
    source_start("mock")(page, site, person)
    page.fill("#personal_id", "12")
    _click(page, "main form button[type=submit]:not([value=cancel])")


def mock_cancelled(page: Any, site: Site, person: Person | None) -> None:
    source_start("mock")(page, site, person)
    _click(page, "main form button[value=cancel]")


def telecom_code(page: Any, site: Site, person: Person | None) -> None:
    source_start("telecom")(page, site, person)
    page.fill("#phone", "0912345678")
    if page.locator("#personal_id").count():
        page.fill("#personal_id", "001090012345")
    _click(page, "main form button[type=submit]")


def mfa_step(page: Any, site: Site, _person: Person | None) -> None:
    page.goto("/auth/login")
    submit_password(page, site.people[WITH_TOTP])


def mfa_wrong(page: Any, site: Site, person: Person | None) -> None:
    mfa_step(page, site, person)
    page.fill("#code-totp", "000000")
    _click(page, "#code-totp >> xpath=ancestor::form//button[@type='submit']")


def form_post(page: Any, site: Site, _person: Person | None) -> None:
    """The page that carries the code to the portal in a form (response_mode=form_post), without its script."""
    page.route("**/static/form_post.js", lambda route: route.abort())
    page.goto(authorize_path(site.portal, pkce_pair()[1], prompt="consent") + "&response_mode=form_post")
    _click(page, "button[name=decision][value=allow]")


def log_out(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/auth/logout")
    _click(page, "main form button[type=submit]")


def qr_desktop(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/auth/qr/start")
    page.wait_for_url("**/wait")


def qr_phone(page: Any, site: Site, _person: Person | None) -> None:
    desktop, phone_url, _number = start_qr_login(site, "vi")
    desktop.context.close()
    page.goto(phone_url)


def qr_phone_answered(page: Any, site: Site, _person: Person | None) -> None:
    desktop, phone_url, number = start_qr_login(site, "vi")
    desktop.context.close()
    page.goto(phone_url)
    _click(page, f"button[name=number][value='{number}']")


def qr_desktop_approved(page: Any, site: Site, _person: Person | None) -> None:
    # Without its script: the page would go on by itself once approved (a page without JavaScript stays).
    page.route("**/static/crossdevice.js", lambda route: route.abort())
    phone = site.context("vi").new_page()
    log_in(phone, site.new_person())  # approvals are rate-limited per account
    page.goto("/auth/qr/start")
    page.wait_for_url("**/wait")
    phone.goto(page.inner_text(".crossdevice-url").strip())
    _click(phone, f"button[name=number][value='{page.inner_text('#crossdevice-number').strip()}']")
    phone.context.close()
    page.reload()


def reset_code(page: Any, _site: Site, person: Person | None) -> None:
    page.goto("/accounts/password/forgot")
    page.fill("#identifier", person.pin)
    _click(page, "main form button[type=submit]")


def reset_code_wrong(page: Any, site: Site, person: Person | None) -> None:
    reset_code(page, site, person)
    page.fill("#code", "000000")
    page.fill("#password", "a new password 2025")
    page.fill("#confirm", "a new password 2025")
    _click(page, "main form button[type=submit]")


def reset_link(page: Any, site: Site, person: Person | None) -> None:
    verify_email(page, person, person.email)
    page.context.clear_cookies()
    reset_code(page, site, person)
    page.goto(link_in(outbox_text(page, person.email), "/accounts/password/reset/"))


def password_changed(page: Any, _site: Site, person: Person | None) -> None:
    page.goto("/accounts/password")
    page.fill("#current", person.password)
    page.fill("#password", "another new password 2025")
    page.fill("#confirm", "another new password 2025")
    _click(page, "main form button[type=submit]")


def email_sent(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/accounts/email")
    _click(page, "main form button[type=submit]")


def email_confirm(page: Any, site: Site, person: Person | None) -> None:
    email_sent(page, site, person)
    page.goto(link_in(outbox_text(page, person.email), "/accounts/email/verify/"))


def email_verified(page: Any, site: Site, person: Person | None) -> None:
    email_confirm(page, site, person)
    _click(page, "main form button[type=submit]")


def recovery_codes(page: Any, _site: Site, person: Person | None) -> None:
    enrol_totp(page, person)
    _click(page, "form[action$='/accounts/security/recovery'] button[type=submit]")


def totp_enrolment_wrong(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/accounts/security/totp/new")
    page.fill("#code", "000000")
    _click(page, "form[action$='/totp/new'] button[type=submit]")


def portal_registered(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/clients/register")
    page.fill("#portal_name", "Cổng thử nghiệm trợ năng")
    page.fill("#agency", "Sở Thông tin và Truyền thông")
    page.fill("#contact_email", "a11y@example.vn")
    page.fill("#redirect_uris", "https://a11y.example.vn/callback")
    _click(page, "main form button[type=submit]")


def counter_notice(page: Any, _site: Site, _person: Person | None) -> None:
    start_counter_check(page)


def clerk_request(page: Any, site: Site, _person: Person | None) -> None:
    open_counter_request(page, site)


def open_counter_request(page: Any, site: Site) -> Person:
    """A new citizen asks for a post-office check; the clerk looks its reference up. Return the citizen."""
    citizen = site.new_person()
    other = site.context("vi").new_page()
    log_in(other, citizen)
    reference = start_counter_check(other)
    other.context.close()
    page.goto("/postal/clerk")
    page.fill("#reference", reference)
    _click(page, "main form button[type=submit]")
    return citizen


def clerk_done(page: Any, site: Site, _person: Person | None) -> None:
    citizen = open_counter_request(page, site)
    page.fill("#personal_id", citizen.pin)
    page.check("#name_confirmed")
    page.check("#chip_read")
    _click(page, "button[name=action][value=confirm]")


def clerk_not_found(page: Any, _site: Site, _person: Person | None) -> None:
    page.goto("/postal/clerk")
    page.fill("#reference", "ZZZZZ-99999")
    _click(page, "main form button[type=submit]")




def certificate_wrong(page: Any, site: Site, person: Person | None) -> None:
    """A signature and a certificate that are not what they should be: the form comes back with the error."""
    source_start("certificate")(page, site, person)
    page.fill("#signature", "bm90IGEgc2lnbmF0dXJl")
    page.fill("#certificate", "not a certificate")
    _click(page, "main form button[type=submit]:not([value=tls])")


def vneid_sandbox(page: Any, _site: Site, _person: Person | None) -> None:
    """The VNeID source sends the browser to the sandbox provider's authorization page (another origin).

    The login page's button is sent outside the page (its CSP form-action 'self' blocks the redirect to the
    upstream origin in Chromium: test_sources.py::test_vneid_button_reaches_the_upstream_provider)."""
    page.goto("/auth/login")
    form = "form[action*='/auth/sources/vneid/start']"
    started = page.request.post(page.get_attribute(form, "action"), max_redirects=0, form={
        "csrf_token": page.get_attribute(f"{form} input[name=csrf_token]", "value"), "next": ""})
    assert started.status == 303, started.text()
    page.goto(started.headers["location"])


def vneid_cancelled(page: Any, site: Site, person: Person | None) -> None:
    """Cancel at the sandbox: it answers access_denied to the provider's callback, which says so."""
    vneid_sandbox(page, site, person)
    _click(page, "button[name=action][value=cancel]")


def vneid_no_choice(page: Any, site: Site, person: Person | None) -> None:
    vneid_sandbox(page, site, person)
    # A form sent without a citizen (the first one is chosen in advance; a person can only send one by tampering).
    page.eval_on_selector_all("input[name=personal_id]", "inputs => inputs.forEach(i => { i.checked = false; })")
    _click(page, "button[name=action][value=login]")


def vneid_unknown_service(page: Any, site: Site, person: Person | None) -> None:
    vneid_sandbox(page, site, person)
    page.goto(page.url.replace("client_id=", "client_id=unknown-"))


def passkey_added(page: Any, site: Site, _person: Person | None) -> None:
    add_passkey(page, site)
    page.goto("/accounts/passkeys")


def passkey_step(page: Any, site: Site, _person: Person | None) -> None:
    """The password of an account with a passkey (added in another browser): the second step asks for the key."""
    person = site.new_person()
    other = site.context("vi").new_page()
    log_in(other, person)
    add_passkey(other, site)
    other.context.close()
    page.goto("/auth/login")
    submit_password(page, person)


def passkey_step_failed(page: Any, site: Site, person: Person | None) -> None:
    """The browser cannot use the key (here: no valid RP ID on 127.0.0.1): the page says so in its alert."""
    passkey_step(page, site, person)
    page.click("form[data-webauthn=assert] button[type=submit]")
    page.wait_for_selector("form[data-webauthn=assert] [data-webauthn-error]:not([hidden])")
    # The page's own message in the page's language (WCAG 3.1.2), not the browser's English SecurityError text.
    shown = page.inner_text("form[data-webauthn=assert] [data-webauthn-error]")
    assert shown == page.get_attribute("form[data-webauthn=assert]", "data-msg-failed"), shown


def passkey_step_wrong(page: Any, site: Site, person: Person | None) -> None:
    """Without webauthn.js the form sends no answer: the provider says the key's answer is malformed."""
    page.route("**/static/webauthn.js", lambda route: route.abort())
    passkey_step(page, site, person)
    _click(page, "form[data-webauthn=assert] button[type=submit]")
