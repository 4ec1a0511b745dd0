import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser.visit import Visit

PREFIX = "api-patterns"  # the path of site_url in mkdocs.yml, as production serves it


def chromium() -> str | None:
    """Debian's Chromium (or one named by $CHROMIUM); None when there is none."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (path := shutil.which(candidate)):
            return path
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if chromium() is None:
        skip = pytest.mark.skip(
            reason="NO CHROMIUM: browser tests skipped; install it with "
            "`apt-get install chromium chromium-driver` (CI does)"
        )
        for item in items:
            if "browser" in item.keywords:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter) -> None:
    if chromium() is None:
        terminalreporter.section("BROWSER TESTS SKIPPED", sep="!", bold=True, red=True)
        terminalreporter.line("No Chromium found: apt-get install chromium chromium-driver")


@pytest.fixture(scope="session")
def base_url(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site served on 127.0.0.1 under the same path as in production."""
    root = tmp_path_factory.mktemp("serve")
    (root / PREFIX).symlink_to(site, target_is_directory=True)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{PREFIX}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")  # Playwright's sync API holds an event loop while it runs
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium(),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def visit(browser, base_url: str):
    """A `Visit` that must end with no console error and no request to another host."""
    visit = Visit(browser, base_url)
    yield visit
    visit.close()
    assert visit.errors == [], "console errors"
    assert visit.hosts <= {urlsplit(base_url).netloc}, "requests to a host other than the site"
