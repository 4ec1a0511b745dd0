"""Read the YAML files of `data/`, keeping the line of every value for error messages."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .problems import Problem

Loc = tuple[str | int, ...]
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it


@dataclass
class Document:
    """One YAML file: its parsed data and the line (1-based) of each key path within it."""

    path: str
    data: object
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """The line of `loc`, or of its nearest ancestor that has one."""
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return self.lines.get(loc, 1)


def read_document(root: Path, relpath: str) -> tuple[Document | None, list[Problem]]:
    """Parse one file; a syntax error or a duplicate key is a problem, not an exception."""
    try:
        node, data = _parse((root / relpath).read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            what += f" {exc.context} started at line {exc.context_mark.line + 1}"
        return None, [Problem(relpath, line, "yaml", f"{what}; fix the YAML syntax")]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [Problem(relpath, 1, "yaml", f"cannot read the file ({exc})")]
    document = Document(relpath, data)
    problems = list(_index(node, (), document)) if node is not None else []
    return document, problems


def _parse(text: str) -> tuple[yaml.Node | None, object]:
    """The node tree (for line numbers) and the data, from one pass of the parser."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def _index(node: yaml.Node, loc: Loc, document: Document) -> Iterator[Problem]:
    document.lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                yield Problem(
                    document.path,
                    key.start_mark.line + 1,
                    name,
                    "appears twice in the same mapping; keep one",
                )
            seen.add(name)
            yield from _index(value, (*loc, name), document)
            # A field's problems point at its key, not at where its value starts.
            document.lines[(*loc, name)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _index(item, (*loc, index), document)


def catalog_files(root: Path) -> list[str]:
    """The catalog's YAML files, as paths relative to `root` in a stable order."""
    data = root / "data"
    files = [data / "overview.yml", data / "problem-types.yml"]
    for kind in ("use-cases", "patterns"):
        files += sorted((data / kind).glob("*.y*ml"))
    return [p.relative_to(root).as_posix() for p in files]
