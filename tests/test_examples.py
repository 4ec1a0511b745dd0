"""Every Python block of every final page runs as a reader would copy it, and prints its `#>` lines.

Generated pages are rendered in memory by the same core as the build; a block that is a
snippet file is checked (and, with `--update-examples`, rewritten) as that file.
"""

import hashlib
import tempfile
from pathlib import Path

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from apipatterns.catalog import load_catalog
from apipatterns.problems import CatalogError
from apipatterns.render import pages

ROOT = Path(__file__).resolve().parent.parent
# Named after this checkout, so every run (and every xdist worker) collects the same ids.
GENERATED = Path(tempfile.gettempdir()) / (
    "apipatterns-pages-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
)


def _generated_pages() -> Path:
    """Render the catalog's pages into GENERATED, as the build would publish them."""
    try:
        rendered = pages(load_catalog(ROOT))
    except CatalogError as exc:
        pytest.exit(f"the catalog has problems, run `make check`:\n{exc}", returncode=1)
    for src_uri, markdown in rendered.items():
        path = GENERATED / src_uri
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    return GENERATED


class SnippetFile(CodeExample):
    """A whole snippet file: checked as the module it is (PEP 8 spacing), not as a docstring."""

    def in_py_file(self) -> bool:
        return False


def _as_snippet_file(example: CodeExample) -> CodeExample:
    """A block that shows a snippet file whole is that file, so updates land in the file."""
    for path in ROOT.glob("snippets/*.py"):
        text = path.read_text(encoding="utf-8")
        if text.strip() == example.source.strip():
            return SnippetFile.create(text, path=path, start_line=1, prefix=example.prefix)
    return example


def _examples() -> list[CodeExample]:
    generated = [_as_snippet_file(e) for e in find_examples(_generated_pages())]
    written = list(find_examples(ROOT / "docs", ROOT / "src" / "apipatterns"))
    return generated + written


@pytest.mark.parametrize("example", _examples(), ids=lambda e: _id(e))
def test_example(example: CodeExample, examples: EvalExample):
    if examples.update_examples:
        examples.format(example)
        examples.run_print_update(example)
    else:
        examples.lint(example)
        examples.run_print_check(example)


def _id(example: CodeExample) -> str:
    path = example.path
    for base in (GENERATED, ROOT):
        if path.is_relative_to(base):
            path = path.relative_to(base)
            break
    return f"{path.as_posix()}:{example.start_line}"


def test_every_snippet_is_published():
    published = {p.snippet for p in load_catalog(ROOT).patterns.values()}
    on_disk = {f"snippets/{p.name}" for p in ROOT.glob("snippets/*.py")}
    assert on_disk - published == set(), "snippets no pattern shows: give each a pattern"
