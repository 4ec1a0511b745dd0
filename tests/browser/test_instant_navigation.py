"""Instant navigation, as readers get it on the published host.

The theme swaps pages by XHR only for URLs in the sitemap, which names the production host;
on a test server's host and port every click would be a full reload and a broken instant
navigation would go unseen. So the browser asks for the production URL itself, and every
request to that host is answered from the built site on disk (nothing leaves the machine).
"""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Route, expect

pytestmark = pytest.mark.browser
SITE_URL = "https://api-patterns.github.io/api-patterns/"  # site_url in mkdocs.yml


def serve_from(site: Path):
    """A route handler that answers production URLs from the built site."""
    prefix = urlsplit(SITE_URL).path

    def handle(route: Route) -> None:
        path = urlsplit(route.request.url).path
        if not path.startswith(prefix):
            route.fulfill(status=404, body="")
            return
        file = site / path.removeprefix(prefix)
        if file.is_dir():
            file = file / "index.html"
        if file.is_file():
            route.fulfill(path=file)
        else:
            route.fulfill(status=404, path=site / "404.html")

    return handle


@pytest.fixture
def page(browser, site: Path):
    context = browser.new_context()
    context.route(f"{SITE_URL}**", serve_from(site))
    context.route(lambda url: not url.startswith(SITE_URL), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(60_000)  # a loaded machine is slow, not broken
    yield page
    context.close()


def test_a_click_swaps_the_page_by_xhr_without_reloading(page):
    documents: list[str] = []
    page.on(
        "request",
        lambda r: r.resource_type == "document" and documents.append(r.url),
    )
    page.goto(SITE_URL + "use-cases/payments/", wait_until="networkidle")
    page.evaluate("window.__still_here = true")
    fetched = []
    page.on(
        "request",
        lambda r: (
            r.resource_type in ("xhr", "fetch")
            and "signed-webhooks" in r.url
            and fetched.append(r.url)
        ),
    )
    page.locator("a.md-button[href*='patterns/signed-webhooks/']").click()
    page.wait_for_url("**/patterns/signed-webhooks/")
    expect(page.locator("h1").first).to_contain_text("Signed webhooks")
    assert page.evaluate("window.__still_here === true"), "the click reloaded the page"
    assert fetched, "the page was not fetched by XHR"
    assert documents == [SITE_URL + "use-cases/payments/"]
    page.go_back()
    expect(page.locator("h1").first).to_contain_text("Payment APIs")
    assert page.evaluate("window.__still_here === true"), "going back reloaded the page"
