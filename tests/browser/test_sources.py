"""Identity sources that leave the provider's pages: the button must take the browser there."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser import page_steps as go
from tests.browser.site import Site

pytestmark = pytest.mark.live


def test_vneid_button_reaches_the_upstream_provider(site: Site) -> None:
    """Clicking VNeID on the login page ends on the VNeID (sandbox) authorization page, not back on the login:
    Chromium applies CSP form-action to the redirects after a form submission (CSP Level 3 §6.3.1.1), so the
    login page must allow the upstream's origin (idp.verifiers.base.SendsBrowser)."""
    context = site.context("vi")
    page = context.new_page()
    try:
        go.source_start("vneid")(page, site, None)
        page.wait_for_url("**/authorize?**", timeout=10_000)  # without the origin: blocked, and this times out
        assert urlsplit(page.url).path == "/authorize", page.url
    finally:
        context.close()


def test_vneid_sandbox_logs_a_demo_citizen_in(site: Site) -> None:
    """OIDC Core §3.1.2.5 and §3.1.3 over real HTTP: the sandbox's answer comes back to the provider's callback,
    the code is redeemed there, and the browser ends logged in."""
    context = site.context("en")
    page = context.new_page()
    try:
        go.vneid_sandbox(page, site, None)
        assert page.get_attribute("html", "lang") == "en"
        page.check("input[name=personal_id][value='079185000123']")  # Trần Thị Bình, VNeID level 1
        page.click("button[name=action][value=login]")
        page.wait_for_url("**/auth/done")
        assert page.locator("main a[href$='/auth/logout']").count() == 1
    finally:
        context.close()
