"""The recorder flags every way an error response can break the contract."""

import json

import pytest
from problem_recorder import Contract, Sent, violations

from apipatterns.model import ProblemTypes

CONTRACT = Contract(
    ProblemTypes.model_validate(
        {
            "types": [
                {
                    "slug": "rate-limited",
                    "status": 429,
                    "title": "Too many requests",
                    "retryable": True,
                    "action": "retry-after",
                    "description": "Slow down.",
                    "patterns": ["rate-limiting"],
                },
                {
                    "slug": "unauthorized",
                    "status": 401,
                    "title": "Unauthorized",
                    "retryable": False,
                    "action": "reauthenticate",
                    "description": "Log in.",
                    "patterns": ["rate-limiting"],
                },
            ],
            "exceptions": [
                {
                    "pattern": "oauth",
                    "path": "/token",
                    "format": "oauth-error",
                    "standard": "RFC 6749 §5.2",
                }
            ],
        }
    ),  # fmt: skip
    {"rate_limiting": "rate-limiting", "oauth_snippet": "oauth"},
)
SLOW = "https://api.example.com/problems/slow"
NO_PROBLEM = "application/json body, not application/problem+json"
UNLISTED = "rate-limited is sent by other_snippet, which its registry entry does not list"
LIMITED = {
    "type": "https://api.example.com/problems/rate-limited",
    "title": "Too many requests",
    "status": 429,
    "detail": "Slow down.",
    "retryable": True,
}


def sent(status=429, body=LIMITED, module="rate_limiting", path="/v1/x", **headers) -> Sent:
    headers = {"content-type": "application/problem+json", **headers}
    return Sent(module, "GET", path, status, list(headers.items()), json.dumps(body).encode())


def retry_decider(response):
    return ("retry" if response.json().get("retryable") else "final", 0.0)


def test_a_problem_that_keeps_the_contract_passes():
    assert violations(sent(), CONTRACT, retry_decider) == []
    assert violations(sent(200, {"ok": True}), CONTRACT) == []


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (sent(**{"content-type": "application/json"}), NO_PROBLEM),
        (sent(body={**LIMITED, "type": SLOW}), f"type {SLOW!r} is not in data/problem-types.yml"),
        (
            sent(body={**LIMITED, "type": "about:blank"}),
            "type 'about:blank' is not in data/problem-types.yml",
        ),
        (sent(503), "rate-limited is 429 in the registry, sent as 503 with status 429"),
        (
            sent(body={**LIMITED, "title": "Slow down"}),
            "title 'Slow down', the registry's is 'Too many requests'",
        ),
        (
            sent(body={k: v for k, v in LIMITED.items() if k != "retryable"}),
            "retryable None, the registry's is True",
        ),
        (sent(module="other_snippet"), UNLISTED),
        (sent(body=["not", "an", "object"]), "the body is not a JSON object"),
    ],
)
def test_each_breach_is_named(response: Sent, message: str):
    found = violations(response, CONTRACT)
    assert [v.split(" -> ")[1].split(": ", 1)[1] for v in found] == [message]


def test_a_401_needs_www_authenticate():
    body = {**LIMITED, "type": "https://api.example.com/problems/unauthorized", "status": 401,
            "title": "Unauthorized", "retryable": False}  # fmt: skip
    assert violations(sent(401, body), CONTRACT) == [
        "rate-limiting: GET /v1/x -> 401: a 401 without WWW-Authenticate (RFC 9110 §15.5.2)"
    ]
    assert violations(sent(401, body, **{"www-authenticate": 'Bearer realm="api"'}), CONTRACT) == []


def test_a_429_the_guides_client_would_not_retry_is_flagged():
    never = lambda response: ("final", 0.0)  # noqa: E731
    assert violations(sent(), CONTRACT, never) == [
        "rate-limiting: GET /v1/x -> 429: the error guide's decide() says 'final', the registry "
        "'retry'"
    ]


def test_protocol_exceptions_are_held_to_their_protocol():
    oauth = {"module": "oauth_snippet", "path": "/token"}
    assert violations(sent(400, {"error": "invalid_grant"}, **oauth), CONTRACT) == []
    assert violations(sent(400, {"detail": "no"}, **oauth), CONTRACT) == [
        'oauth: GET /token -> 400: an OAuth error without an {"error": "<code>"} body '
        "(RFC 6749 §5.2)"
    ]
