"""The admin console uses a desktop's width; the citizen pages keep their narrow reading column.

style.css sets `main { max-width: 32rem }` for the login and account pages; admin/base.html puts
class="wide" on <main> (base.html's main_attributes block) so the console's tables are not squeezed into it.
The 360 px citizen login is covered by test_small_screen.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.steps import log_in
from tests.live.conftest import DEMO_PIN

pytestmark = pytest.mark.live

DESKTOP = {"width": 1280, "height": 800}
NARROW_MAX = 32 * 16  # 32rem at the default 16 px root font size
LAYOUT = """() => {
  const main = document.querySelector("main").getBoundingClientRect();
  return {scroll: document.documentElement.scrollWidth, main: {left: main.left, right: main.right, width: main.width},
          tables: [...document.querySelectorAll("main table")].map(t => {
            const box = t.getBoundingClientRect();
            return {left: box.left, right: box.right, caption: (t.caption ? t.caption.innerText : "").slice(0, 60)};
          })};
}"""


def assert_wide_and_fits(page: Any, where: str) -> None:
    """No sideways scrolling at 1280 px, <main> uses most of the width, every table stays inside it."""
    layout = page.evaluate(LAYOUT)
    assert layout["scroll"] <= DESKTOP["width"], f"{where} scrolls sideways: {layout['scroll']} px wide"
    assert layout["main"]["width"] > 2 * NARROW_MAX, f"{where}: the main column is only {layout['main']} wide"
    assert layout["tables"], f"{where} shows no table"
    for table in layout["tables"]:
        assert table["left"] >= layout["main"]["left"] - 1 and table["right"] <= layout["main"]["right"] + 1, (
            f"{where}: table {table['caption']!r} sticks out of the main column {layout['main']}: {table}")
        assert table["right"] <= DESKTOP["width"], f"{where}: table {table['caption']!r} is wider than the screen"


@pytest.fixture
def admin_page(site: Site, admin: Person) -> Any:
    person = admin
    context = site.context("vi", width=DESKTOP["width"], height=DESKTOP["height"], state=person.state)
    page = context.new_page()
    if person.state is None:
        log_in(page, person)
        person.state = context.storage_state()
    yield page
    context.close()


@pytest.mark.parametrize("path", ["/admin/clients", "/admin/audit"])
def test_admin_tables_fit_a_desktop_screen(admin_page: Any, path: str) -> None:
    response = admin_page.goto(path)
    assert response.status == 200, f"{path}: HTTP {response.status}"
    assert_wide_and_fits(admin_page, path)


def test_admin_account_detail_fits_a_desktop_screen(admin_page: Any) -> None:
    """The demo citizen's account detail: identity, sources, sessions, second factors, history tables."""
    admin_page.goto("/admin/accounts")
    admin_page.fill("#value", DEMO_PIN)
    admin_page.click("main form[role=search] button[type=submit]")
    admin_page.wait_for_load_state()
    admin_page.click("main table a[href*='/admin/accounts/']")
    admin_page.wait_for_load_state()
    assert "/admin/accounts/" in admin_page.url, admin_page.url
    assert_wide_and_fits(admin_page, admin_page.url)


def test_citizen_login_stays_narrow_on_a_desktop_screen(site: Site) -> None:
    context = site.context("vi", width=DESKTOP["width"], height=DESKTOP["height"])
    page = context.new_page()
    try:
        page.goto("/auth/login")
        layout = page.evaluate(LAYOUT)
        assert layout["main"]["width"] <= NARROW_MAX, f"the login page's column widened: {layout['main']}"
    finally:
        context.close()
