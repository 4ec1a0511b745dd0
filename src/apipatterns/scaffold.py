"""`apipatterns new pattern <id>`: an entry, snippet and test that pass `check` and `prove`."""

from datetime import date
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from .model import Id
from .problems import CatalogError, Problem

ENTRY = """\
# yaml-language-server: $schema=../catalog.schema.json
id: {id}
title: {title}
summary: >-
  One sentence that says what the pattern guarantees, for design docs to quote.
reviewed: {today}
tags: [{tag}]
rules:
  - id: handle-every-request
    level: MUST
    text: The server MUST answer every request it accepts; replace this with the pattern's rule.
    proof: tests/snippets/test_{module}.py::test_every_request_is_handled
    breaks:
      find: 'return f"handled {{request}}"'
      replace: 'return ""'
  - id: say-what-it-guarantees
    level: SHOULD
    text: The page SHOULD state what the pattern guarantees; not tested, as it is prose.
  - id: cite-the-standard
    level: SHOULD
    text: The page SHOULD cite the governing standard; not tested, as `make check` dates it.
problem: |
  What goes wrong without the pattern: the failure a reader has seen in production.
solution: |
  The design, step by step, with the exchange as it goes over the wire:

  ```http
  GET /example HTTP/1.1
  Host: api.example.com
  ```
pitfalls: |
  - The mistake people make when applying it, and what it costs.
alternatives:
  - situation: When the pattern costs more than the failure it prevents
    instead: The simpler design a reader should choose then
    why: The trade-off, in one sentence.
security: |
  What an attacker does against the pattern, and what the snippet does about each threat.
at_scale: |
  What the in-memory, one-process snippet simplifies, what several instances change, and the
  metrics and alerts to watch.
elsewhere:
  - name: A well-known public API that does this
    url: https://example.com/their-own-documentation
    how: What they do, checked against their documentation, and how it differs from this page.
  - name: A published API guideline
    url: https://example.com/the-guideline
    how: What it prescribes, and where this page's design parts from it.
snippet: snippets/{module}.py
requires: []
standards: []
related: []
aliases: []
"""

SNIPPET = '''\
"""{title}: a runnable reference implementation."""


def apply(request: str) -> str:
    return f"handled {{request}}"


if __name__ == "__main__":
    print(apply("GET /example"))
    #> handled GET /example
'''


TEST = '''\
"""{title}: what the reference implementation promises."""

import {module}


def test_every_request_is_handled():
    assert {module}.apply("GET /example") == "handled GET /example"
'''


def pattern_files(pattern_id: str, title: str | None = None, today: date | None = None) -> dict:
    """The new files, by path relative to the repository root."""
    module = pattern_id.replace("-", "_")
    fields = {
        "id": pattern_id,
        "title": title or pattern_id.replace("-", " ").capitalize(),
        "today": (today or date.today()).isoformat(),
        "tag": pattern_id.split("-")[0],
        "module": module,
    }
    return {
        f"data/patterns/{pattern_id}.yml": ENTRY.format(**fields),
        f"snippets/{module}.py": SNIPPET.format(**fields),
        f"tests/snippets/test_{module}.py": TEST.format(**fields),
    }


def write_pattern(root: Path, pattern_id: str, title: str | None = None) -> list[str]:
    """Write the files of `pattern_files`, refusing to overwrite any."""
    try:
        TypeAdapter(Id).validate_python(pattern_id)
    except ValidationError:
        raise CatalogError(
            [
                Problem(
                    "data/patterns",
                    1,
                    "id",
                    f"{pattern_id!r} is not a valid "
                    "id; use lowercase kebab-case, e.g. `cursor-pagination`",
                )
            ]
        ) from None
    files = pattern_files(pattern_id, title)
    taken = [path for path in files if (root / path).exists()]
    if taken:
        raise CatalogError(
            [Problem(path, 1, "file", "already exists; pick another id") for path in taken]
        )
    for path, text in files.items():
        (root / path).write_text(text, encoding="utf-8")
    return list(files)
