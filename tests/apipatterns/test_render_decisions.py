"""The sections a design review decides from, each in its fixed place on a pattern page."""

from datetime import date
from pathlib import Path

from apipatterns.catalog import load_catalog
from apipatterns.render import render_pattern


def test_decision_sections_stand_in_their_fixed_places(root: Path):
    page = render_pattern(load_catalog(root, date(2026, 11, 25)), "retry-safety")
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
    assert (
        "| The write is naturally idempotent | A `PUT` to a client-chosen URL | Repeating it "
        "cannot create a second effect. |"
    ) in page
    assert "- [Stripe](https://docs.stripe.com/api/idempotent_requests): Keys expire" in page


def test_reference_implementation_links_its_snippet_and_its_tests(root: Path):
    (root / "tests/snippets/test_retry_safety_load.py").write_text("def test_x():\n    pass\n")
    page = render_pattern(load_catalog(root, date(2026, 11, 25)), "retry-safety")
    blob = "https://github.com/api-patterns/api-patterns/blob/main/"
    assert (
        f"Source: [`snippets/retry_safety.py`]({blob}snippets/retry_safety.py) · "
        f"[`tests/snippets/test_retry_safety.py`]({blob}tests/snippets/test_retry_safety.py) · "
        f"[`tests/snippets/test_retry_safety_load.py`]"
        f"({blob}tests/snippets/test_retry_safety_load.py)"
    ) in page
