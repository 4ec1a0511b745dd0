"""Problem details: media type, exact bodies, and a client that decides from fields alone."""

import error_envelopes as snippet
import httpx
import pytest

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
# What each documented type must make a client do, written independently of the snippet.
EXPECTED = {
    "card-declined": ("final", 0.0),
    "invalid-request": ("final", 0.0),
    "rate-limited": ("retry", 10.0),
    "gateway-timeout": ("retry", 2.0),
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def charge(json):
    transport = httpx.ASGITransport(app=snippet.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post("/v1/charges", json=json)


def as_httpx(response) -> httpx.Response:
    return httpx.Response(
        response.status_code, headers=response.headers.items(), content=response.body
    )


def response(status, content_type, body: bytes, **headers):
    return httpx.Response(status, headers={"content-type": content_type, **headers}, content=body)


async def test_card_declined_is_a_final_problem():
    declined = await charge({"amount": 500, "source": "tok_chargeDeclined"})
    assert declined.status_code == 402
    assert declined.headers["content-type"] == PROBLEM
    assert "retry-after" not in declined.headers
    assert declined.json() == {
        "type": "https://api.example.com/problems/card-declined",
        "title": "Card declined",
        "status": 402,
        "detail": "The card issuer declined the payment.",
        "retryable": False,
        "decline_code": "insufficient_funds",
    }
    assert snippet.decide(declined) == ("final", 0.0)


async def test_gateway_timeout_is_a_retryable_problem_with_retry_after():
    timeout = await charge({"amount": 500, "source": "tok_gatewayTimeout"})
    assert timeout.status_code == 503
    assert timeout.headers["content-type"] == PROBLEM
    assert timeout.headers["retry-after"] == "2"
    assert timeout.json() == {
        "type": "https://api.example.com/problems/gateway-timeout",
        "title": "Payment gateway timeout",
        "status": 503,
        "detail": "The card network did not answer in time; nothing was charged.",
        "retryable": True,
    }
    assert snippet.decide(timeout) == ("retry", 2.0)


async def test_validation_errors_use_the_envelope_with_json_pointers():
    invalid = await charge({"amount": "five", "source": 7})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == PROBLEM
    body = invalid.json()
    assert (body["type"], body["retryable"]) == (
        "https://api.example.com/problems/invalid-request",
        False,
    )
    assert [e["pointer"] for e in body["errors"]] == ["#/amount", "#/source"]
    assert snippet.decide(invalid) == ("final", 0.0)


async def test_success_is_done():
    ok = await charge({"amount": 500, "source": "tok_visa"})
    assert (ok.status_code, snippet.decide(ok)) == (201, ("done", 0.0))


@pytest.mark.parametrize("kind", snippet.PROBLEM_TYPES, ids=lambda k: k["type"])
def test_every_documented_type_is_problem_json_and_decided_from_fields(kind):
    built = as_httpx(snippet.problem(kind["type"], "Title", "Detail"))
    assert built.headers["content-type"] == PROBLEM
    assert built.status_code == kind["status"]
    assert built.json()["retryable"] is kind["retryable"]
    assert snippet.decide(built) == EXPECTED[kind["type"]]
    assert set(EXPECTED) == {k["type"] for k in snippet.PROBLEM_TYPES}


@pytest.mark.parametrize("kind", snippet.PROBLEM_TYPES, ids=lambda k: k["type"])
def test_prose_never_changes_the_decision(kind):
    misleading = [
        ("Please retry", "Temporary error, try again in a moment."),
        ("Permanent failure", "Do not retry this request."),
    ]
    for title, detail in misleading:
        built = as_httpx(snippet.problem(kind["type"], title, detail))
        assert snippet.decide(built) == EXPECTED[kind["type"]]


@pytest.mark.parametrize(
    "unknown",
    [
        response(502, "text/html", b"<html>Bad Gateway</html>"),
        response(500, "text/plain", b"Internal Server Error"),
        response(503, "application/json", b'{"retryable": true}', **{"retry-after": "1"}),
        response(500, PROBLEM, b'{"type": "about:blank", "status": 500}'),
        response(500, PROBLEM, b'{"type": "about:blank", "retryable": "true"}'),
        response(500, PROBLEM, b'{"type": "about:blank", "retryable": 1}'),
        response(500, PROBLEM, b"not json"),
        response(500, PROBLEM, b"[true]"),
    ],
    ids=["html", "text", "plain-json", "no-member", "string", "int", "garbage", "list"],
)
def test_unknown_errors_default_to_final(unknown):
    assert snippet.decide(unknown) == ("final", 0.0)


def test_a_new_retryable_type_is_retried_without_a_client_update():
    body = b'{"type": "https://api.example.com/problems/ledger-busy", "retryable": true}'
    assert snippet.decide(response(409, PROBLEM, body, **{"retry-after": "7"})) == ("retry", 7.0)
    assert snippet.decide(response(409, f"{PROBLEM}; charset=utf-8", body)) == (
        "retry",
        float(snippet.DEFAULT_RETRY_SECONDS),
    )
    dated = response(409, PROBLEM, body, **{"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert snippet.decide(dated) == ("retry", 5.0)
