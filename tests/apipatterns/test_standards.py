"""Citations stay current: a stale `checked` date or a draft without its status is a problem."""

from datetime import date
from pathlib import Path

import pytest
from catalog_problems import PATTERN, TODAY, edit, problems

from apipatterns.catalog import load_catalog
from apipatterns.model import Standard
from apipatterns.standards import citation


def cite(root: Path, name: str = "RFC 9110", extra: str = "") -> None:
    """The fixture's one citation, under `name`, checked on 2026-11-20, with `extra` lines."""
    edit(root, PATTERN, "  - name: RFC 9110\n", f"  - name: {name}\n")
    edit(root, PATTERN, "    checked: 2026-11-01\n", "    checked: 2026-11-20\n" + extra)


def test_a_recent_check_is_valid(root: Path):
    cite(root)
    edit(root, PATTERN, "checked: 2026-11-20", "checked: 2025-11-26")
    assert load_catalog(root, TODAY).patterns["retry-safety"].standards[0].revision == "RFC 9110"


def test_a_check_older_than_twelve_months(root: Path):
    cite(root)
    edit(root, PATTERN, "checked: 2026-11-20", "checked: 2025-11-24")
    assert problems(root) == [
        f"{PATTERN}:24: standards[0].checked: 2025-11-24 is more than 12 months ago; check the "
        "citation against its publisher and update `checked`"
    ]


def test_a_draft_without_its_status(root: Path):
    cite(root, "draft-ietf-httpapi-idempotency-key-header")
    assert problems(root) == [
        f"{PATTERN}:20: standards[0].draft: an Internet-Draft needs `draft: active` or "
        "`draft: expired`, as the IETF datatracker shows it on the `checked` date"
    ]


def test_a_draft_status_on_something_that_is_no_draft(root: Path):
    cite(root, extra="    draft: active\n")
    assert problems(root) == [
        f"{PATTERN}:25: standards[0].draft: only an Internet-Draft (a name starting `draft-`) "
        "has a draft status; remove it"
    ]


@pytest.mark.parametrize(
    ("name", "revision", "draft", "expected"),
    [
        ("RFC 9110", "RFC 9110", None, "- [RFC 9110](https://x.org/): *T*. Checked on 1 May 2026."),
        (
            "RFC 9110 §8.8",
            "RFC 9110",
            None,
            "- [RFC 9110 §8.8](https://x.org/): *T*. Checked on 1 May 2026.",
        ),
        (
            "RFC 9110 §9.2.2",
            "RFC 9110 (June 2022)",
            None,
            "- [RFC 9110 §9.2.2](https://x.org/): *T*. Revision cited: RFC 9110 (June 2022). "
            "Checked on 1 May 2026.",
        ),
        (
            "draft-ietf-httpapi-ratelimit-headers",
            "-10",
            "active",
            "- [draft-ietf-httpapi-ratelimit-headers-10](https://x.org/): *T*. An Internet-Draft, "
            "work in progress (active when checked). Checked on 1 May 2026.",
        ),
    ],
)
def test_a_citation_names_the_revision_once(name, revision, draft, expected):
    standard = Standard(
        name=name,
        title="T",
        url="https://x.org/",
        revision=revision,
        checked=date(2026, 5, 1),
        draft=draft,
    )
    assert citation(standard) == expected
