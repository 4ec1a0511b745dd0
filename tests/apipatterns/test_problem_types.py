"""The problem-type registry: bad entries get their one line, and the page lists every type."""

from datetime import date
from pathlib import Path

from catalog_problems import edit, problems

from apipatterns.catalog import load_catalog
from apipatterns.render_problem_types import render_problem_types

REGISTRY = "data/problem-types.yml"


def test_duplicate_slug(root: Path):
    edit(root, REGISTRY, "slug: rate-limited", "slug: invalid-request")
    assert problems(root) == [
        f"{REGISTRY}:9: types[1].slug: 'invalid-request' is listed twice; keep one"
    ]


def test_slugs_out_of_order(root: Path):
    edit(root, REGISTRY, "slug: rate-limited", "slug: a-limit")
    assert problems(root) == [
        f"{REGISTRY}:9: types[1].slug: 'a-limit' is out of order; keep the types in slug order "
        "(after 'invalid-request' comes nothing before it)"
    ]


def test_retryable_that_contradicts_the_action(root: Path):
    edit(root, REGISTRY, "retryable: true", "retryable: false")
    assert problems(root) == [
        f"{REGISTRY}:12: types[1].retryable: `retryable: false` contradicts `action: "
        "retry-after`; only retry-after and backoff types are retryable"
    ]


def test_unknown_action_and_status_out_of_range(root: Path):
    edit(root, REGISTRY, "action: fix-request", "action: shrug")
    edit(root, REGISTRY, "status: 429", "status: 299")
    assert problems(root) == [
        f"{REGISTRY}:6: types[0].action: Input should be 'fix-request', 'reauthenticate', "
        "'retry-after', 'backoff' or 'give-up', got str 'shrug'",
        f"{REGISTRY}:10: types[1].status: Input should be greater than or equal to 400, "
        "got int 299",
    ]


def test_sender_or_exception_naming_no_pattern(root: Path):
    edit(root, REGISTRY, "patterns: [batch-caps]", "patterns: [batch-cap]")
    edit(root, REGISTRY, "pattern: retry-safety", "pattern: retry")
    assert problems(root) == [
        f"{REGISTRY}:8: types[0].patterns[0]: no pattern 'batch-cap' exists",
        f"{REGISTRY}:16: exceptions[0].pattern: no pattern 'retry' exists",
    ]


def test_missing_registry(root: Path):
    (root / REGISTRY).unlink()
    assert problems(root)[0].startswith(f"{REGISTRY}:1: yaml: cannot read the file")


def test_page_has_a_row_and_an_anchored_section_per_type(root: Path):
    page = render_problem_types(load_catalog(root, date(2026, 11, 25)))
    assert (
        "| [`rate-limited`](#rate-limited) | 429 | Too many requests | yes | wait for "
        "`Retry-After`, then retry the identical request |"
    ) in page
    assert "## `invalid-request` {#invalid-request}" in page
    assert "Sent by: [Batch caps](../patterns/batch-caps.md)." in page
    assert "| [Retry safety](../patterns/retry-safety.md) | `/token` | RFC 6749 §5.2 |" in page
