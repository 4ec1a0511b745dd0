"""The MkDocs adapter, on the fixture catalog: pages, edit links, redirects, loud failure, and
the preview's rebuilds (`make serve`), which render only what an edit changed."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[2] / "src" / "apipatterns" / "mkdocs_hook.py"
CONFIG = f"""
site_name: Fixture
site_url: https://example.org/docs/
edit_uri: https://github.com/example/patterns/edit/main/
strict: true
hooks: [{HOOK}]
plugins: [search, redirects]
markdown_extensions: [attr_list, toc]
nav:
  - Use cases: use-cases/
  - Patterns: patterns/
  - guides/retries.md
"""


def build(root: Path) -> subprocess.CompletedProcess:
    (root / "mkdocs.yml").write_text(CONFIG)
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def site(root: Path) -> Path:
    result = build(root)
    assert result.returncode == 0, result.stderr
    return root / "site"


def test_generated_pages_are_published(site: Path):
    for url in ["use-cases", "use-cases/ledgers", "patterns", "patterns/retry-safety"]:
        assert (site / url / "index.html").is_file(), url


def test_edit_link_opens_the_yaml_source(site: Path):
    html = (site / "patterns/retry-safety/index.html").read_text()
    assert (
        'href="https://github.com/example/patterns/edit/main/data/patterns/retry-safety.yml"'
        in html
    )
    html = (site / "use-cases/index.html").read_text()
    assert 'href="https://github.com/example/patterns/edit/main/data/overview.yml"' in html
    html = (site / "guides/retries/index.html").read_text()
    assert 'href="https://github.com/example/patterns/edit/main/docs/guides/retries.md"' in html


def test_alias_redirects_to_the_pattern(site: Path):
    html = (site / "patterns/safe-retries/index.html").read_text()
    assert '<meta http-equiv="refresh" content="0; url=../retry-safety/">' in html


def test_catalog_json_and_schema_are_published(site: Path):
    assert (
        '"url": "https://example.org/docs/patterns/retry-safety/"'
        in (site / "catalog.json").read_text()
    )
    assert '"$defs"' in (site / "catalog.schema.json").read_text()


def test_a_broken_catalog_fails_the_build_with_the_check_lines(root: Path):
    pattern = root / "data/patterns/retry-safety.yml"
    pattern.write_text(pattern.read_text().replace("tags: [reliability]", "tags: reliability"))
    result = build(root)
    assert result.returncode == 1
    assert (
        "data/patterns/retry-safety.yml:5: tags: Input should be a valid list, got str "
        "'reliability'" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (root / "site").exists()


class Preview:
    """`make serve`'s builds of a folder (`serve_rebuilds.py`), in a process of their own."""

    def __init__(self, root: Path, site: Path):
        (root / "mkdocs.yml").write_text(CONFIG + "theme: material\n")
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("serve_rebuilds.py")), root, site],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.site = site
        self.first = self._written()

    def rebuild(self) -> list[str] | dict:
        """The HTML files the rebuild after an edit wrote (or its error)."""
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return self._written()

    def _written(self) -> list[str] | dict:
        line = self.process.stdout.readline()
        assert line, "serve_rebuilds.py stopped"
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def preview(root: Path, tmp_path: Path) -> Iterator[Preview]:
    served = Preview(root, tmp_path / "served")
    yield served
    served.close()


def site_files(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text() for p in site.rglob("*.html")} | {
        "search": sorted(
            json.loads((site / "search/search_index.json").read_text())["docs"],
            key=json.dumps,
        )
    }


def afresh(root: Path, site: Path) -> dict[str, str]:
    """The site `make serve` shows for `root` when it starts: every page built."""
    Preview(root, site).close()
    return site_files(site)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_text_edit_renders_only_its_page_and_serves_what_a_fresh_build_would(
    root: Path, preview: Preview, tmp_path: Path
):
    edit(root / "data/patterns/retry-safety.yml", "Keys that expire too soon.", "Keys reused.")
    written = preview.rebuild()
    assert [page for page in written if page in preview.first] == [
        "404.html",  # a theme template: MkDocs writes it on every build
        "patterns/retry-safety/index.html",
        "patterns/safe-retries/index.html",  # the redirect, written on every build
    ]
    assert "Keys reused." in (preview.site / "patterns/retry-safety/index.html").read_text()
    assert site_files(preview.site) == afresh(root, tmp_path / "fresh")


def test_an_edit_several_pages_show_renders_those_and_indexes_each_once(
    root: Path, preview: Preview, tmp_path: Path
):
    edit(root / "data/patterns/retry-safety.yml", "never two.", "never twice.")
    written = preview.rebuild()
    assert {"patterns/retry-safety/index.html", "patterns/batch-caps/index.html"} <= set(written)
    assert "guides/retries/index.html" not in written
    assert site_files(preview.site) == afresh(root, tmp_path / "fresh")


def test_a_title_edit_renders_every_page(root: Path, preview: Preview, tmp_path: Path):
    edit(root / "data/patterns/retry-safety.yml", "title: Retry safety", "title: Safe retries")
    assert preview.rebuild() == preview.first
    assert "Safe retries" in (preview.site / "guides/retries/index.html").read_text()
    assert site_files(preview.site) == afresh(root, tmp_path / "fresh")


def test_after_a_failed_rebuild_the_next_renders_every_page(root: Path, preview: Preview):
    pattern = root / "data/patterns/retry-safety.yml"
    good = pattern.read_text()
    pattern.write_text(good.replace("tags: [reliability]", "tags: reliability"))
    assert preview.rebuild() == {"error": "Aborted with a BuildError!"}
    pattern.write_text(good)
    assert preview.rebuild() == preview.first
