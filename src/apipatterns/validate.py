"""Turn the YAML files into a `Catalog`, or into the complete list of their problems."""

import ast
import difflib
import functools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ValidationError

from .catalog import Catalog, distribution_key
from .load import Document, catalog_files, read_document
from .markdown import CONSTANT, GENERATED_INDEXES, LINK
from .model import Overview, Pattern, ProblemTypes, UseCase
from .problem_types import check_problem_types
from .problems import CatalogError, Problem
from .rules import check_rules, module_functions
from .standards import check_standards

KINDS: dict[str, type[BaseModel]] = {
    "overview": Overview,
    "use-cases": UseCase,
    "patterns": Pattern,
    "problem-types": ProblemTypes,
}
SINGLE = {"data/overview.yml": "overview", "data/problem-types.yml": "problem-types"}


def validate(root: Path, today: date) -> Catalog:
    """Parse and check every file; raise `CatalogError` with all problems at once."""
    problems: list[Problem] = []
    entries: dict[str, list[tuple[BaseModel, Document]]] = {kind: [] for kind in KINDS}
    for relpath in catalog_files(root):
        kind = SINGLE.get(relpath) or relpath.split("/")[1]
        document, found = read_document(root, relpath)
        problems += found
        if document is not None:
            entry, found = _parse(KINDS[kind], document)
            problems += found
            if entry is not None:
                entries[kind].append((entry, document))
    for relpath, kind in SINGLE.items():
        if not entries[kind] and not any(p.path == relpath for p in problems):
            problems.append(Problem(relpath, 1, "file", "missing; the catalog needs this file"))
    if not all(entries[kind] for kind in SINGLE.values()):
        raise CatalogError(problems)
    pins = _pins(root / "requirements.lock")
    snippets: dict[str, tuple[str, dict]] = {}  # pattern id -> (source, literal constants)
    tests: dict[str, dict | None] = {}  # test file -> its test functions and their lines
    ids = {"pattern": _ids(root, "patterns"), "use-case": _ids(root, "use-cases")}
    problems += _check_entries(root, entries, today, ids)
    problems += _check_references(entries, ids)
    for registry, document in entries["problem-types"]:
        problems += check_problem_types(registry, document, ids["pattern"])
    for pattern, document in entries["patterns"]:
        problems += _check_snippet(root, pattern, document, pins, snippets)
        if pattern.id in snippets:
            problems += check_rules(root, pattern, document, snippets[pattern.id][0], tests)
    if problems:
        raise CatalogError(problems)
    test_files = {
        p.id: sorted(
            f.relative_to(root).as_posix()
            for f in (root / "tests/snippets").glob(f"test_{Path(p.snippet).stem}*.py")
        )
        for p, _ in entries["patterns"]
    }
    return _assemble(entries, snippets, pins, _proof_lines(root, entries, tests), test_files)


def _proof_lines(root: Path, entries: dict, tests: dict) -> dict[str, int]:
    lines = {}
    for pattern, _ in entries["patterns"]:
        for rule in pattern.rules:
            if rule.proof:
                relpath, _, name = rule.proof.partition("::")
                lines[rule.proof] = module_functions(root, relpath, tests)[name]
    return lines


def _parse(model: type[BaseModel], document: Document) -> tuple[BaseModel | None, list[Problem]]:
    if not isinstance(document.data, dict):
        return None, [Problem(document.path, 1, "file", "expected a mapping of `field: value`")]
    try:
        return model.model_validate(document.data), []
    except ValidationError as exc:
        return None, [_problem(model, document, error) for error in exc.errors()]


def _problem(model: type[BaseModel], document: Document, error: dict) -> Problem:
    loc = error["loc"]
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        message = "is required but missing; add it"
    elif kind == "extra_forbidden":
        known = _fields(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        message = f"unknown field; {hint}the fields are: {', '.join(known)}"
    elif kind == "string_pattern_mismatch" and str(loc[-1]) == "snippet":
        message = f"{value!r} must be a path like `snippets/<name>.py` (lowercase, underscores)"
    elif kind == "string_pattern_mismatch" and str(loc[-1]) == "proof":
        message = f"{value!r} must be a pytest node id like `tests/snippets/test_x.py::test_y`"
    elif kind == "string_pattern_mismatch":
        message = f"{value!r} is not a valid id; use lowercase kebab-case, e.g. `cursor-pagination`"
    elif kind.startswith("date"):
        message = f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-05-04"
    else:
        message = f"{error['msg']}, got {type(value).__name__} {_short(value)}"
    return Problem(document.path, document.line(loc), _dotted(loc) or "file", message)


def _fields(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        if isinstance(part, str):
            annotation = model.model_fields[part].annotation
            model = getattr(annotation, "__args__", (annotation,))[0]
    return list(model.model_fields)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_entries(root: Path, entries: dict, today: date, ids: dict) -> Iterator[Problem]:
    for kind in ("use-cases", "patterns"):
        seen: dict[str, str] = {}
        for entry, document in entries[kind]:
            stem = Path(document.path).stem
            if entry.id != stem:
                yield Problem(
                    document.path,
                    document.line(("id",)),
                    "id",
                    f"{entry.id!r} does not match the file name; rename the file to {entry.id}.yml",
                )
            for name, loc in [(entry.id, ("id",))] + [
                (alias, ("aliases", i)) for i, alias in enumerate(entry.aliases)
            ]:
                if name in seen:
                    yield Problem(
                        document.path,
                        document.line(loc),
                        _dotted(loc),
                        f"{name!r} is already used by {seen[name]}; choose another id",
                    )
                seen.setdefault(name, document.path)
            if entry.reviewed > today:
                yield Problem(
                    document.path,
                    document.line(("reviewed",)),
                    "reviewed",
                    f"{entry.reviewed} is in the future; use the date the entry was reviewed",
                )
        for entry, document in entries[kind]:
            yield from _check_markdown(root, entry, document, ids)
            if kind == "patterns":
                yield from check_standards(entry, document, today)
    for entry, document in entries["overview"]:
        yield from _check_markdown(root, entry, document, ids)


def _check_markdown(
    root: Path, entry: BaseModel, document: Document, ids: dict
) -> Iterator[Problem]:
    for loc, text in _texts(entry.model_dump(), ()):
        for kind, target, _ in LINK.findall(text):
            if kind == "page":
                exists = target in GENERATED_INDEXES or (root / "docs" / target).is_file()
            else:
                exists = target in ids[kind]
            if not exists:
                where = "docs/" if kind == "page" else f"data/{kind}s/"
                yield Problem(
                    document.path,
                    document.line(loc),
                    _dotted(loc),
                    f"link `{kind}:{target}` points nowhere; no {where}{target}"
                    + ("" if kind == "page" else ".yml"),
                )


def _texts(value: object, loc: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _texts(item, (*loc, index))


def _ids(root: Path, kind: str) -> set[str]:
    return {p.stem for p in (root / "data" / kind).glob("*.y*ml")}


def _dotted(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _check_references(entries: dict, ids: dict) -> Iterator[Problem]:
    """Names of other entries resolve (to a file, so a broken entry is reported only once)."""
    patterns, use_cases = ids["pattern"], ids["use-case"]
    for use_case, document in entries["use-cases"]:
        named: set[str] = set()
        for i, use in enumerate(use_case.patterns):
            loc = ("patterns", i, "pattern")
            if use.pattern not in patterns:
                yield _dangling(document, loc, use.pattern, "pattern", patterns)
            elif use.pattern in named:
                yield Problem(
                    document.path,
                    document.line(loc),
                    _dotted(loc),
                    f"{use.pattern!r} is listed twice; list each pattern once",
                )
            named.add(use.pattern)
    for pattern, document in entries["patterns"]:
        for i, other in enumerate(pattern.related):
            loc = ("related", i)
            if other == pattern.id:
                yield Problem(
                    document.path,
                    document.line(loc),
                    _dotted(loc),
                    "a pattern is not related to itself; remove it",
                )
            elif other not in patterns:
                yield _dangling(document, loc, other, "pattern", patterns - {pattern.id})
    for overview, document in entries["overview"]:
        for i, name in enumerate(overview.use_cases):
            if name not in use_cases:
                yield _dangling(document, ("use_cases", i), name, "use case", use_cases)
        for name in sorted(use_cases - set(overview.use_cases)):
            yield Problem(
                document.path,
                document.line(("use_cases",)),
                "use_cases",
                f"use case {name!r} is missing from the list; add it where it belongs",
            )


def _dangling(document: Document, loc: tuple, name: str, kind: str, known: set) -> Problem:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = (
        f"did you mean {close[0]!r}?" if close else f"add data/{kind.replace(' ', '-')}s/{name}.yml"
    )
    return Problem(
        document.path, document.line(loc), _dotted(loc), f"no {kind} {name!r} exists; {hint}"
    )


def _check_snippet(
    root: Path, pattern: Pattern, document: Document, pins: dict, snippets: dict
) -> Iterator[Problem]:
    def problem(loc: tuple, message: str) -> Problem:
        return Problem(document.path, document.line(loc), _dotted(loc), message)

    for i, name in enumerate(pattern.requires):
        if distribution_key(name) not in pins:
            yield problem(
                ("requires", i),
                f"{name!r} is not pinned in requirements.lock; "
                "add it to pyproject.toml and run `make lock`",
            )
    path = root / pattern.snippet
    if not path.is_file():
        yield problem(("snippet",), f"{pattern.snippet} does not exist; create it or fix the path")
        return
    source = path.read_text(encoding="utf-8")
    try:
        constants = literal_constants(source)
    except SyntaxError as exc:
        yield problem(("snippet",), f"{pattern.snippet}:{exc.lineno}: {exc.msg}; fix the snippet")
        return
    snippets[pattern.id] = source, constants
    for loc, text in _texts(pattern.model_dump(), ()):
        for name in CONSTANT.findall(text):
            if name not in constants:
                yield problem(
                    loc,
                    f"`{{{{ snippet.{name} }}}}`: {pattern.snippet} has no "
                    f"module-level literal {name}; define it or fix the name",
                )


@functools.lru_cache(maxsize=256)  # a warm process (the previews) re-parses only what changed
def literal_constants(source: str) -> dict[str, object]:
    """The module-level `NAME = <literal>` assignments of a Python source, by name (shared:
    do not change the dict)."""
    constants = {}
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            for target in targets:
                if isinstance(target, ast.Name):
                    try:
                        constants[target.id] = ast.literal_eval(node.value)
                    except (ValueError, TypeError):
                        pass  # not a literal: a computed constant cannot be quoted
    return constants


def _pins(lock: Path) -> dict[str, str]:
    pins = {}
    if lock.is_file():
        for line in lock.read_text().splitlines():
            name, sep, version = line.partition("==")
            if sep and not line.startswith((" ", "#")):
                pins[distribution_key(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def _assemble(
    entries: dict, snippets: dict, pins: dict, proof_lines: dict, test_files: dict
) -> Catalog:
    overview, overview_doc = entries["overview"][0]
    use_cases = {u.id: u for u, _ in entries["use-cases"]}
    ordered = {name: use_cases[name] for name in overview.use_cases}
    patterns = {p.id: p for p, _ in entries["patterns"]}
    first_use = [use.pattern for u in ordered.values() for use in u.patterns]
    order = list(dict.fromkeys(first_use)) + sorted(set(patterns) - set(first_use))
    sources = {"overview": overview_doc.path, "problem-types": "data/problem-types.yml"}
    for kind, prefix in (("use-cases", "use-case"), ("patterns", "pattern")):
        sources |= {f"{prefix}:{e.id}": d.path for e, d in entries[kind]}
    return Catalog(
        overview=overview,
        use_cases=ordered,
        patterns={name: patterns[name] for name in order},
        sources=sources,
        snippets={p: source for p, (source, _) in snippets.items()},
        constants={p: constants for p, (_, constants) in snippets.items()},
        pins=pins,
        proof_lines=proof_lines,
        problem_types=entries["problem-types"][0][0],
        test_files=test_files,
    )
