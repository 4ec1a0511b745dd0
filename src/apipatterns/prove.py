"""`make prove`: every rule's proof passes on the snippet and fails on the snippet broken.

For each rule with a `breaks` edit, a copy of `snippets/` gets the edit, and the rule's proof
runs with that copy first on the import path; the mutant is killed when the proof fails.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from os import cpu_count
from pathlib import Path

from .catalog import Catalog
from .model import Pattern, Rule
from .rules import apply_breaks

TIMEOUT = 120  # seconds for one pytest run; a mutant that hangs its proof is killed by it


@dataclass(frozen=True)
class Outcome:
    """What one pytest run of a rule's proof did."""

    pattern: str
    rule: str
    mutant: bool
    failed: bool
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        """A proof passes on the real snippet and fails on the mutant."""
        return self.failed if self.mutant else not self.failed


def run_proof(
    root: Path, snippets: Path, proof: str, timeout: float = TIMEOUT
) -> tuple[bool, float, str]:
    """Run one proof with `snippets` first on the path: (failed, seconds, output)."""
    command = [
        sys.executable, "-m", "pytest", proof, "-q", "-x", "-p", "no:cacheprovider",
        "-p", "no:randomly", "-o", f"pythonpath={snippets} src tests",
        "-o", f"timeout={int(timeout)}", "--rootdir", str(root),
    ]  # fmt: skip
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=root, capture_output=True, text=True, timeout=timeout + 30
        )
        failed, output = done.returncode != 0, done.stdout[-2000:] + done.stderr[-2000:]
    except subprocess.TimeoutExpired:
        failed, output = True, "timed out"
    return failed, time.perf_counter() - start, output


def _mutant(root: Path, pattern: Pattern, rule: Rule) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        snippets = Path(tmp) / "snippets"
        shutil.copytree(root / "snippets", snippets)
        path = root / pattern.snippet
        target = snippets / path.name
        target.write_text(apply_breaks(path.read_text(encoding="utf-8"), rule.breaks))
        failed, seconds, output = run_proof(root, snippets, rule.proof)
    return Outcome(pattern.id, rule.id, True, failed, seconds, output)


def _original(root: Path, pattern: Pattern, rule: Rule) -> Outcome:
    failed, seconds, output = run_proof(root, root / "snippets", rule.proof)
    return Outcome(pattern.id, rule.id, False, failed, seconds, output)


def prove(catalog: Catalog, root: Path, only: Iterable[str] = ()) -> list[Outcome]:
    """Run every proof on the real snippets and every mutant, on all cores."""
    chosen = set(only)
    jobs = []
    for pattern in catalog.patterns.values():
        if chosen and pattern.id not in chosen:
            continue
        for rule in pattern.rules:
            if rule.proof:
                jobs.append((_original, pattern, rule))
            if rule.proof and rule.breaks:
                jobs.append((_mutant, pattern, rule))
    with ThreadPoolExecutor(max_workers=cpu_count() or 2) as pool:
        return list(pool.map(lambda job: job[0](root, job[1], job[2]), jobs))


def report(catalog: Catalog, outcomes: list[Outcome], only: Iterable[str] = ()) -> tuple[str, bool]:
    """One line per run and a total; True when every proof passed and every mutant died."""
    lines = []
    for o in outcomes:
        verdict = (
            ("killed" if o.failed else "SURVIVED")
            if o.mutant
            else ("FAILED" if o.failed else "passes")
        )
        kind = "mutant" if o.mutant else "proof "
        lines.append(f"{verdict:8} {kind} {o.pattern}#rule-{o.rule} ({o.seconds:.1f} s)")
        if not o.ok:
            lines.append("    " + o.output.strip().replace("\n", "\n    "))
    chosen = set(only)
    rules = [r for p in catalog.patterns.values() if not chosen or p.id in chosen for r in p.rules]
    proofs = [o for o in outcomes if not o.mutant]
    mutants = [o for o in outcomes if o.mutant]
    killed = sum(o.failed for o in mutants)
    lines.append(
        f"rules {len(rules)}, proofs {len(proofs)} ({sum(o.ok for o in proofs)} pass), "
        f"mutants killed {killed}/{len(mutants)}"
    )
    return "\n".join(lines), all(o.ok for o in outcomes)
