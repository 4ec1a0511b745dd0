"""Citations stay current: a stale `checked` date or a draft without its status is a problem."""

from pathlib import Path

from catalog_problems import PATTERN, TODAY, edit, problems

from apipatterns.catalog import load_catalog

CITED = """    url: https://www.rfc-editor.org/rfc/rfc9110
    revision: RFC 9110
    checked: 2026-11-20
"""


def cite(root: Path, name: str = "RFC 9110", extra: str = "") -> None:
    edit(root, PATTERN, "  - name: RFC 9110\n", f"  - name: {name}\n")
    edit(root, PATTERN, "    url: https://www.rfc-editor.org/rfc/rfc9110\n", CITED + extra)


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
