"""The project's own Python passes ruff, with the settings in pyproject.toml: lint everywhere,
formatting everywhere but the fixture snippets, whose `#>` output lines the formatter would
rewrite. (pytest-examples lints and formats every page's snippet, in test_examples.py.)"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_ruff_finds_nothing_to_lint():
    result = _ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_core_and_the_tests_are_formatted():
    result = _ruff("format", "--check", "src", "tests", "--exclude", "tests/fixtures")
    assert result.returncode == 0, result.stdout + result.stderr
