"""Every behaviour test runs with the problem-type recorder on (see `problem_recorder`)."""

import json

import pytest
from problem_recorder import SENT, Contract, install, violations

install()
CONTRACT = Contract.load()
FOUND: list[str] = []
# Patterns still being brought to the contract: their violations are counted, not failed.
PENDING: set[str] = {
    "api-key-registration", "async-jobs", "batch-size-limits", "compact-responses",
    "cursor-pagination", "documented-sort-and-filter", "error-envelopes", "freshness-contract",
    "grpc-or-rest", "http-caching", "idempotency-keys", "oauth-delegated-access",
    "per-item-status", "query-timeouts", "rate-limiting", "refresh-tokens", "resumable-uploads",
    "rich-query-parameters", "sandbox-environments", "screen-shaped-responses",
    "signed-webhooks", "test-and-live-keys", "versioning-and-deprecation",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _problem_recorder():
    """Fail a test whose snippet app sent an error response that breaks the contract."""
    from error_envelopes import decide  # the error guide's client, as the site prints it

    start = len(SENT)
    yield
    found = [v for sent in SENT[start:] for v in violations(sent, CONTRACT, decide)]
    FOUND.extend(found)
    failing = [v for v in found if v.split(":")[0] not in PENDING]
    if failing:
        pytest.fail("responses that break the site's error contract:\n" + "\n".join(failing))


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
    pending = sorted({v for v in FOUND if v.split(":")[0] in PENDING})
    if pending:
        terminalreporter.write_line(
            "violations of PENDING patterns (tests/snippets/conftest.py), counted but not yet "
            "failing; take a pattern out of PENDING once it has none:\n  " + "\n  ".join(pending)
        )
