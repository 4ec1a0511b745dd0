"""Bad rules are reported like every other problem: one line each, all at once."""

from pathlib import Path

import pytest
from catalog_problems import PATTERN, edit, problems


def test_duplicate_rule_id(root: Path):
    edit(root, PATTERN, "- id: create-new-keys", "- id: replay-seen-keys")
    assert problems(root) == [
        f"{PATTERN}:36: rules[1].id: 'replay-seen-keys' is already a rule of this pattern; "
        "rename it"
    ]


def test_unknown_level(root: Path):
    edit(root, PATTERN, "level: SHOULD", "level: OUGHT TO")
    assert problems(root) == [
        f"{PATTERN}:41: rules[2].level: Input should be 'MUST', 'MUST NOT', 'SHOULD', "
        "'SHOULD NOT' or 'MAY', got str 'OUGHT TO'"
    ]


def test_must_without_a_proof(root: Path):
    edit(
        root,
        PATTERN,
        "    proof: tests/snippets/test_retry_safety.py::test_a_new_key_is_created\n",
        "",
    )
    assert problems(root) == [
        f"{PATTERN}:36: rules[1]: a MUST rule needs a `proof`: the pytest node id of the test "
        "that proves it"
    ]


@pytest.mark.parametrize(
    ("proof", "message"),
    [
        (
            "tests/snippets/test_retry.py::test_a_new_key_is_created",
            "tests/snippets/test_retry.py does not exist or is not valid Python; fix the path",
        ),
        (
            "tests/snippets/test_retry_safety.py::test_a_fresh_key",
            "tests/snippets/test_retry_safety.py has no test function 'test_a_fresh_key'; "
            "fix the name",
        ),
        (
            "tests/snippets/test_retry_safety.py::check_new_key",
            "'check_new_key' is not a test: pytest collects only functions named test*",
        ),
        (
            "test_retry_safety.py::test_a_new_key_is_created",
            "'test_retry_safety.py::test_a_new_key_is_created' must be a pytest node id like "
            "`tests/snippets/test_x.py::test_y`",
        ),
    ],
)
def test_proof_that_names_no_test(root: Path, proof: str, message: str):
    edit(root, PATTERN, "tests/snippets/test_retry_safety.py::test_a_new_key_is_created", proof)
    assert problems(root) == [f"{PATTERN}:39: rules[1].proof: {message}"]


@pytest.mark.parametrize(
    ("find", "message"),
    [
        ('"if key in sen:"', "'if key in sen:' does not occur in snippets/retry_safety.py"),
        ('"seen"', "'seen' occurs 3 times in snippets/retry_safety.py"),
    ],
)
def test_breaks_that_does_not_occur_exactly_once(root: Path, find: str, message: str):
    edit(root, PATTERN, '"if key in seen:"', find)
    assert problems(root) == [
        f"{PATTERN}:34: rules[0].breaks.find: {message}; it must occur exactly once"
    ]


def test_breaks_that_leaves_invalid_python(root: Path):
    edit(root, PATTERN, 'replace: "if key in ():"', 'replace: "if key in ("')
    assert problems(root) == [
        f"{PATTERN}:34: rules[0].breaks.find: the edit leaves snippets/retry_safety.py invalid "
        "Python ('(' was never closed); break the rule, not the syntax"
    ]
