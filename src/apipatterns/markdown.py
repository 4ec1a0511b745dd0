"""Markdown helpers shared by the renderers: catalog links, snippet constants, dates."""

import json
import re
from datetime import date

LINK = re.compile(r"\]\((pattern|use-case|page):([^)\s#]+)(#[^)\s]*)?\)")
CONSTANT = re.compile(r"\{\{\s*snippet\.(\w+)\s*\}\}")
GENERATED_INDEXES = ("use-cases/index.md", "patterns/index.md", "rules/index.md")


def page_path(kind: str, target: str) -> str:
    """The docs-relative source path of a catalog link target."""
    if kind == "page":
        return target
    return f"{'patterns' if kind == 'pattern' else 'use-cases'}/{target}.md"


def resolve(text: str, constants: dict[str, object] | None = None) -> str:
    """Rewrite `pattern:`, `use-case:` and `page:` links and `{{ snippet.NAME }}` constants.

    Every generated page lives one folder deep (`patterns/…`, `use-cases/…`), so one
    relative prefix serves them all.
    """
    text = LINK.sub(lambda m: f"](../{page_path(m[1], m[2])}{m[3] or ''})", text)
    return CONSTANT.sub(lambda m: constant_markdown((constants or {})[m[1]]), text)


def constant_markdown(value: object) -> str:
    """A literal as Markdown: a table for a list of dicts, code spans for a list, else text."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        columns = list(value[0])
        rows = [[_cell(row.get(c, "")) for c in columns] for row in value]
        lines = [columns, ["---"] * len(columns), *rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    if isinstance(value, list | tuple | set):
        return ", ".join(f"`{v}`" for v in value)
    return str(value)  # plain, so that a constant can stand inside a JSON or HTTP example too


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(f"`{v}`" for v in value)
    return re.sub(r"\|", r"\\|", str(value))


def long_date(day: date) -> str:
    """`4 May 2026`."""
    return f"{day.day} {day:%B %Y}"


def front_matter(**fields: str | list[str]) -> str:
    """A YAML front matter block (MkDocs reads `title`, `description`, `tags` from it)."""
    lines = [f"{key}: {json.dumps(value)}" for key, value in fields.items() if value]
    return "---\n" + "\n".join(lines) + "\n---\n\n"
