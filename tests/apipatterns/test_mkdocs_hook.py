"""The MkDocs adapter, on the fixture catalog: pages, edit links, redirects, loud failure."""

import subprocess
import sys
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
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"],
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
