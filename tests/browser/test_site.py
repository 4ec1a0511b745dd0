"""A reader's path through the built site in headless Chromium."""

from pathlib import Path

import pytest
from browser.visit import Visit
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_home_page_loads(visit: Visit):
    visit.open("")
    # Material titles the home page "API Patterns", Zensical "Home - API Patterns".
    assert visit.page.title().endswith("API Patterns")
    assert visit.heading() == "API Patterns"


def test_search_finds_the_idempotency_pattern(visit: Visit):
    visit.open("")
    visit.search("idempotency")
    # A result links the page with the query to highlight (search.highlight).
    result = visit.page.locator("a[href*='patterns/idempotency-keys/?h=idempotency']")
    result.first.wait_for(timeout=15_000)
    result.first.click()
    visit.page.wait_for_url("**/patterns/idempotency-keys/**")
    expect(visit.page.locator("h1").first).to_contain_text("Idempotency keys")


def test_from_a_use_case_to_a_pattern_and_back(visit: Visit):
    visit.open("use-cases/payments/")
    visit.page.locator("a.md-button[href*='patterns/signed-webhooks/']").click()
    visit.page.wait_for_url("**/patterns/signed-webhooks/")
    # Instant navigation swaps the content after the URL changes: wait for what a reader sees.
    expect(visit.page.locator("h1").first).to_contain_text("Signed webhooks")
    visit.page.go_back()
    visit.page.wait_for_url("**/use-cases/payments/")
    expect(visit.page.locator("h1").first).to_contain_text("Payment APIs")


def test_copy_button_copies_the_snippet(visit: Visit):
    visit.open("patterns/idempotency-keys/")
    block = visit.page.locator("div.language-python.highlight").last
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = visit.page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == (ROOT / "snippets/idempotency_keys.py").read_text().strip()


def test_matrix_links_work_without_javascript(browser, base_url: str):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(base_url + "patterns/")
    page.locator("a[href$='use-cases/payments/#idempotency-keys']").first.click()
    page.wait_for_url("**/use-cases/payments/#idempotency-keys")
    assert page.locator("#idempotency-keys").is_visible()
    context.close()


# What a reader of the matrix at /patterns/ meets: where the sideways scrolling happens, whether
# each pattern name stays in view and on top once the use-case columns have scrolled under it,
# the links smaller than a 24 x 24 CSS px target (WCAG 2.2, 2.5.8), ticks off their column's centre.
MATRIX_AS_SEEN = """() => {
  const table = document.querySelector(".matrix table");
  const root = document.documentElement;
  let scroller = table;
  while (scroller && !(scroller.scrollWidth > scroller.clientWidth
      && /auto|scroll/.test(getComputedStyle(scroller).overflowX))) {
    scroller = scroller.parentElement;
  }
  const pageOverflow = root.scrollWidth - root.clientWidth;
  const start = scroller ? scroller.scrollLeft : 0;
  if (scroller) scroller.scrollLeft = scroller.scrollWidth;
  const scrolled = scroller ? scroller.scrollLeft - start : 0;
  const hiddenNames = [];
  for (const cell of table.querySelectorAll("tbody td:first-child")) {
    window.scrollBy(0, cell.getBoundingClientRect().top - innerHeight / 2);
    const box = cell.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    if (box.left < 0 || box.right > root.clientWidth || !cell.contains(hit)) {
      hiddenNames.push(cell.textContent.trim());
    }
  }
  const smallTargets = [...table.querySelectorAll("a")]
    .map((a) => [a.textContent.trim(), a.getBoundingClientRect()])
    .filter(([, box]) => box.width < 24 || box.height < 24)
    .map(([text, box]) => `${text} ${Math.round(box.width)}x${Math.round(box.height)}`);
  const offCentre = [...table.querySelectorAll("td:not(:first-child) a")].filter((a) => {
    const tick = a.getBoundingClientRect(), cell = a.parentElement.getBoundingClientRect();
    return Math.abs(tick.left + tick.width / 2 - (cell.left + cell.width / 2)) > 1;
  }).length;
  return {pageOverflow, scrolled, hiddenNames, smallTargets, offCentre,
          ticks: table.querySelectorAll("td:not(:first-child) a").length};
}"""


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_matrix_works_on_a_phone(browser, base_url: str, javascript: bool):
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, java_script_enabled=javascript
    )
    page = context.new_page()
    page.goto(base_url + "patterns/", wait_until="networkidle")
    seen = page.evaluate(MATRIX_AS_SEEN)
    context.close()
    assert seen["pageOverflow"] <= 0, "the page itself scrolls sideways"
    assert seen["scrolled"] > 0, "the use-case columns do not scroll sideways"
    assert seen["hiddenNames"] == [], "pattern names scrolled away or covered"
    assert seen["smallTargets"] == [], "links smaller than 24 x 24 px"
    assert seen["ticks"] == 39 and seen["offCentre"] == 0, "ticks off their column's centre"


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
# One page of each type, for the checks at phone width.
PAGE_TYPES = [
    "",
    "use-cases/",
    "use-cases/saas-integrations/",
    "patterns/",
    "patterns/oauth-delegated-access/",
    "patterns/screen-shaped-responses/",
    "rules/",
    "problem-types/",
    "tags/",
    "guides/webhook-design/",
    "blog/",
    "blog/2026/05/12/offset-pagination-denial-of-service/",
    "contributing/catalog-format/",
]
# Every code block of the content, tabs and collapsed blocks opened first, with its overflow.
CODE_BLOCKS = """() => {
  for (const block of document.querySelectorAll(".md-content .tabbed-block")) {
    block.style.display = "block";
  }
  for (const details of document.querySelectorAll(".md-content details")) details.open = true;
  return [...document.querySelectorAll(".md-content pre")].map(pre => {
    const code = pre.querySelector("code") || pre;
    const lines = code.textContent.split("\\n");
    return {
      width: code.clientWidth,
      over: Math.max(code.scrollWidth - code.clientWidth, pre.scrollWidth - pre.clientWidth),
      longest: lines.reduce((a, b) => (b.length > a.length ? b : a), ""),
    };
  });
}"""
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _pages(site: Path) -> list[str]:
    """Every HTML page of the build, site-relative."""
    return sorted(
        "" if p.parent == site else f"{p.parent.relative_to(site).as_posix()}/"
        for p in site.rglob("index.html")
    )


def test_every_code_line_fits_its_column_at_1280_px(browser, base_url: str, site: Path):
    # A code block's width is CSS alone: with JavaScript the 67 pages measure the same in both
    # builds, and without it they load three times faster.
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = context.new_page()
    overflowing, hidden, sideways, blocks = [], [], [], 0
    for path in _pages(site):
        page.goto(base_url + path, wait_until="load")  # the stylesheets applied
        for block in page.evaluate(CODE_BLOCKS):
            blocks += 1
            if block["width"] == 0:
                hidden.append(path)
            elif block["over"] > 0:
                line = block["longest"]
                overflowing.append(f"/{path}: {block['over']} px over, {len(line)}: {line[:60]}")
        if page.evaluate(SIDEWAYS) > 0:
            sideways.append(path)
    context.close()
    assert blocks > 150, "the pages lost their code blocks"
    assert hidden == [], "code blocks this test could not measure"
    assert overflowing == [], f"{len(overflowing)} of {blocks} code blocks scroll sideways"
    assert sideways == [], "pages wider than the window"


def test_no_page_scrolls_sideways_on_a_phone(browser, base_url: str):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sideways, outside = {}, []
    for path in PAGE_TYPES:
        page.goto(base_url + path, wait_until="load")
        if (extra := page.evaluate(SIDEWAYS)) > 0:
            sideways[f"/{path}"] = extra
        # A code block may scroll inside itself on a phone, but it starts inside the window.
        if any(block["width"] > PHONE["width"] for block in page.evaluate(CODE_BLOCKS)):
            outside.append(f"/{path}")
    context.close()
    assert sideways == {}, "pages wider than a 375 px phone (px)"
    assert outside == [], "code blocks wider than the phone"
