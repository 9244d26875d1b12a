"""The steps that end on one page each, for the table in pages.py (clicks are fine here)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from tests.browser.site import Person
from tests.browser.site import Site
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


