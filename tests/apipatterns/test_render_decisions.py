"""The sections a design review decides from, each in its fixed place on a pattern page."""

from datetime import date
from pathlib import Path

from apipatterns.catalog import load_catalog
from apipatterns.render import render_pattern


def test_decision_sections_render_their_tables_and_links(root: Path):
    page = render_pattern(load_catalog(root, date(2026, 11, 25)), "retry-safety")
    assert page.index("## Reference implementation") < page.index("## When not to use it")
    assert page.index("## At scale") < page.index("## Pitfalls") < page.index("## How others do it")
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
