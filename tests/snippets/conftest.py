"""Every behaviour test runs with the problem-type recorder on (see `problem_recorder`)."""

import json

import pytest
from problem_recorder import SENT, Contract, install, violations

install()
CONTRACT = Contract.load()
FOUND: list[str] = []


@pytest.fixture(autouse=True)
def _problem_recorder():
    """Fail a test whose snippet app sent an error response that breaks the contract."""
    from error_envelopes import decide  # the error guide's client, as the site prints it

    start = len(SENT)
    yield
    found = [v for sent in SENT[start:] for v in violations(sent, CONTRACT, decide)]
    FOUND.extend(found)
    if found:
        pytest.fail("responses that break the site's error contract:\n" + "\n".join(found))


def pytest_terminal_summary(terminalreporter):
    errors = [s for s in SENT if s.status >= 400]
    types = set()
    for sent in errors:
        try:
            types.add(json.loads(sent.body)["type"])
        except (ValueError, KeyError, TypeError):
            pass
    terminalreporter.write_line(
        f"problem-type recorder: {len(SENT)} responses from snippet apps, {len(errors)} errors, "
        f"{len(types)} distinct problem types, {len(FOUND)} violations"
    )
