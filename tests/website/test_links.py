"""Every internal link and anchor of the built site resolves; no page loads a third-party asset."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from website.html_index import broken_links, page_url, parse

SITE_PREFIX = "/api-patterns/"  # the path of site_url in mkdocs.yml


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[Path, object]:
    return {path: parse(path) for path in site.rglob("*.html")}


def test_every_internal_link_and_anchor_resolves(site: Path, pages: dict):
    assert broken_links(site, pages, SITE_PREFIX) == []


def test_no_page_requests_a_third_party_host(pages: dict, site: Path):
    external = {
        f"{page_url(site, path)}: {src}"
        for path, page in pages.items()
        for src in page.assets
        if urlsplit(src).netloc
    }
    assert external == set()


def test_no_stylesheet_loads_a_third_party_host(site: Path):
    offenders = [
        css.relative_to(site).as_posix()
        for css in site.rglob("*.css")
        if "url(http" in css.read_text(encoding="utf-8").replace('"', "").replace("'", "")
    ]
    assert offenders == []
