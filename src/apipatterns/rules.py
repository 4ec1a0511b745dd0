"""A pattern's rules, checked without running anything: each proof names a test that exists,
each `breaks` edit applies to the snippet exactly once and leaves it valid Python."""

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

from .load import Document
from .model import Breaks, Pattern
from .problems import Problem

PROVED_LEVELS = ("MUST", "MUST NOT")


def check_rules(
    root: Path, pattern: Pattern, document: Document, source: str, tests: dict[str, dict]
) -> Iterator[Problem]:
    """Every problem with the rules of `pattern`; `tests` caches test files' functions."""

    def problem(loc: tuple, message: str) -> Problem:
        field = f"rules[{loc[0]}]" + "".join(f".{part}" for part in loc[1:])
        return Problem(document.path, document.line(("rules", *loc)), field, message)

    seen: set[str] = set()
    for i, rule in enumerate(pattern.rules):
        if rule.id in seen:
            yield problem((i, "id"), f"{rule.id!r} is already a rule of this pattern; rename it")
        seen.add(rule.id)
        if rule.proof is None:
            if rule.level in PROVED_LEVELS:
                yield problem(
                    (i,),
                    f"a {rule.level} rule needs a `proof`: the pytest node id of the test that "
                    "proves it",
                )
            if rule.breaks is not None:
                yield problem((i, "breaks"), "a `breaks` edit needs a `proof` to run against it")
        else:
            message = _proof_problem(root, rule.proof, tests)
            if message:
                yield problem((i, "proof"), message)
        if rule.breaks is not None:
            message = _breaks_problem(source, rule.breaks, pattern.snippet)
            if message:
                yield problem((i, "breaks", "find"), message)


def module_functions(root: Path, relpath: str, tests: dict[str, dict]) -> dict[str, int] | None:
    """The module-level test functions of a test file, by name, with their line; None if the
    file does not exist or does not parse."""
    if relpath not in tests:
        try:
            source = (root / relpath).read_text(encoding="utf-8")
        except (OSError, ValueError):
            tests[relpath] = None
        else:
            tests[relpath] = _functions(source)
    return tests[relpath]


@functools.lru_cache(maxsize=512)  # a warm process (the previews) re-parses only what changed
def _functions(source: str) -> dict[str, int] | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return {
        node.name: node.lineno
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _proof_problem(root: Path, proof: str, tests: dict[str, dict]) -> str | None:
    relpath, _, name = proof.partition("::")
    functions = module_functions(root, relpath, tests)
    if functions is None:
        return f"{relpath} does not exist or is not valid Python; fix the path"
    if not name.startswith("test"):
        return f"{name!r} is not a test: pytest collects only functions named test*"
    if name not in functions:
        return f"{relpath} has no test function {name!r}; fix the name"
    return None


def apply_breaks(source: str, breaks: Breaks) -> str:
    """The snippet with the rule-breaking edit applied."""
    return source.replace(breaks.find, breaks.replace, 1)


def _breaks_problem(source: str, breaks: Breaks, snippet: str) -> str | None:
    count = source.count(breaks.find)
    if count != 1:
        where = "does not occur" if count == 0 else f"occurs {count} times"
        return f"{breaks.find!r} {where} in {snippet}; it must occur exactly once"
    error = syntax_error(apply_breaks(source, breaks))
    if error:
        return f"the edit leaves {snippet} invalid Python ({error}); break the rule, not the syntax"
    return None


@functools.lru_cache(maxsize=2048)
def syntax_error(code: str) -> str | None:
    """Why `code` does not parse, or None.

    Cached by content: parsing every mutant is most of a catalog load, and a serving
    process reloads the catalog on every save while few snippets change.
    """
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return exc.msg
    return None
