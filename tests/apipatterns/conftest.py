import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "catalog"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A writable copy of the small fixture catalog."""
    shutil.copytree(FIXTURE, tmp_path / "catalog")
    return tmp_path / "catalog"
