"""Zensical builds the same site as Material for MkDocs: the same pages, words, data and feeds."""

import html
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from website.sidebar import Item, sidebar

# What each generator draws differently around the same content: the tag chips (placed above
# or below the title) and the heading permalinks of the tags index.
CHROME = [
    re.compile(r'<nav class="md-tags".*?</nav>', re.S),
    re.compile(r'<a class="headerlink"[^>]*>.*?</a>'),
]


@pytest.fixture(scope="module")
def sites(built: Callable[[str], Path]) -> tuple[Path, Path]:
    return built("mkdocs"), built("zensical")


def article_text(page: Path) -> str:
    """The words of a page's article, without markup or generator chrome."""
    found = re.search(r"<article[^>]*>(.*?)</article>", page.read_text(encoding="utf-8"), re.S)
    text = found[1] if found else ""
    for chrome in CHROME:
        text = chrome.sub("", text)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def html_pages(site: Path) -> set[str]:
    return {path.relative_to(site).as_posix() for path in site.rglob("*.html")}


def test_both_builds_publish_the_same_pages(sites: tuple[Path, Path]):
    mkdocs, zensical = sites
    assert html_pages(zensical) == html_pages(mkdocs)
    assert len({p for p in html_pages(mkdocs) if p.startswith("patterns/")}) == 35  # 34 + matrix


def test_every_page_says_the_same_in_both_builds(sites: tuple[Path, Path]):
    mkdocs, zensical = sites
    differing = [
        page
        for page in sorted(html_pages(mkdocs))
        if article_text(mkdocs / page) != article_text(zensical / page)
    ]
    assert differing == []


@pytest.mark.parametrize(
    "name", ["catalog.json", "catalog.schema.json", "catalog-export.schema.json"]
)
def test_the_data_files_are_identical(sites: tuple[Path, Path], name: str):
    mkdocs, zensical = sites
    assert (zensical / name).read_bytes() == (mkdocs / name).read_bytes()


def test_the_blog_feed_lists_the_same_posts(sites: tuple[Path, Path]):
    def posts(site: Path) -> list[str]:
        feed = (site / "feed_rss_created.xml").read_text(encoding="utf-8")
        return sorted(re.findall(r"<item>.*?<link>(.*?)</link>", feed, re.S))

    mkdocs, zensical = sites
    assert len(posts(mkdocs)) == 4
    assert posts(zensical) == posts(mkdocs)


def test_edit_links_open_the_same_sources(sites: tuple[Path, Path]):
    def edit_links(site: Path) -> dict[str, list[str]]:
        edit = re.compile(r'<a href="([^"]*)"[^>]*rel="edit"')
        return {page: edit.findall((site / page).read_text()) for page in html_pages(site)}

    mkdocs, zensical = sites
    expected = edit_links(mkdocs)
    assert expected["patterns/idempotency-keys/index.html"] == [
        "https://github.com/api-patterns/api-patterns/edit/main/data/patterns/idempotency-keys.yml"
    ]
    assert edit_links(zensical) == expected


def test_every_page_shows_the_same_sidebar_in_both_builds(sites: tuple[Path, Path]):
    """A page listed twice (a shared pattern) keeps its first place in both builds."""

    def entries(items: list[Item]) -> list:
        # The current page: Material links it, Zensical's home page only names it.
        return [
            (
                i.title,
                i.active,
                None if i.active and not i.children else i.href,
                entries(i.children),
            )
            for i in items
        ]

    mkdocs, zensical = sites
    differing = [
        page
        for page in sorted(html_pages(mkdocs))
        if entries(sidebar(mkdocs, page)) != entries(sidebar(zensical, page))
    ]
    assert differing == []
