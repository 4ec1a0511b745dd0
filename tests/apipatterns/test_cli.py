"""`apipatterns check | export | new | feeds`, as a contributor and the build run them."""

import json
import subprocess
import sys
from pathlib import Path

from apipatterns.export import catalog_schema_json

ROOT = Path(__file__).resolve().parents[2]


def run(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apipatterns.cli", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_passes_on_a_valid_catalog(root: Path):
    result = run(root, "check")
    assert (result.returncode, result.stdout) == (0, "catalog OK: 1 use case(s), 2 pattern(s)\n")


def test_check_prints_one_line_per_problem_and_no_traceback(root: Path):
    (root / "snippets/batch_caps.py").unlink()
    use_case = root / "data/use-cases/ledgers.yml"
    use_case.write_text(use_case.read_text().replace("title: Ledger APIs\n", ""))
    result = run(root, "check")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "data/patterns/batch-caps.yml:12: snippet: snippets/batch_caps.py does not exist; "
        "create it or fix the path",
        "data/use-cases/ledgers.yml:1: title: is required but missing; add it",
        "2 problem(s) in the catalog; nothing was built.",
    ]


def test_export_catalog_is_json_with_stable_urls(root: Path):
    data = json.loads(run(root, "export", "catalog").stdout)
    assert [p["url"] for p in data["patterns"]] == [
        "/patterns/retry-safety/",
        "/patterns/batch-caps/",
    ]


def test_committed_schema_is_current():
    committed = (ROOT / "data/catalog.schema.json").read_text()
    assert committed == catalog_schema_json(), (
        "run: .venv/bin/apipatterns export schema > data/catalog.schema.json"
    )


def test_new_pattern_scaffold_passes_check_and_prove(root: Path):
    result = run(root, "new", "pattern", "request-hedging", "--title", "Request hedging")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "wrote data/patterns/request-hedging.yml",
        "wrote snippets/request_hedging.py",
        "wrote tests/snippets/test_request_hedging.py",
        "catalog OK: 1 use case(s), 3 pattern(s)",
    ]
    proved = run(root, "prove", "request-hedging")
    assert proved.returncode == 0, proved.stdout + proved.stderr
    assert proved.stdout.splitlines()[-1] == "rules 3, proofs 1 (1 pass), mutants killed 1/1"


def test_new_pattern_refuses_a_bad_or_taken_id(root: Path):
    assert run(root, "new", "pattern", "Request_Hedging").stderr.startswith(
        "data/patterns:1: id: 'Request_Hedging' is not a valid id"
    )
    result = run(root, "new", "pattern", "retry-safety")
    assert result.returncode == 1
    assert (
        "data/patterns/retry-safety.yml:1: file: already exists; pick another id" in result.stderr
    )


def test_feeds_corrects_a_built_sites_rss_in_place(root: Path, tmp_path: Path):
    feed = tmp_path / "feed_rss_created.xml"
    feed.write_text(
        '<rss version="2.0"><channel><item><author>Mira</author></item></channel></rss>'
    )
    result = run(root, "feeds", str(tmp_path))
    assert (result.returncode, result.stdout) == (0, f"corrected {feed}\n")
    assert "<dc:creator>Mira</dc:creator>" in feed.read_text()
    assert run(root, "feeds", str(tmp_path)).stdout == ""  # already correct: untouched
