"""Each page type, rendered from the fixture catalog."""

from datetime import date
from pathlib import Path

import pytest

from apipatterns.catalog import Catalog, load_catalog
from apipatterns.render import (
    CODE_COLUMNS,
    nav,
    pages,
    pip_install,
    render_matrix,
    render_overview,
    render_pattern,
    render_use_case,
)


@pytest.fixture
def catalog(root: Path) -> Catalog:
    return load_catalog(root, date(2026, 11, 25))


def test_overview_lists_use_cases_with_their_patterns_and_review_date(catalog: Catalog):
    page = render_overview(catalog)
    assert "# Fixture patterns by use case" in page
    assert "*Last reviewed on 4 May 2026.*" in page
    assert "## [Ledger APIs](ledgers.md) {#ledgers}" in page
    assert "**What's distinctive:** money moves, so every write has to be exactly-once." in page
    assert (
        "- **[Retry safety](../patterns/retry-safety.md)**: Retries must never post twice; "
        "see [caps](../patterns/batch-caps.md)." in page
    )
    assert page.index("## Where to go next") > page.index("## [Ledger APIs]")
    assert "[guide](../guides/retries.md)" in page


def test_use_case_page_gives_each_pattern_an_anchor_and_its_why(catalog: Catalog):
    page = render_use_case(catalog, "ledgers")
    assert page.index("### Retry safety {#retry-safety}") < page.index(
        "### Batch caps {#batch-caps}"
    )
    assert "Batches are capped." in page
    assert "(../patterns/batch-caps.md){ .md-button }" in page


def test_pattern_page_has_every_section_in_order(catalog: Catalog):
    page = render_pattern(catalog, "retry-safety")
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Rules",
        "## Problem",
        "## Solution",
        "## Reference implementation",
        "## When not to use it",
        "## Security",
        "## At scale",
        "## Pitfalls",
        "## How others do it",
        "## Standards",
        "## Related patterns",
        "## Used by",
    ]
    assert 'tags: ["reliability"]' in page
    assert "**Used by:** [Ledger APIs](../use-cases/ledgers.md#retry-safety)." in page
    assert "pip install httpx==0.28.1\npython retry_safety.py" in page
    assert "- [RFC 9110](https://www.rfc-editor.org/rfc/rfc9110): *HTTP Semantics*" in page


def test_pattern_page_shows_the_snippet_whole(catalog: Catalog, root: Path):
    page = render_pattern(catalog, "retry-safety")
    source = (root / "snippets/retry_safety.py").read_text()
    assert f'```python title="retry_safety.py"\n{source}```' in page


def test_pattern_page_says_what_the_tests_prove_and_what_they_do_not(catalog: Catalog):
    page = render_pattern(catalog, "retry-safety")
    box = page[page.index('!!! note "What the tests prove, and don\'t"') :]
    assert box.splitlines()[2:5] == [
        "    **Proved:** 2 of the 3 rules, each by the test linked beside it. For 1 of them,"
        " `make prove` breaks the rule in a copy of the snippet and checks that the test then"
        " fails.",
        "",
        "    **Not proved:** the rule [`keys-expire`](#rule-keys-expire), whose text says why;"
        " and what [At scale](#at-scale) describes (a shared store, several instances,"
        " production traffic), which is design advice: the tests run one instance of the"
        " reference implementation.",
    ]
    assert page.index("Source: ") < page.index(box) < page.index("## At scale")
    proved = catalog.patterns["batch-caps"].model_copy()
    proved.rules = [rule for rule in proved.rules if rule.proof]
    catalog.patterns["batch-caps"] = proved
    batch = render_pattern(catalog, "batch-caps")
    assert "**Proved:** All 2 rules, each by the test linked beside it." in batch
    assert "**Not proved:** what [At scale](#at-scale)" in batch


def test_snippet_constants_are_quoted_from_the_code(catalog: Catalog):
    page = render_pattern(catalog, "batch-caps")
    assert "Up to 1000 items per batch." in page
    assert "| field | sortable |\n| --- | --- |\n| name | yes |\n| note | no |" in page
    assert "## Standards" not in page  # none declared, so no empty section


def test_matrix_ticks_link_to_the_reason(catalog: Catalog):
    page = render_matrix(catalog)
    assert "2 patterns across 1 use case." in page
    assert (
        "| [Retry safety](retry-safety.md) | [✓](../use-cases/ledgers.md#retry-safety "
        '"Ledger APIs: Retry safety") |' in page
    )
    # Each use-case column is centred by the table itself, which no theme rule outranks.
    assert "| Pattern | [Ledger APIs](../use-cases/ledgers.md) |\n|---|:-:|" in page


def test_matrix_tags_link_their_heading_on_the_tag_index(catalog: Catalog):
    page = render_matrix(catalog)
    assert (
        "- [**Retry safety**](retry-safety.md): "
        "A retried request has the effect of one request, never two. "
        '<a href="../tags/#tag:reliability"><code>reliability</code></a>\n' in page
    )


def test_matrix_past_its_width_lists_use_cases_per_pattern(catalog: Catalog):
    page = render_matrix(catalog, max_columns=0)
    assert "| Pattern | Used by |\n|---|---|" in page
    assert (
        "| [Batch caps](batch-caps.md) | [Ledger APIs](../use-cases/ledgers.md#batch-caps "
        '"Ledger APIs: Batch caps") |' in page
    )


def test_pages_cover_every_entry(catalog: Catalog):
    assert sorted(pages(catalog)) == [
        "patterns/batch-caps.md",
        "patterns/index.md",
        "patterns/retry-safety.md",
        "problem-types/index.md",
        "rules/index.md",
        "use-cases/index.md",
        "use-cases/ledgers.md",
    ]


def add_spare_pattern(root: Path) -> None:
    """A copy of batch-caps, titled Spare, that no use case names yet."""
    (root / "snippets/spare.py").write_text((root / "snippets/batch_caps.py").read_text())
    tests = (root / "tests/snippets/test_batch_caps.py").read_text()
    (root / "tests/snippets/test_spare.py").write_text(tests.replace("batch_caps", "spare"))
    spare = (root / "data/patterns/batch-caps.yml").read_text()
    (root / "data/patterns/spare.yml").write_text(
        spare.replace("id: batch-caps", "id: spare")
        .replace("title: Batch caps", "title: Spare")
        .replace("batch_caps.py", "spare.py")
    )


def add_second_use_case(root: Path) -> None:
    """Audit APIs, a second use case that names batch caps, which Ledger APIs names too."""
    (root / "data/use-cases/audits.yml").write_text(
        "id: audits\ntitle: Audit APIs\nreviewed: 2026-05-04\n"
        "distinctive: Every change is kept.\n"
        "patterns:\n  - pattern: batch-caps\n    why: Exports are capped.\n"
    )
    overview = root / "data/overview.yml"
    overview.write_text(overview.read_text().replace("[ledgers]", "[ledgers, audits]"))


def test_nav_lists_each_pattern_under_every_use_case_that_names_it(root: Path):
    add_spare_pattern(root)
    add_second_use_case(root)
    assert nav(load_catalog(root, date(2026, 11, 25))) == {
        "use-cases/": ["use-cases/index.md", "use-cases/ledgers.md", "use-cases/audits.md"],
        "patterns/": [
            "patterns/index.md",
            {"Ledger APIs": ["patterns/retry-safety.md", "patterns/batch-caps.md"]},
            {"Audit APIs": ["patterns/batch-caps.md"]},
            {"Not yet in a use case": ["patterns/spare.md"]},
        ],
    }


def test_nav_sections_never_exceed_the_fanout(root: Path):
    add_spare_pattern(root)
    use_case = root / "data/use-cases/ledgers.yml"
    use_case.write_text(use_case.read_text() + "  - pattern: spare\n    why: Spare.\n")
    assert nav(load_catalog(root, date(2026, 11, 25)), fanout=2)["patterns/"] == [
        "patterns/index.md",
        {
            "Ledger APIs": [
                {
                    "Retry safety – Batch caps": [
                        "patterns/retry-safety.md",
                        "patterns/batch-caps.md",
                    ]
                },
                {"Spare – Spare": ["patterns/spare.md"]},
            ]
        },
    ]


def test_a_long_pip_install_continues_on_a_second_line_within_the_code_width():
    pins = [f"package-{n}==1.{n}.0" for n in range(12)]
    command = pip_install(pins)
    lines = command.split("\n")
    assert len(lines) > 1
    assert all(len(line) <= CODE_COLUMNS for line in lines)
    assert all(line.endswith(" \\") for line in lines[:-1])
    assert command.replace(" \\\n   ", "") == "pip install " + " ".join(pins)
