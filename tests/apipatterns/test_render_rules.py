"""Rules on pattern pages, checklists on use-case pages, and the `/rules/` index."""

from datetime import date
from pathlib import Path

import pytest

from apipatterns.catalog import Catalog, load_catalog
from apipatterns.render import render_pattern, render_use_case
from apipatterns.render_rules import render_rules_index

TEST_URL = (
    "https://github.com/api-patterns/api-patterns/blob/main/tests/snippets/test_retry_safety.py"
)


@pytest.fixture
def catalog(root: Path) -> Catalog:
    return load_catalog(root, date(2026, 11, 25))


def test_rules_come_right_after_the_summary_each_with_its_anchor_and_proof(catalog: Catalog):
    page = render_pattern(catalog, "retry-safety")
    assert page.index("## Rules") < page.index("## Problem")
    assert '<div class="rule" id="rule-replay-seen-keys" markdown>' in page
    assert (
        '<span class="rule-level">MUST</span> The server MUST answer a repeated key with the '
        "first outcome, never a second write. "
        '[¶](#rule-replay-seen-keys "Link to this rule"){ .rule-anchor }'
    ) in page
    assert (
        f'<span class="rule-meta">RFC 9110 §9.2.2 · proved by [`test_a_repeated_key_is_replayed`]'
        f"({TEST_URL}#L4)</span>"
    ) in page
    assert '<span class="rule-meta">not proved by a test</span>' in page
    assert "[BCP 14](../rules/index.md#bcp-14)" in page


def test_snippet_constants_in_a_rule_are_filled_in_wherever_it_is_quoted(catalog: Catalog):
    rule = "The server MUST refuse a batch of more than 1000 items, whole."
    assert rule in render_pattern(catalog, "batch-caps")
    assert rule in render_use_case(catalog, "ledgers")
    assert rule in render_rules_index(catalog)
    assert "{{" not in render_rules_index(catalog)


def test_use_case_checklist_lists_must_and_should_rules_as_tasks_in_order(catalog: Catalog):
    page = render_use_case(catalog, "ledgers")
    checklist = page[page.index("## Design review checklist") :]
    tasks = [line for line in checklist.splitlines() if line.startswith("- [ ] ")]
    assert tasks == [
        "- [ ] **MUST**: The server MUST answer a repeated key with the first outcome, never a "
        "second write. ([Retry safety](../patterns/retry-safety.md#rule-replay-seen-keys))",
        "- [ ] **MUST**: The server MUST carry out a request whose key it has not seen. "
        "([Retry safety](../patterns/retry-safety.md#rule-create-new-keys))",
        "- [ ] **SHOULD**: Keys SHOULD expire after a day; not tested, because the miniature "
        "keeps no clock. ([Retry safety](../patterns/retry-safety.md#rule-keys-expire))",
        "- [ ] **MUST**: The server MUST refuse a batch of more than 1000 items, whole. "
        "([Batch caps](../patterns/batch-caps.md#rule-refuse-oversized-batches))",
        "- [ ] **MUST**: The server MUST accept a batch of exactly the cap. "
        "([Batch caps](../patterns/batch-caps.md#rule-accept-up-to-the-cap))",
        "- [ ] **SHOULD**: The cap SHOULD be published; not tested, because the miniature has no "
        "documentation. ([Batch caps](../patterns/batch-caps.md#rule-publish-the-cap))",
    ]


def test_may_rules_stay_out_of_the_checklist(catalog: Catalog, root: Path):
    path = root / "data/patterns/retry-safety.yml"
    path.write_text(path.read_text().replace("level: SHOULD", "level: MAY"))
    page = render_use_case(load_catalog(root, date(2026, 11, 25)), "ledgers")
    assert "Keys SHOULD expire" not in page
    assert page.count("- [ ] ") == 5


def test_rules_index_defines_the_keywords_and_lists_every_rule(catalog: Catalog):
    page = render_rules_index(catalog)
    assert "## What the keywords mean {#bcp-14}" in page
    assert "[RFC 8174](https://www.rfc-editor.org/rfc/rfc8174)" in page
    assert "## [Retry safety](../patterns/retry-safety.md) {#retry-safety}" in page
    assert (
        "| MUST | The server MUST carry out a request whose key it has not seen. "
        '[¶](../patterns/retry-safety.md#rule-create-new-keys "Link to this rule") '
        f"| [test]({TEST_URL}#L10) |"
    ) in page
    assert "| SHOULD | Keys SHOULD expire" in page
    assert "## [Batch caps](../patterns/batch-caps.md) {#batch-caps}" in page
