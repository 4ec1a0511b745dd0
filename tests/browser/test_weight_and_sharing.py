"""What a first view costs, what search still finds, and the page for an address with none."""

import re
from pathlib import Path

import pytest
from browser.visit import Visit
from playwright.sync_api import expect

from apipatterns.catalog import load_catalog

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
INDEX = re.compile(r"/search(/search_index)?\.json$")  # MkDocs' index, then Zensical's
CATALOG = load_catalog(ROOT)


def test_a_first_view_leaves_the_search_index_until_the_reader_searches(visit: Visit):
    fetched: list[str] = []
    visit.page.on("request", lambda request: fetched.append(request.url))
    visit.open("patterns/idempotency-keys/")
    visit.page.wait_for_timeout(1000)  # the theme asks for the index right after start-up
    assert not [url for url in fetched if INDEX.search(url)], "the first view fetched the index"
    visit.search("idempotency")
    visit.page.locator("a[href*='?h=idempotency']").first.wait_for(timeout=15_000)
    assert [url for url in fetched if INDEX.search(url)], "searching did not fetch the index"


# One pattern found by a word of its title, a phrase of its summary and one of a rule's text.
PATTERN = CATALOG.patterns["signed-webhooks"]
QUERIES = {
    "title": PATTERN.title.split()[1],  # "webhooks"
    "summary": "jittered backoff for days",
    "rule": "public key that cannot forge events",
}


@pytest.mark.parametrize("field", QUERIES)
def test_search_finds_a_pattern_by_its_title_summary_and_rules(visit: Visit, field: str):
    assert (
        QUERIES[field].lower()
        in {
            "title": PATTERN.title,
            "summary": PATTERN.summary,
            "rule": " ".join(rule.text for rule in PATTERN.rules),
        }[field].lower()
    )
    visit.open("")
    visit.search(QUERIES[field])
    # A result links the page with the query to highlight, in both themes' search dialogs.
    result = visit.page.locator(f"a[href*='patterns/{PATTERN.id}/?h=']")
    result.first.wait_for(timeout=15_000)


def test_the_not_found_page_leads_back_in(visit: Visit):
    """As GitHub Pages does, answer an unknown address at any depth with 404.html."""
    body = visit.context.request.get(visit.base_url + "404.html").text()
    visit.page.route(
        "**/patterns/no-such-pattern/",
        lambda route: route.fulfill(status=404, body=body, content_type="text/html"),
    )
    missing: list[str] = []
    visit.page.on("response", lambda r: r.status == 404 and missing.append(r.url))
    visit.open("patterns/no-such-pattern/")
    content = visit.page.locator("article")
    expect(content.locator("h1")).to_contain_text("Page not found")
    use_cases = content.locator(".not-found__use-cases a")
    expect(use_cases).to_have_count(len(CATALOG.use_cases))
    for link, use_case in zip(use_cases.all(), CATALOG.use_cases.values(), strict=True):
        assert link.inner_text() == use_case.title
    content.get_by_text("Search the site").click()
    expect(visit.page.locator("#__search")).to_be_checked()
    visit.type_in_search("idempotency")
    found = visit.page.locator("a[href*='patterns/idempotency-keys/?h=idempotency']")
    found.first.wait_for(timeout=15_000)
    visit.page.keyboard.press("Escape")
    home = content.get_by_role("link", name="Home", exact=True)
    assert home.evaluate("a => a.href").rstrip(".") == visit.base_url
    content.get_by_role("link", name=CATALOG.use_cases["payments"].title).click()
    visit.page.wait_for_url("**/use-cases/payments/")
    expect(visit.page.locator("h1").first).to_contain_text("Payment APIs")
    # The one 404 is the unknown address itself (Chromium logs it as a console error).
    assert missing == [visit.base_url + "patterns/no-such-pattern/"]
    visit.errors.remove(
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    )
