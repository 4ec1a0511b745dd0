import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_examples import EvalExample

ROOT = Path(__file__).resolve().parent.parent

# MkDocs 1.6 prints a banner about its future on every build; it is noise in test output.
os.environ.setdefault("DISABLE_MKDOCS_2_WARNING", "true")
os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")


@pytest.fixture
def examples(eval_example: EvalExample) -> EvalExample:
    """pytest-examples configured the one way every site code block is checked."""
    eval_example.set_config(
        line_length=88, quotes="double", target_version="py311", isort=True, upgrade=True
    )
    return eval_example


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole site, built once per test run in strict mode, as `make build` builds it."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"strict build failed:\n{result.stderr}"
    return out


# The fixture catalog's own tests run only inside the `make prove` tests, against its snippets.
collect_ignore_glob = ["fixtures/*"]
