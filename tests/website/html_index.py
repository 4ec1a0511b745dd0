"""What the built HTML links to and which anchors it defines."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ASSET_ATTRS = {
    ("script", "src"),
    ("img", "src"),
    ("link", "href"),
    ("iframe", "src"),
    ("source", "src"),
    ("video", "src"),
    ("audio", "src"),
}
# <link> relations a browser fetches (canonical, alternate and the like only name a URL).
FETCHED_RELS = {
    "stylesheet",
    "icon",
    "preload",
    "modulepreload",
    "prefetch",
    "manifest",
    "apple-touch-icon",
    "preconnect",
    "dns-prefetch",
}


@dataclass
class Page:
    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    assets: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self, page: Page):
        super().__init__()
        self.page = page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.page.ids.add(values[name])
        if tag == "a" and values.get("href"):
            self.page.links.append(values["href"])
        if tag == "link" and not FETCHED_RELS & set((values.get("rel") or "").split()):
            if values.get("href"):
                self.page.links.append(values["href"])
            return
        for asset_tag, attr in ASSET_ATTRS:
            if tag == asset_tag and values.get(attr):
                self.page.assets.append(values[attr])


def parse(path: Path) -> Page:
    page = Page()
    _Parser(page).feed(path.read_text(encoding="utf-8"))
    return page


def page_url(site: Path, path: Path) -> str:
    """The site-relative URL of a built file, e.g. `patterns/x/` for patterns/x/index.html."""
    rel = path.relative_to(site).as_posix()
    return rel.removesuffix("index.html")


def target_file(site: Path, base_url: str, href: str, prefix: str) -> tuple[Path, str] | None:
    """The built file and fragment an internal href points at; None for external links."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None
    path = parts.path
    if path.startswith("/"):
        path = path.removeprefix(prefix) if path.startswith(prefix) else path.lstrip("/")
    else:
        path = urlsplit(urljoin("/" + base_url, path or base_url.rsplit("/", 1)[-1])).path[1:]
    if path == "" or path.endswith("/"):
        path += "index.html"
    return site / path, parts.fragment


def broken_links(site: Path, pages: dict[Path, Page], prefix: str) -> list[str]:
    """Every internal link or asset that points at a missing file or anchor."""
    broken = []
    for path, page in pages.items():
        if path.name == "404.html":
            continue  # served at any depth, so its links are absolute; the others cover them
        for href in page.links + page.assets:
            target = target_file(site, page_url(site, path), href, prefix)
            if target is None:
                continue
            file, fragment = target
            if file.is_dir():
                file = file / "index.html"
            if not file.exists():
                broken.append(f"/{page_url(site, path)}: {href} (no {file.relative_to(site)})")
            elif fragment and file.suffix == ".html" and unquote(fragment) not in pages[file].ids:
                broken.append(f"/{page_url(site, path)}: {href} (no anchor #{fragment})")
    return broken
