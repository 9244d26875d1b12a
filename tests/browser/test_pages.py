"""WCAG 2.2 AA in a real browser: zero axe-core violations on every page, in Vietnamese and in English.

The pages are listed in pages.py; test_linked_pages also follows every link it finds from the account
pages (and the admin console) under /accounts/ and /admin/, so new pages are checked without a new line.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin
from urllib.parse import urlsplit

import pytest

from tests.browser.axe import describe
from tests.browser.axe import violations
from tests.browser.page_steps import NEW
from tests.browser.page_steps import WITH_PASSKEY
from tests.browser.page_steps import WITH_TOTP
from tests.browser.pages import PAGES
from tests.browser.pages import Page
from tests.browser.site import LANGUAGES
from tests.browser.site import Person
from tests.browser.site import Site
from tests.browser.steps import add_passkey
from tests.browser.steps import enrol_totp
from tests.browser.steps import log_in

pytestmark = pytest.mark.live

ACCOUNT_PAGES = ["/accounts/", "/accounts/security", "/accounts/passkeys", "/accounts/sessions", "/accounts/consents",
                 "/accounts/sources", "/accounts/email", "/accounts/password"]
FOLLOWED = re.compile(r"/(accounts|admin)(/|$)")
DATA_TYPES = ("application/json", "application/jsonl", "application/x-ndjson", "text/csv")  # API answers, exports
MAX_LINKED = 150  # a guard against links that make new links (calendars, endless paging)


@pytest.fixture(scope="session")
def with_totp(site: Site) -> Person:
    """An account with an authenticator app, logged in once with it (codes are single-use per 30 s step)."""
    person = site.new_person()
    context = site.context()
    page = context.new_page()
    log_in(page, person)
    enrol_totp(page, person)
    person.state = context.storage_state()
    context.close()
    site.people[WITH_TOTP] = person
    return person


@pytest.fixture(scope="session")
def with_passkey(site: Site) -> Person:
    """An account with a passkey, logged in with its password just before adding it (log_in knows no passkey)."""
    person = site.new_person()
    context = site.context()
    page = context.new_page()
    log_in(page, person)
    add_passkey(page, site)
    person.state = context.storage_state()
    context.close()
    site.people[WITH_PASSKEY] = person
    return person


def open_as(site: Site, who: str | None, lang: str) -> tuple[Any, Any, Person | None]:
    """A new context and page for `who` (see pages.py): a new person logs in now, the others once per run."""
    if who is None:
        context = site.context(lang)
        return context, context.new_page(), None
    if who == NEW:
        person = site.new_person()
        context = site.context(lang)
        page = context.new_page()
        log_in(page, person)
        return context, page, person
    person = site.people[who]
    if person.state is None:
        first = site.context(lang)
        log_in(first.new_page(), person)
        person.state = first.storage_state()
        first.close()
    context = site.context(lang, state=person.state)
    return context, context.new_page(), person


def check(page: Any, site: Site, lang: str, where: str) -> None:
    assert page.get_attribute("html", "lang") == lang, f"{where}: the page is not in {lang}"
    found = violations(page, site.axe_source)
    assert not found, describe(found, where)


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("entry", PAGES, ids=lambda entry: entry.name)
def test_page_has_no_accessibility_violations(site: Site, with_totp: Person, with_passkey: Person, admin: Person,
                                               entry: Page, lang: str) -> None:
    """WCAG 2.0/2.1/2.2 A and AA (axe-core rules) on one page in one language."""
    context, page, person = open_as(site, entry.who, lang)
    try:
        if isinstance(entry.reach, str):
            response = page.goto(entry.reach)
            assert response.status == (entry.status or 200), f"{entry.name}: HTTP {response.status}"
        else:
            entry.reach(page, site, person)
        page.wait_for_load_state()
        assert re.fullmatch(entry.expected_path(), urlsplit(page.url).path), f"{entry.name} ended on {page.url}"
        check(page, site, lang, f"{entry.name} ({lang}, {page.url})")
    finally:
        context.close()


def _links(page: Any, base: str) -> Iterator[str]:
    """Same-origin GET links under /accounts/ and /admin/ on the page, without fragments."""
    for href in page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))"):
        url = urljoin(page.url, href)
        parts = urlsplit(url)
        if url.startswith(base + "/") and FOLLOWED.match(parts.path):
            yield parts.path + (f"?{parts.query}" if parts.query else "")


def crawl(site: Site, person: Person, seeds: list[str], lang: str) -> list[str]:
    """Visit the seeds and every page linked from them (breadth first); return the failures."""
    from playwright.sync_api import Error as PlaywrightError  # imported once the browser_tools fixture found it

    context = site.context(lang, state=person.state)
    page = context.new_page()
    if person.state is None:
        log_in(page, person)
    failures, seen, queue = [], set(seeds), deque(seeds)
    try:
        while queue:
            target = queue.popleft()
            try:
                response = page.goto(target)
            except PlaywrightError as exc:  # a download (data export) is no page
                if "Download is starting" in str(exc):
                    continue
                raise
            if response.status >= 500:
                failures.append(f"{target}: HTTP {response.status}")
                continue
            kind = response.headers.get("content-type", "")
            if kind.startswith(DATA_TYPES) or "attachment" in response.headers.get("content-disposition", ""):
                continue
            if not kind.startswith("text/html"):  # e.g. a page sent as text/plain shows its HTML source
                failures.append(f"{target}: sent as {kind!r}, not as a page")
                continue
            where = f"{target} ({lang}, ended on {page.url})"
            if page.get_attribute("html", "lang") != lang:
                failures.append(f"{where}: the page is not in {lang}")
            found = violations(page, site.axe_source)
            if found:
                failures.append(describe(found, where))
            for link in _links(page, site.url):
                if link in seen:
                    continue
                if len(seen) >= MAX_LINKED:
                    failures.append(f"more than {MAX_LINKED} linked pages (from {target}): raise MAX_LINKED if right")
                    queue.clear()
                    break
                seen.add(link)
                queue.append(link)
    finally:
        context.close()
    print(f"linked pages checked ({lang}): {len(seen)}")  # noqa: T201 - shown with -s, for the docs' numbers
    return failures


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_linked_pages(site: Site, lang: str) -> None:
    """Every page reachable by links from the account pages has no axe violations either."""
    citizen = site.new_person()
    failures = crawl(site, citizen, ACCOUNT_PAGES, lang)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_admin_console_pages(site: Site, admin: Person, lang: str) -> None:
    """The admin console's pages, as a national administrator, found by following its links."""
    probe = site.context(lang)
    status = probe.new_page().goto("/admin/").status
    probe.close()
    if status == 404:
        pytest.skip("no admin console at /admin/ in this build")
    failures = crawl(site, admin, ["/admin/"], lang)
    assert not failures, "\n".join(failures)
