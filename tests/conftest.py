import os
import subprocess
import sys
from collections.abc import Callable
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


GENERATORS = ["mkdocs", "zensical"]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Build the whole site once per run with a generator, strict, as make builds it."""
    sites: dict[str, Path] = {}

    def build(generator: str) -> Path:
        if generator not in sites:
            sites[generator] = _build(generator, tmp_path_factory.mktemp(f"site-{generator}"))
        return sites[generator]

    return build


@pytest.fixture(scope="session", params=GENERATORS)
def site(request: pytest.FixtureRequest, built: Callable[[str], Path]) -> Path:
    """The built site: Material for MkDocs (`make build`) and Zensical (`make build-zensical`)
    build the same content, and every test of the built site runs against both."""
    return built(request.param)


def _build(generator: str, out: Path) -> Path:
    if generator == "mkdocs":
        commands = [[sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)]]
    else:
        stage, out = out / "stage", out / "stage" / "site"
        zensical = str(Path(sys.executable).with_name("zensical"))
        commands = [
            [sys.executable, "-m", "apipatterns.cli", "stage", str(stage)],
            [zensical, "build", "--strict", "-f", str(stage / "mkdocs.yml")],
            [sys.executable, "-m", "apipatterns.cli", "feeds", str(out)],
        ]
    for command in commands:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"strict {generator} build failed:\n{result.stderr}"
    return out


# The fixture catalog's own tests run only inside the `make prove` tests, against its snippets.
collect_ignore_glob = ["fixtures/*"]
