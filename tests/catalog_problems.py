"""Helpers for the tests that break the fixture catalog and read the problems it reports."""

from datetime import date
from pathlib import Path

import pytest

from apipatterns.catalog import load_catalog
from apipatterns.problems import CatalogError

TODAY = date(2026, 11, 25)
PATTERN = "data/patterns/retry-safety.yml"
USE_CASE = "data/use-cases/ledgers.yml"


def problems(root: Path) -> list[str]:
    """The problems `load_catalog` reports, one string each."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(root, TODAY)
    return str(caught.value).splitlines()


def edit(root: Path, relpath: str, old: str, new: str) -> None:
    """Replace the first `old` in a fixture file, which must contain it."""
    path = root / relpath
    text = path.read_text()
    assert old in text, f"fixture lacks {old!r}"
    path.write_text(text.replace(old, new, 1))
