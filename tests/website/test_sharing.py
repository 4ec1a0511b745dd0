"""What a link preview, a feed reader and a crawler get from the built site, in both builds."""

import html
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import yaml

from apipatterns.feeds import DC

ROOT = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load(
    re.sub(r"!!python/name:\S+", "''", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
)
META = re.compile(r'<meta (?:name|property)="([^"]+)" content="([^"]*)"')


def meta(page: Path) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in META.findall(page.read_text(encoding="utf-8"))}


def canonical(page: Path) -> str:
    found = re.search(r'<link rel="canonical" href="([^"]+)"', page.read_text(encoding="utf-8"))
    assert found, page
    return found[1]


def test_every_page_has_its_own_description_and_a_link_preview(site: Path):
    pages = sorted(site.rglob("index.html"))
    assert len(pages) > 60
    for page in pages:
        tags = meta(page)
        assert tags["description"] != CONFIG["site_description"], page
        assert tags["og:description"] == tags["twitter:description"] == tags["description"], page
        assert tags["og:title"] and tags["og:title"] == tags["twitter:title"], page
        assert tags["og:url"] == canonical(page), page
        assert tags["og:type"] == ("article" if "/blog/20" in f"/{page}" else "website"), page
        assert tags["twitter:card"] == "summary", page
        assert "og:image" not in tags, page  # no image is generated here
    assert meta(site / "patterns/idempotency-keys/index.html")["og:title"] == "Idempotency keys"
    assert meta(site / "index.html")["og:title"] == CONFIG["site_name"]


def test_the_feeds_carry_an_icon_and_the_posts_own_dates(site: Path):
    icon = CONFIG["site_url"] + "assets/images/favicon.png"
    assert (site / "assets/images/favicon.png").is_file()
    for name in ("feed_rss_created.xml", "feed_rss_updated.xml"):
        rss = (site / name).read_text(encoding="utf-8")
        assert re.search(r"<image>\s*<url>" + re.escape(icon) + "</url>", rss), name
        assert "None" not in rss, name
    posts = {
        CONFIG["site_url"] + f"blog/{meta['date']['created']:%Y/%m/%d}/{meta['slug']}/": meta
        for meta in (
            yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
            for path in (ROOT / "docs/blog/posts").glob("*.md")
        )
    }
    for name in ("feed_json_created.json", "feed_json_updated.json"):
        feed = json.loads((site / name).read_text(encoding="utf-8"))
        assert feed["icon"] == icon, name
        assert {item["url"] for item in feed["items"]} == set(posts), name
        for item in feed["items"]:  # the dates of the front matter, not the build time
            dates = posts[item["url"]]["date"]
            assert item["date_published"][:10] == str(dates["created"]), item["url"]
            assert item["date_modified"][:10] == str(dates.get("updated", dates["created"]))


def test_the_feeds_name_each_posts_authors_as_rss_allows(site: Path):
    """RSS 2.0 keeps `<author>` for an email address; a name is a `<dc:creator>`."""
    names = yaml.safe_load((ROOT / "docs/blog/.authors.yml").read_text(encoding="utf-8"))
    posts = {}
    for path in (ROOT / "docs/blog/posts").glob("*.md"):
        meta = yaml.safe_load(path.read_text(encoding="utf-8").split("---")[1])
        url = CONFIG["site_url"] + f"blog/{meta['date']['created']:%Y/%m/%d}/{meta['slug']}/"
        posts[url] = [names["authors"][author]["name"] for author in meta["authors"]]
    for name in ("feed_rss_created.xml", "feed_rss_updated.xml"):
        items = ElementTree.parse(site / name).getroot().iter("item")
        credited = {
            item.findtext("link"): [c.text for c in item.iter(f"{{{DC}}}creator")]
            for item in items
            if item.find("author") is None
        }
        assert credited == posts, name


def test_the_sitemap_claims_no_modification_dates(site: Path):
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    assert sitemap.startswith("<?xml")
    assert "<lastmod>" not in sitemap
    assert sitemap.count("<loc>") == len(list(site.rglob("index.html")))  # each page once


def test_the_blog_archive_is_linked_from_the_blog(site: Path):
    blog = (site / "blog/index.html").read_text(encoding="utf-8")
    archives = sorted(p.parent.name for p in (site / "blog/archive").glob("*/index.html"))
    assert archives
    for year in archives:
        assert re.search(rf'href="(\./)?archive/{year}/"', blog), year
