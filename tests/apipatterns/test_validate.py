"""Every kind of bad input is reported as `file:line: field: message`, all at once."""

from pathlib import Path

import pytest
from catalog_problems import PATTERN, TODAY, USE_CASE, edit, problems

from apipatterns.catalog import load_catalog


def test_the_fixture_is_valid(root: Path):
    catalog = load_catalog(root, TODAY)
    assert list(catalog.patterns) == ["retry-safety", "batch-caps"]
    assert catalog.constants["batch-caps"]["MAX_ITEMS"] == 1000


def test_yaml_syntax_error(root: Path):
    edit(root, PATTERN, "tags: [reliability]", "tags: [reliability")
    assert problems(root) == [
        f"{PATTERN}:6: yaml: did not find expected ',' or ']' while parsing a flow sequence "
        "started at line 5; fix the YAML syntax"
    ]


def test_missing_required_field(root: Path):
    edit(
        root, PATTERN, "summary: A retried request has the effect of one request, never two.\n", ""
    )
    assert problems(root) == [f"{PATTERN}:1: summary: is required but missing; add it"]


def test_unknown_field_suggests_the_right_one(root: Path):
    edit(root, PATTERN, "pitfalls:", "pitfals:")
    assert problems(root) == [
        f"{PATTERN}:1: pitfalls: is required but missing; add it",
        f"{PATTERN}:15: pitfals: unknown field; did you mean `pitfalls`? the fields are: id, "
        "title, summary, reviewed, tags, rules, problem, solution, pitfalls, alternatives, "
        "security, at_scale, elsewhere, snippet, requires, standards, related, aliases",
    ]


def test_wrong_type(root: Path):
    edit(root, PATTERN, "tags: [reliability]", "tags: reliability")
    assert problems(root) == [
        f"{PATTERN}:5: tags: Input should be a valid list, got str 'reliability'"
    ]


def test_malformed_id(root: Path):
    edit(root, PATTERN, "related: [batch-caps]", "related: [Batch_Caps]")
    assert problems(root) == [
        f"{PATTERN}:25: related[0]: 'Batch_Caps' is not a valid id; use lowercase kebab-case, "
        "e.g. `cursor-pagination`"
    ]


def test_duplicate_id(root: Path):
    text = (root / PATTERN).read_text().replace("aliases: [safe-retries]", "aliases: []")
    (root / "data/patterns/retry-safety-2.yml").write_text(text)
    assert problems(root) == [
        "data/patterns/retry-safety-2.yml:1: id: 'retry-safety' does not match the file name; "
        "rename the file to retry-safety.yml",
        "data/patterns/retry-safety.yml:1: id: 'retry-safety' is already used by "
        "data/patterns/retry-safety-2.yml; choose another id",
    ]


def test_alias_that_collides_with_an_id(root: Path):
    edit(root, PATTERN, "aliases: [safe-retries]", "aliases: [batch-caps]")
    assert problems(root) == [
        f"{PATTERN}:26: aliases[0]: 'batch-caps' is already used by data/patterns/batch-caps.yml; "
        "choose another id"
    ]


def test_use_case_naming_a_missing_pattern(root: Path):
    edit(root, USE_CASE, "- pattern: batch-caps", "- pattern: batch-cap")
    assert problems(root) == [
        f"{USE_CASE}:10: patterns[1].pattern: no pattern 'batch-cap' exists; "
        "did you mean 'batch-caps'?"
    ]


def test_related_entry_that_does_not_exist(root: Path):
    edit(root, PATTERN, "related: [batch-caps]", "related: [batch-caps, rate-limits]")
    assert problems(root) == [
        f"{PATTERN}:25: related[1]: no pattern 'rate-limits' exists; "
        "add data/patterns/rate-limits.yml"
    ]


def test_snippet_file_that_does_not_exist(root: Path):
    (root / "snippets/retry_safety.py").unlink()
    assert problems(root) == [
        f"{PATTERN}:17: snippet: snippets/retry_safety.py does not exist; create it or fix the path"
    ]


@pytest.mark.parametrize(
    ("reviewed", "message"),
    [
        ("May 2026", "'May 2026' is not a date; write it as YYYY-MM-DD, e.g. 2026-05-04"),
        ("2026-11-26", "2026-11-26 is in the future; use the date the entry was reviewed"),
    ],
)
def test_review_date(root: Path, reviewed: str, message: str):
    edit(root, PATTERN, "reviewed: 2026-05-01", f"reviewed: {reviewed}")
    assert problems(root) == [f"{PATTERN}:4: reviewed: {message}"]


def test_dangling_catalog_link_in_markdown(root: Path):
    edit(root, USE_CASE, "(pattern:batch-caps)", "(pattern:batch-kaps)")
    assert problems(root) == [
        f"{USE_CASE}:8: patterns[0].why: link `pattern:batch-kaps` points nowhere; "
        "no data/patterns/batch-kaps.yml"
    ]


def test_unknown_snippet_constant(root: Path):
    edit(root, "data/patterns/batch-caps.yml", "snippet.MAX_ITEMS", "snippet.MAX_ITEM")
    assert problems(root) == [
        "data/patterns/batch-caps.yml:7: solution: `{{ snippet.MAX_ITEM }}`: "
        "snippets/batch_caps.py has no module-level literal MAX_ITEM; define it or fix the name"
    ]


def test_requirement_not_pinned(root: Path):
    edit(root, PATTERN, "requires: [httpx]", "requires: [httpx, requests]")
    assert problems(root) == [
        f"{PATTERN}:18: requires[1]: 'requests' is not pinned in requirements.lock; "
        "add it to pyproject.toml and run `make lock`"
    ]


def test_duplicate_key_in_a_mapping(root: Path):
    edit(root, PATTERN, "tags: [reliability]", "tags: [reliability]\ntags: [retries]")
    assert problems(root) == [f"{PATTERN}:6: tags: appears twice in the same mapping; keep one"]


def test_use_case_missing_from_the_overview(root: Path):
    edit(root, "data/overview.yml", "use_cases: [ledgers]", "use_cases: [ledger]")
    assert problems(root) == [
        "data/overview.yml:3: use_cases: use case 'ledgers' is missing from the list; "
        "add it where it belongs",
        "data/overview.yml:3: use_cases[0]: no use case 'ledger' exists; did you mean 'ledgers'?",
    ]


def test_every_problem_is_reported_at_once(root: Path):
    edit(root, PATTERN, "tags: [reliability]", "tags: reliability")
    edit(root, USE_CASE, "- pattern: batch-caps", "- pattern: nothing")
    (root / "snippets/batch_caps.py").unlink()
    found = problems(root)
    assert len(found) == 3
    assert [line.split(":")[0] for line in found] == [
        "data/patterns/batch-caps.yml",
        PATTERN,
        USE_CASE,
    ]
