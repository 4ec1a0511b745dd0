"""A reader's browser tab, shared by the browser tests."""

from urllib.parse import urlsplit

SEARCH_FIELD = "input.md-search__input, input[role='combobox'][aria-label='Search']"


class Visit:
    """A browser page that records console errors and every host it requests."""

    def __init__(self, browser, base_url: str):
        self.context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
        self.page = self.context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.hosts.add(urlsplit(r.url).netloc))

    def open(self, path: str) -> None:
        self.page.goto(self.base_url + path, wait_until="networkidle")

    def heading(self) -> str:
        """The page's h1, without its permalink sign."""
        return self.page.locator("h1").first.inner_text().removesuffix("¶").strip()

    def search(self, query: str) -> None:
        """Open search with `/`, as a reader does, and type the query into its field."""
        self.page.keyboard.press("/")
        self.type_in_search(query)

    def type_in_search(self, query: str) -> None:
        """Type once the search field is drawn (Zensical draws it when the index has come)."""
        field = self.page.locator(SEARCH_FIELD).first
        field.wait_for(timeout=15_000)
        field.focus()
        self.page.keyboard.type(query, delay=10)

    def close(self) -> None:
        self.context.close()
