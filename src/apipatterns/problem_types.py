"""The problem-type registry, checked against itself and the patterns it names."""

from collections.abc import Iterator

from .load import Document
from .model import ProblemTypes
from .problems import Problem

PROBLEMS = "https://api.example.com/problems/"
"""The namespace of every `type` URI the snippets send."""
RETRYING = ("retry-after", "backoff")


def check_problem_types(
    registry: ProblemTypes, document: Document, patterns: set[str]
) -> Iterator[Problem]:
    """Duplicate or unordered slugs, `retryable` against `action`, and names of patterns."""

    def problem(loc: tuple, message: str) -> Problem:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        return Problem(document.path, document.line(loc), field, message)

    seen: set[str] = set()
    previous = ""
    for i, kind in enumerate(registry.types):
        if kind.slug in seen:
            yield problem(("types", i, "slug"), f"{kind.slug!r} is listed twice; keep one")
        elif kind.slug < previous:
            yield problem(
                ("types", i, "slug"),
                f"{kind.slug!r} is out of order; keep the types in slug order (after "
                f"{previous!r} comes nothing before it)",
            )
        seen.add(kind.slug)
        previous = max(previous, kind.slug)
        if kind.retryable != (kind.action in RETRYING):
            yield problem(
                ("types", i, "retryable"),
                f"`retryable: {str(kind.retryable).lower()}` contradicts `action: {kind.action}`;"
                " only retry-after and backoff types are retryable",
            )
        for j, name in enumerate(kind.patterns):
            if name not in patterns:
                yield problem(("types", i, "patterns", j), f"no pattern {name!r} exists")
    for i, exception in enumerate(registry.exceptions):
        if exception.pattern not in patterns:
            yield problem(("exceptions", i, "pattern"), f"no pattern {exception.pattern!r} exists")
