"""The validated catalog: every entry, in page order, with what the pages need beside it."""

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .model import Overview, Pattern, PatternUse, UseCase


@dataclass(frozen=True)
class Catalog:
    """Everything the renderers need; built only by `load_catalog`, so always valid."""

    overview: Overview
    use_cases: dict[str, UseCase]
    """In the overview's order."""
    patterns: dict[str, Pattern]
    """In order of first use by the use cases, then the unused ones by id."""
    sources: dict[str, str]
    """`pattern:<id>`, `use-case:<id>` or `overview` -> the YAML file it came from."""
    snippets: dict[str, str]
    """Pattern id -> the source text of its snippet."""
    constants: dict[str, dict[str, object]]
    """Pattern id -> the literal module-level constants of its snippet."""
    pins: dict[str, str]
    """Distribution name -> the version pinned in `requirements.lock`."""
    proof_lines: dict[str, int]
    """A rule's proof (pytest node id) -> the line its test function starts on."""

    @property
    def reviewed(self) -> date:
        """The newest review date of the use cases: the overview's "Last reviewed on"."""
        return max(u.reviewed for u in self.use_cases.values())

    def source_url(self, relpath: str) -> str:
        """Where a file of the repository can be read, e.g. a test that proves a rule."""
        return f"{str(self.overview.repository).rstrip('/')}/blob/main/{relpath}"

    def pin(self, distribution: str) -> str:
        """The version of a PyPI distribution pinned in `requirements.lock`."""
        return self.pins[distribution_key(distribution)]

    def used_by(self, pattern_id: str) -> list[tuple[UseCase, PatternUse]]:
        """Every use case that names the pattern, with what it says about it."""
        return [
            (use_case, use)
            for use_case in self.use_cases.values()
            for use in use_case.patterns
            if use.pattern == pattern_id
        ]


def distribution_key(name: str) -> str:
    """A PyPI name in normal form (PEP 503), as `requirements.lock` is looked up by."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_catalog(root: Path, today: date | None = None) -> Catalog:
    """Load and validate `root/data`; raise `CatalogError` listing every problem found."""
    from .validate import validate

    return validate(root, today or date.today())
