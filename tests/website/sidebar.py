"""The site navigation a built page shows in its sidebar, as a tree."""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin


@dataclass
class Item:
    """One entry of the sidebar: a page, or a section with the entries under it."""

    title: str = ""
    href: str | None = None  # absolute, resolved against the page's URL
    active: bool = False  # the current page, or a section that holds it
    children: list["Item"] = field(default_factory=list)


class _Sidebar(HTMLParser):
    """Reads Material's primary `<nav>`, skipping the table of contents nested in it."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.root = Item()
        self.open: list[Item] = []
        self.navs: list[str] = []  # what each open <nav> is: sidebar, toc or other
        self.text: list[str] | None = None

    def _inside(self) -> bool:
        return bool(self.navs) and self.navs[-1] == "sidebar"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "nav":
            outer = self.navs[-1] if self.navs else "other"
            kind = "toc" if "md-nav--secondary" in classes else outer
            self.navs.append("sidebar" if "md-nav--primary" in classes else kind)
        if not self._inside():
            return
        if tag == "li" and "md-nav__item" in classes:
            item = Item(active="md-nav__item--active" in classes)
            (self.open[-1] if self.open else self.root).children.append(item)
            self.open.append(item)
        elif tag in ("a", "label") and "md-nav__link" in classes and self.open:
            item = self.open[-1]
            if not item.title:
                self.text = []
            if tag == "a" and item.href is None and values.get("href"):
                item.href = urljoin(self.url, values["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self.navs:
            self.navs.pop()
        elif tag == "li" and self.open and self._inside():
            self.open.pop()
        elif tag in ("a", "label") and self.text is not None:
            self.open[-1].title = " ".join("".join(self.text).split())
            self.text = None

    def handle_data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)


def sidebar(site: Path, page: str) -> list[Item]:
    """The sidebar of `page` (a path inside `site`, such as `patterns/index.html`)."""
    parser = _Sidebar(f"http://site/{page}")
    parser.feed((site / page).read_text(encoding="utf-8"))
    return parser.root.children
