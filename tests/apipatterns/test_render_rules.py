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


def test_a_pattern_without_rules_has_no_rules_section(catalog: Catalog):
    assert "## Rules" not in render_pattern(catalog, "batch-caps")


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
    ]


def test_may_rules_stay_out_of_the_checklist(catalog: Catalog, root: Path):
    path = root / "data/patterns/retry-safety.yml"
    path.write_text(path.read_text().replace("level: SHOULD", "level: MAY"))
    page = render_use_case(load_catalog(root, date(2026, 11, 25)), "ledgers")
    assert "Keys SHOULD expire" not in page
    assert page.count("- [ ] ") == 2


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
    assert "batch-caps.md) {#batch-caps}" not in page
