"""The staging step, on the fixture catalog: the folder and config any generator builds from."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from apipatterns.catalog import load_catalog
from apipatterns.staging import (
    ConfigDumper,
    PythonName,
    published_files,
    read_config,
    site_config,
    staged,
    with_edit_url,
)

CONFIG = """\
site_name: Fixture
site_url: https://example.org/docs/
edit_uri: https://github.com/example/patterns/edit/main/
hooks: [src/apipatterns/mkdocs_hook.py]
theme:
  name: material
  custom_dir: overrides
plugins:
  - search
  - redirects:
      redirect_maps:
        old.md: guides/retries.md
  - mkdocstrings:
      handlers:
        python:
          paths: [src]
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
nav:
  - Use cases: use-cases/
  - Patterns: patterns/
  - guides/retries.md
"""


@pytest.fixture
def config(root: Path) -> dict:
    (root / "mkdocs.yml").write_text(CONFIG)
    return read_config(root / "mkdocs.yml")


@pytest.fixture
def files(root: Path, config: dict) -> dict[str, str | bytes]:
    return staged(root, load_catalog(root), config)


def test_published_files_are_the_pages_and_the_data_files(root: Path):
    files = published_files(load_catalog(root), "https://example.org/docs/")
    assert {"use-cases/ledgers.md", "patterns/retry-safety.md", "patterns/index.md"} <= set(files)
    assert '"url": "https://example.org/docs/patterns/retry-safety/"' in files["catalog.json"]
    assert {"catalog.schema.json", "catalog-export.schema.json"} <= set(files)


def test_site_config_expands_the_nav_and_adds_alias_redirects(root: Path, config: dict):
    result = site_config(config, load_catalog(root))
    assert result["nav"][0] == {"Use cases": ["use-cases/index.md", "use-cases/ledgers.md"]}
    assert result["nav"][1]["Patterns"][1] == {
        "Ledger APIs": ["patterns/retry-safety.md", "patterns/batch-caps.md"]
    }
    redirects = result["plugins"][1]["redirects"]["redirect_maps"]
    assert redirects == {
        "old.md": "guides/retries.md",
        "patterns/safe-retries.md": "patterns/retry-safety.md",
    }
    assert config["plugins"][1]["redirects"]["redirect_maps"] == {"old.md": "guides/retries.md"}


def test_the_staged_folder_holds_docs_whole_and_every_generated_file(files: dict):
    assert {"docs/guides/retries.md", "docs/patterns/retry-safety.md", "docs/catalog.json"} <= set(
        files
    )


def test_every_staged_page_carries_its_edit_url_in_front_matter(files: dict):
    base = "https://github.com/example/patterns/edit/main/"
    assert f'edit_url: "{base}docs/guides/retries.md"' in files["docs/guides/retries.md"]
    assert (
        f'edit_url: "{base}data/patterns/retry-safety.yml"'
        in files["docs/patterns/retry-safety.md"]
    )
    assert "edit_url" not in files["docs/patterns/index.md"]  # the matrix has no single source


def test_the_staged_config_needs_no_hook_and_resolves_from_its_folder(root: Path, files: dict):
    config = yaml.load(files["mkdocs.yml"], Loader=_TagLoader)
    assert "hooks" not in config
    assert (config["docs_dir"], config["site_dir"]) == ("docs", "site")
    assert config["theme"]["custom_dir"] == str((root / "overrides").resolve())
    assert config["plugins"][2]["mkdocstrings"]["handlers"]["python"]["paths"] == [
        str((root / "src").resolve())
    ]
    assert config["nav"][0] == {"Use cases": ["use-cases/index.md", "use-cases/ledgers.md"]}


def test_python_name_tags_are_written_back_as_tags(files: dict):
    assert "!!python/name:material.extensions.emoji.twemoji" in files["mkdocs.yml"]
    dumped = yaml.dump({"x": PythonName("a.b")}, Dumper=ConfigDumper)
    assert dumped.startswith("x: !!python/name:a.b")


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("# Title\n", '---\nedit_url: "u"\n---\n\n# Title\n'),
        ("---\ntitle: T\n---\n\nBody\n", '---\nedit_url: "u"\ntitle: T\n---\n\nBody\n'),
    ],
)
def test_edit_url_joins_existing_front_matter_or_starts_one(markdown: str, expected: str):
    assert with_edit_url(markdown, "u") == expected


def test_the_cli_stages_only_what_changed(root: Path, config: dict, tmp_path: Path):
    folder = tmp_path / "stage"
    run = [sys.executable, "-m", "apipatterns.cli", "--root", str(root), "stage", str(folder)]
    first = subprocess.run(run, capture_output=True, text=True, check=True)
    (folder / "docs" / "stale.md").write_text("gone after the next staging")
    second = subprocess.run(run, capture_output=True, text=True, check=True)
    assert "(0 changed)" not in first.stdout
    assert "(0 changed)" in second.stdout
    assert not (folder / "docs" / "stale.md").exists()


class _TagLoader(yaml.SafeLoader):
    pass


_TagLoader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda *_: "python-name")


def test_watch_restages_on_save_and_keeps_the_last_good_site_on_a_broken_one(
    root: Path, config: dict, tmp_path: Path
):
    folder = tmp_path / "stage"
    page = folder / "docs/patterns/retry-safety.md"
    entry = root / "data/patterns/retry-safety.yml"
    command = [sys.executable, "-m", "apipatterns.cli", "--root", str(root), "stage", str(folder)]
    watcher = subprocess.Popen(
        [*command, "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert _eventually(lambda: page.is_file())
        entry.write_text(entry.read_text().replace("title: Retry safety", "title: Retry sanity"))
        assert _eventually(lambda: "# Retry sanity" in page.read_text())
        entry.write_text(entry.read_text().replace("tags: [reliability]", "tags: reliability"))
        time.sleep(1)
        assert "# Retry sanity" in page.read_text()
    finally:
        watcher.terminate()
        _, stderr = watcher.communicate(timeout=10)
    assert "data/patterns/retry-safety.yml:5: tags: Input should be a valid list" in stderr
    assert "Traceback" not in stderr


def _eventually(check, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
