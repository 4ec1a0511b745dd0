"""WCAG 2.2 level A and AA in both colour schemes, as far as axe-core checks it: every rule
axe tags wcag2a to wcag22aa (contrast at 4.5:1, link and control names, landmarks, ARIA…) at
1280 px on one page of each type, and the contrast of hovered controls.

axe-core comes pinned from tests/browser/axe/package-lock.json; `make install` (and so
`make test`) puts it in .venv/axe, and the tests inject it from there: no network at test time.
"""

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("AXE_CORE", ROOT / ".venv/axe/node_modules/axe-core/axe.min.js"))

# One page per page type: home, a use case, a pattern, the matrix, the rules, the problem
# types, a guide, a blog post and the contributor reference.
PAGES = [
    "",
    "use-cases/payments/",
    "patterns/idempotency-keys/",
    "patterns/",
    "rules/",
    "problem-types/",
    "guides/error-handling/",
    "blog/2026/07/08/idempotency-key-contract/",
    "contributing/catalog-format/",
]
# The palette follows prefers-color-scheme until a reader picks one with the toggle.
SCHEMES = {"light": "default", "dark": "slate"}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make install`")
    return AXE.read_text()


def _page(browser, base_url: str, path: str, scheme: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(base_url + path, wait_until="networkidle")
    shown = page.evaluate("document.body.dataset.mdColorScheme")
    assert shown == SCHEMES[scheme], f"the page shows scheme {shown}, not {SCHEMES[scheme]}"
    return context, page


WCAG_A_AND_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def _violations(page, axe_source: str, context: object = None, rules=("color-contrast",)):
    """Each failure as one line: the rule, the element and axe's reason."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source)
    options = {"runOnly": list(rules)}
    result = page.evaluate(
        "([context, options]) => axe.run(context || document, options)", [context, options]
    )
    return [
        f"{v['id']} {node['target']}: {(node['any'] or node['all'] or node['none'])[0]['message']}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.strip("/") or "home")
def test_pages_pass_every_wcag_a_and_aa_rule_of_axe(
    browser, base_url: str, axe_source: str, path: str, scheme: str
):
    context, page = _page(browser, base_url, path, scheme)
    try:
        assert _violations(page, axe_source, rules=WCAG_A_AND_AA) == []
    finally:
        context.close()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_hovered_button_and_link_keep_their_contrast(
    browser, base_url: str, axe_source: str, scheme: str
):
    """axe judges the styles in force, so hover each kind of control and judge it hovered."""
    context, page = _page(browser, base_url, "use-cases/payments/", scheme)
    try:
        failures = []
        for selector in ("article a.md-button", "article p a:not(.md-button)", ".md-tabs__link"):
            target = page.locator(selector).first
            target.hover()
            page.wait_for_timeout(300)  # Material fades colours in over 125 ms
            failures += _violations(page, axe_source, {"include": [selector]})
        assert failures == []
    finally:
        context.close()
