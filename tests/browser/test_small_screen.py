"""A cheap phone: a 360 px wide screen, JavaScript off, and a whole portal login and logout still work.

The portal is a real HTTP server on a loopback port, registered with `idp clients add` (tests/browser/site.py);
the code it receives is redeemed at the token endpoint as the portal would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.steps import authorize_path
from tests.browser.steps import pkce_pair

pytestmark = pytest.mark.live

WIDTH = 360


def assert_fits(page: Any, submit: str) -> None:
    """No horizontal scrolling, and the submit button is shown whole within the screen's width."""
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= WIDTH, f"{page.url} scrolls sideways: {scroll_width} px wide"
    button = page.locator(submit).first
    assert button.is_visible(), f"{submit} is not visible on {page.url}"
    box = button.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, f"{submit} is cut off: {box}"


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def portal_login(site: Site, page: Any, person: Person, state: str) -> dict:
    """Authorization request → login page → consent page → the portal; return the portal's token response."""
    portal = site.portal
    verifier, challenge = pkce_pair()
    page.goto(authorize_path(portal, challenge, state=state))
    assert urlsplit(page.url).path == "/auth/login"
    assert_fits(page, "form[action$='/auth/login'] button[type=submit]")
    page.fill("#identifier", person.pin)
    page.fill("#password", person.password)
    page.click("form[action$='/auth/login'] button[type=submit]")
    page.wait_for_load_state()
    assert urlsplit(page.url).path == "/oauth2/authorize", page.url
    assert_fits(page, "button[name=decision][value=allow]")
    page.click("button[name=decision][value=allow]")
    page.wait_for_url(portal.redirect_uri + "?**")
    params = query(page.url)
    assert params["state"] == state and params["iss"] == site.url, params
    token = requests.post(f"{site.url}/oauth2/token", timeout=10, auth=(portal.client_id, portal.client_secret),
                          data={"grant_type": "authorization_code", "code": params["code"],
                                "redirect_uri": portal.redirect_uri, "code_verifier": verifier})
    assert token.status_code == 200 and token.json()["id_token"], token.text
    return token.json()


def logout_path(site: Site, id_token: str) -> str:
    return "/oauth2/logout?" + urlencode({"id_token_hint": id_token, "state": "bye",
                                         "post_logout_redirect_uri": site.portal.post_logout_redirect_uri})


def is_logged_in(page: Any) -> bool:
    page.goto("/auth/logout")
    return page.locator("main form").count() == 1  # else "You are not logged in."


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_portal_login_and_logout_on_a_small_screen_without_javascript(site: Site, lang: str) -> None:
    """The portal gets a working code; its logout (RP-Initiated Logout 1.0) ends the session and comes back."""
    context = site.context(lang, javascript=False, width=WIDTH, height=640)
    page = context.new_page()
    try:
        token = portal_login(site, page, site.new_person(), "small-screen")
        page.goto(logout_path(site, token["id_token"]))
        page.wait_for_url(site.portal.post_logout_redirect_uri + "?**")
        assert query(page.url)["state"] == "bye"
        assert not is_logged_in(page)
    finally:
        context.close()


def test_logout_for_someone_else_is_confirmed_then_returns_to_the_portal(site: Site) -> None:
    """RP-Initiated Logout 1.0 §6: a hint naming another person is confirmed first; the confirmation form's
    redirect to the portal is allowed by the page's CSP form-action (no JavaScript, small screen)."""
    other = site.context("vi", javascript=False, width=WIDTH, height=640)
    try:
        someone_else = portal_login(site, other.new_page(), site.new_person(), "other")["id_token"]
    finally:
        other.close()
    context = site.context("vi", javascript=False, width=WIDTH, height=640)
    page = context.new_page()
    try:
        portal_login(site, page, site.new_person(), "me")
        page.goto(logout_path(site, someone_else))
        assert urlsplit(page.url).path == "/oauth2/logout"
        assert_fits(page, "main form button[type=submit]")
        page.click("main form button[type=submit]")
        page.wait_for_url(site.portal.post_logout_redirect_uri + "?**")
        assert not is_logged_in(page)
    finally:
        context.close()


def test_login_straight_back_to_a_portal_without_consent(site: Site) -> None:
    """Once consent is remembered, the login form's submission redirects (through /oauth2/authorize) straight
    to the portal. Chromium applies CSP form-action to those redirects (CSP Level 3 §6.3.1.1), so the login
    page must allow the pending portal's origin, or the person is stuck on the login page."""
    person = site.new_person()
    first = site.context("vi", javascript=False, width=WIDTH, height=640)
    try:
        portal_login(site, first.new_page(), person, "first")  # consents once
    finally:
        first.close()
    context = site.context("vi", javascript=False, width=WIDTH, height=640)
    page = context.new_page()
    try:
        _verifier, challenge = pkce_pair()
        page.goto(authorize_path(site.portal, challenge, state="again"))
        assert urlsplit(page.url).path == "/auth/login"
        page.fill("#identifier", person.pin)
        page.fill("#password", person.password)
        page.click("form[action$='/auth/login'] button[type=submit]")
        page.wait_for_url(site.portal.redirect_uri + "?**")
        assert query(page.url)["state"] == "again" and "code" in query(page.url)
    finally:
        context.close()
