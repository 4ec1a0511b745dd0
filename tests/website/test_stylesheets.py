"""Each page loads the stylesheets it uses, and only those, in both builds."""

import re
from pathlib import Path

from apipatterns.staging import API_STYLES, api_styles

STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


def stylesheets(page: Path) -> list[str]:
    return [href.rsplit("/", 1)[-1] for href in STYLESHEET.findall(page.read_text())]


def test_the_api_reference_stylesheet_loads_only_where_the_api_reference_is(site: Path):
    pages = sorted(site.rglob("*.html"))
    with_reference = [p for p in pages if "doc doc-object" in p.read_text()]
    assert [p.relative_to(site).as_posix() for p in with_reference] == [
        "contributing/catalog-format/index.html"
    ]
    for page in pages:
        loads = "_mkdocstrings.css" in stylesheets(page)
        assert loads == (page in with_reference), page
    reference = stylesheets(with_reference[0])
    assert reference.index("_mkdocstrings.css") < reference.index("extra.css")  # ours win


def test_both_builds_serve_the_same_api_reference_stylesheet(site: Path):
    assert (site / API_STYLES).read_text().strip() == api_styles().strip()
