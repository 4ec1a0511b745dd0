"""The sidebar: every use case lists each pattern it names, shared ones included."""

import json
from pathlib import Path

import pytest
from website.sidebar import Item, sidebar


@pytest.fixture(scope="module")
def catalog(site: Path) -> dict:
    return json.loads((site / "catalog.json").read_text(encoding="utf-8"))


def open_section(site: Path, page: str) -> Item:
    """The use-case section that `page`'s sidebar opens under Patterns."""
    (patterns,) = [item for item in sidebar(site, page) if item.title == "Patterns"]
    (section,) = [item for item in patterns.children if item.active]
    return section


def first_use_case(catalog: dict) -> dict[str, str]:
    """Each pattern's first use case, in catalog order."""
    first: dict[str, str] = {}
    for use_case in catalog["use_cases"]:
        for use in use_case["patterns"]:
            first.setdefault(use["id"], use_case["title"])
    return first


def test_each_use_case_lists_every_pattern_it_names_in_its_order(site: Path, catalog: dict):
    titles = {p["id"]: p["title"] for p in catalog["patterns"]}
    first = first_use_case(catalog)
    for use_case in catalog["use_cases"]:
        ids = [use["id"] for use in use_case["patterns"]]
        home = next(i for i in ids if first[i] == use_case["title"])  # a page it opens on
        section = open_section(site, f"patterns/{home}/index.html")
        assert section.title == use_case["title"]
        assert [(c.title, c.href) for c in section.children] == [
            (titles[i], f"http://site/patterns/{i}/") for i in ids
        ]


def test_a_shared_pattern_opens_under_its_first_use_case(site: Path, catalog: dict):
    first = first_use_case(catalog)
    uses = [use["id"] for use_case in catalog["use_cases"] for use in use_case["patterns"]]
    shared = sorted({i for i in uses if uses.count(i) > 1})
    assert len(shared) == 5  # idempotency keys, signed webhooks, cursors, async jobs, versions
    for pattern in shared:
        section = open_section(site, f"patterns/{pattern}/index.html")
        assert section.title == first[pattern], pattern
        (current,) = [c for c in section.children if c.active]
        assert current.href == f"http://site/patterns/{pattern}/"
