"""`make prove`: a proof must pass on the snippet and fail on the snippet broken."""

from datetime import date
from pathlib import Path

from catalog_problems import PATTERN, edit

from apipatterns.catalog import load_catalog
from apipatterns.prove import prove, report


def test_every_proof_passes_and_every_mutant_is_killed(root: Path):
    catalog = load_catalog(root, date(2026, 11, 25))
    outcomes = prove(catalog, root)
    assert sorted((o.rule, o.mutant, o.failed) for o in outcomes) == [
        ("accept-up-to-the-cap", False, False),
        ("create-new-keys", False, False),
        ("refuse-oversized-batches", False, False),
        ("refuse-oversized-batches", True, True),
        ("replay-seen-keys", False, False),
        ("replay-seen-keys", True, True),
    ]
    text, ok = report(catalog, outcomes)
    assert ok
    assert text.splitlines()[-1] == "rules 6, proofs 4 (4 pass), mutants killed 2/2"


def test_a_mutant_the_proof_does_not_notice_fails_the_run(root: Path):
    edit(root, PATTERN, 'replace: "if key in ():"', 'replace: "if key in seen or False:"')
    catalog = load_catalog(root, date(2026, 11, 25))
    outcomes = prove(catalog, root, ["retry-safety"])
    text, ok = report(catalog, outcomes, ["retry-safety"])
    assert not ok
    assert "SURVIVED mutant retry-safety#rule-replay-seen-keys" in text
    assert text.splitlines()[-1] == "rules 3, proofs 2 (2 pass), mutants killed 0/1"
