"""`apipatterns new pattern <id>`: a pattern entry and snippet that pass `check` as written."""

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
