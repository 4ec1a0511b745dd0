"""Published URLs are a contract: each one keeps resolving, and every page is on the list."""

import re
from pathlib import Path

from apipatterns.catalog import load_catalog

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
LISTED = [
    line.strip()
    for line in (HERE / "published_urls.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


def test_every_published_url_still_resolves(site: Path):
    missing = [
        url
        for url in LISTED
        if not (site / url.lstrip("/") / "index.html").is_file()
        and not (site / url.lstrip("/")).is_file()
    ]
    assert missing == []


def test_every_page_of_the_site_is_on_the_list(site: Path):
    sitemap = (site / "sitemap.xml").read_text()
    prefix = "https://api-patterns.github.io/api-patterns"
    pages = {loc.removeprefix(prefix) for loc in re.findall(r"<loc>(.*?)</loc>", sitemap)}
    assert pages - set(LISTED) == set(), "add these URLs to tests/website/published_urls.txt"


def test_every_catalog_entry_and_alias_has_a_published_url():
    catalog = load_catalog(ROOT)
    expected = {f"/use-cases/{u.id}/" for u in catalog.use_cases.values()}
    expected |= {f"/patterns/{p.id}/" for p in catalog.patterns.values()}
    for kind, entries in (("use-cases", catalog.use_cases), ("patterns", catalog.patterns)):
        expected |= {f"/{kind}/{a}/" for e in entries.values() for a in e.aliases}
    assert expected - set(LISTED) == set()
