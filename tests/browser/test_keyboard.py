"""Keyboard only: Tab, Shift+Tab, Enter, Space and typing; no mouse, no element.click().

Reading the page (the focused element, the authenticator key shown as text) is allowed; acting on it only
through `page.keyboard`. Navigating to a URL stands for typing it into the address bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.steps import authorize_path
from tests.browser.steps import pkce_pair
from tests.browser.steps import totp_code
from tests.browser.steps import totp_key

pytestmark = pytest.mark.live

FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute("name"), value: e.getAttribute("value"),
          href: e.getAttribute("href"), text: (e.innerText || "").trim().slice(0, 80),
          outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
          shadow: style.boxShadow !== "none", inMain: !!e.closest("main"),
          box: (({x, y, width, height}) => ({x, y, width, height}))(e.getBoundingClientRect())};
}"""
MAX_TABS = 80


def focused(page: Any) -> dict:
    return page.evaluate(FOCUSED)


def tab_to(page: Any, wanted: Callable[[dict], bool], what: str, backwards: bool = False) -> dict:
    """Press Tab (or Shift+Tab) until the focused element is the wanted one."""
    seen = []
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        now = focused(page)
        if wanted(now):
            return now
        seen.append(now["text"] or now["id"] or now["tag"])
    raise AssertionError(f"Tab never reached {what} on {page.url}; stops: {seen}")


def keyboard_log_in(page: Any, person: Person) -> None:
    """On the login page: Tab to the identifier, type, Tab to the password, type, Enter."""
    tab_to(page, lambda f: f["id"] == "identifier", "the identifier field")
    page.keyboard.type(person.pin)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password", "the password field does not follow the identifier"
    page.keyboard.type(person.password)
    press_and_wait(page, "Enter")


def press_and_wait(page: Any, key: str) -> None:
    """Press a key that submits a form or follows a link, and wait for the next page."""
    with page.expect_navigation():
        page.keyboard.press(key)


def test_log_in_with_the_keyboard(site: Site) -> None:
    person = site.new_person()
    context = site.context("vi")
    page = context.new_page()
    try:
        page.goto("/auth/login")
        keyboard_log_in(page, person)
        assert page.url.endswith("/auth/done"), page.url
        assert page.locator("main a[href$='/auth/logout']").count() == 1  # "You are logged in"
    finally:
        context.close()


def test_consent_with_the_keyboard(site: Site) -> None:
    """Login and consent by keyboard; Space on "Allow" sends the browser to the portal with a code."""
    person = site.new_person()
    context = site.context("en")
    page = context.new_page()
    try:
        page.goto(authorize_path(site.portal, pkce_pair()[1], state="keyboard"))
        keyboard_log_in(page, person)
        assert "/oauth2/authorize" in page.url, page.url
        tab_to(page, lambda f: f["name"] == "decision" and f["value"] == "allow", "the Allow button")
        press_and_wait(page, "Space")
        assert page.url.startswith(site.portal.redirect_uri + "?"), page.url
        assert "code=" in page.url and "state=keyboard" in page.url, page.url
    finally:
        context.close()


def test_enrol_an_authenticator_app_with_the_keyboard(site: Site) -> None:
    """From the security page to a working authenticator, reading the key as text (as a screen reader would)."""
    person = site.new_person()
    context = site.context("vi")
    page = context.new_page()
    try:
        page.goto("/auth/login?next=/accounts/security")
        keyboard_log_in(page, person)
        assert page.url.endswith("/accounts/security"), page.url
        tab_to(page, lambda f: (f["href"] or "").endswith("/accounts/security/totp/new"), "Add an authenticator app")
        press_and_wait(page, "Enter")
        assert page.url.endswith("/accounts/security/totp/new"), page.url
        person.totp_secret = totp_key(page)
        tab_to(page, lambda f: f["id"] == "code", "the code field")
        page.keyboard.type(totp_code(person))
        tab_to(page, lambda f: f["id"] == "name", "the name field")
        page.keyboard.type("Điện thoại của tôi")
        press_and_wait(page, "Enter")
        assert "/accounts/security" in page.url and "/totp/" not in page.url, page.url
        assert page.locator("main [role=status]").count() >= 1
        assert "Điện thoại của tôi" in page.inner_text("main table")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_skip_link_is_the_first_stop_and_moves_focus_to_main(site: Site, lang: str) -> None:
    context = site.context(lang)
    page = context.new_page()
    try:
        page.goto("/auth/login")
        page.keyboard.press("Tab")
        first = focused(page)
        assert first["href"] == "#main", f"the first Tab stop is {first}"
        box = first["box"]
        assert box["x"] >= 0 and box["y"] >= 0 and box["width"] > 1 and box["height"] > 1, "skip link not shown"
        page.keyboard.press("Enter")
        assert focused(page)["id"] == "main"
        page.keyboard.press("Tab")
        assert focused(page)["inMain"], "Tab after the skip link does not continue inside the main content"
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/auth/login", "/accounts/register", "/accounts/password/forgot"])
def test_every_tab_stop_shows_where_the_focus_is(site: Site, path: str) -> None:
    """WCAG 2.4.7: each focused control has an outline or a box shadow; Shift+Tab walks back the same way."""
    context = site.context("vi")
    page = context.new_page()
    try:
        page.goto(path)
        stops = []
        for _ in range(MAX_TABS):
            page.keyboard.press("Tab")
            now = focused(page)
            if now["tag"] == "body" or (stops and now == stops[0]):
                break
            assert now["outline"] or now["shadow"], f"no visible focus on {now} ({path})"
            stops.append(now)
        assert len(stops) >= 3, stops
        page.keyboard.press("Shift+Tab")
        if focused(page)["tag"] == "body":  # from past the last stop, back onto it
            page.keyboard.press("Shift+Tab")
        assert focused(page) == stops[-1]
    finally:
        context.close()


def test_admin_finds_an_account_and_ends_its_sessions_with_the_keyboard(site: Site) -> None:
    """The helpdesk/admin's main task (issue 6): search by personal ID, open the account, log the person out
    everywhere with a reason — keyboard only once logged in at the high level."""
    from tests.browser.steps import log_in

    citizen = site.new_person()
    admin = site.new_person()
    admin.high = True
    site.server.cli("accounts", "grant-role", admin.pin, "national_admin")
    context = site.context("en")
    page = context.new_page()
    try:
        log_in(page, admin)
        page.goto("/admin/accounts")
        tab_to(page, lambda f: f["tag"] == "input" and f["name"] == "value", "the search field")
        page.keyboard.type(citizen.pin)
        press_and_wait(page, "Enter")
        tab_to(page, lambda f: f["tag"] == "a" and "/admin/accounts/" in (f["href"] or ""), "the account found")
        press_and_wait(page, "Enter")
        assert "/admin/accounts/" in page.url, page.url
        reason = page.get_attribute("form[action$='/sessions/end'] textarea", "id")
        tab_to(page, lambda f: f["id"] == reason, "the reason for ending the sessions")
        page.keyboard.type("Người dân báo mất điện thoại")
        tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "End all sessions", "the button")
        press_and_wait(page, "Enter")
        assert "/admin/accounts/" in page.url and "done=" in page.url, page.url  # done, not refused
    finally:
        context.close()
