"""Problem details: media type, exact bodies, and a client that decides from fields alone."""

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import error_envelopes as snippet
import httpx
import jsonpointer
import pytest
import uvicorn
import yaml
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.http import parse_date

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
KEY = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
REGISTRY = {
    t["slug"]: t
    for t in yaml.safe_load((Path(__file__).parents[2] / "data" / "problem-types.yml").read_text())[
        "types"
    ]
}


def boom():
    raise RuntimeError("secret internals: db01.internal")


if not any(getattr(r, "path", "") == "/test-only/boom" for r in snippet.app.routes):
    snippet.app.add_api_route("/test-only/boom", boom)


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def send(method="POST", url="/v1/charges", **kwargs):
    transport = httpx.ASGITransport(app=snippet.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.request(method, url, **kwargs)


def charge(json, headers=KEY):
    return send(json=json, headers=headers)


def as_httpx(response) -> httpx.Response:
    return httpx.Response(
        response.status_code, headers=response.headers.items(), content=response.body
    )


class FakeRequest:
    class state:
        id = "req_test"


def built(slug, detail="Detail"):
    return as_httpx(snippet.problem(FakeRequest, slug, detail))


def response(status, content_type, body: bytes, **headers):
    return httpx.Response(status, headers={"content-type": content_type, **headers}, content=body)


def without_instance(body):
    assert body.pop("instance").startswith("/requests/req_")
    return body


async def test_card_declined_is_a_final_problem():
    declined = await charge({"amount": 500, "source": "tok_chargeDeclined"})
    assert declined.status_code == 402
    assert declined.headers["content-type"] == PROBLEM
    assert "retry-after" not in declined.headers
    assert without_instance(declined.json()) == {
        "type": PROBLEMS + "card-declined",
        "title": "Card declined",
        "status": 402,
        "detail": "The card issuer declined the payment.",
        "retryable": False,
        "decline_code": "stolen_card",
        "decline_category": "hard",
    }
    assert snippet.decide(declined, NOW) == ("final", 0.0)


async def test_a_charge_that_needs_strong_customer_authentication_is_final():
    sca = await charge({"amount": 500, "source": "tok_authenticationRequired"})
    assert sca.status_code == 402
    body = sca.json()
    assert (body["decline_code"], body["decline_category"]) == ("authentication_required", "sca")
    assert snippet.decide(sca, NOW) == ("final", 0.0)


async def test_a_gateway_timeout_is_a_504_whose_outcome_is_unknown():
    timeout = await charge({"amount": 500, "source": "tok_gatewayTimeout"})
    assert timeout.status_code == 504
    assert timeout.headers["content-type"] == PROBLEM
    assert timeout.headers["retry-after"] == "2"
    body = without_instance(timeout.json())
    assert body == {
        "type": PROBLEMS + "gateway-timeout",
        "title": "Gateway timeout",
        "status": 504,
        "detail": "Outcome unknown; retry with the same Idempotency-Key.",
        "retryable": True,
    }
    assert "nothing was charged" not in body["detail"].lower()
    assert snippet.decide(timeout, NOW) == ("retry", 2.0)


async def test_a_processor_that_refused_the_connection_is_a_503():
    down = await charge({"amount": 500, "source": "tok_processorDown"})
    assert (down.status_code, down.json()["type"]) == (503, PROBLEMS + "service-unavailable")
    assert snippet.decide(down, NOW) == ("retry", 2.0)


async def test_validation_errors_use_plain_json_pointers():
    invalid = await charge({"amount": "five", "source": 7})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == PROBLEM
    body = invalid.json()
    assert (body["type"], body["retryable"]) == (PROBLEMS + "invalid-request", False)
    assert [e["pointer"] for e in body["errors"]] == ["/amount", "/source"]
    assert snippet.decide(invalid, NOW) == ("final", 0.0)


async def test_pointer_tokens_are_escaped():
    invalid = await charge({"amount": 1, "source": "tok_visa", "a/b~c": 1})
    assert [e["pointer"] for e in invalid.json()["errors"]] == ["/a~1b~0c"]
    body = {"amount": 1, "source": "tok_visa", "a/b~c": 1}
    assert jsonpointer.resolve_pointer(body, "/a~1b~0c") == 1  # an independent reading
    nested = {"type": "int_parsing", "loc": ("body", "items", 3, "x/y"), "msg": ""}
    assert snippet.locate(nested) == {"pointer": "/items/3/x~1y"}


@pytest.mark.parametrize("content", [b"not json", b"\xff\xfe{", b'{"amount": 1'])
async def test_a_body_that_is_not_json_points_at_the_whole_document(content):
    invalid = await send(content=content, headers=KEY | {"content-type": "application/json"})
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["type"] == PROBLEMS + "invalid-request"
    assert [e["pointer"] for e in body.get("errors", [])] in ([], [""])


async def test_query_and_header_problems_name_the_parameter_or_header():
    query = await send("GET", "/v1/charges?limit=abc")
    assert [{k: v for k, v in e.items() if k != "detail"} for e in query.json()["errors"]] == [
        {"parameter": "limit"}
    ]
    header = await charge({"amount": 1, "source": "tok_visa"}, headers={})
    assert [e.get("header") for e in header.json()["errors"]] == ["idempotency-key"]
    assert all("pointer" not in e for e in header.json()["errors"])


@pytest.mark.parametrize(
    "method, url, status, slug",
    [
        ("GET", "/v2/unknown", 404, "not-found"),
        ("DELETE", "/v1/charges", 405, "method-not-allowed"),
        ("GET", "/test-only/boom", 500, "internal-error"),
    ],
)
async def test_framework_and_unexpected_errors_are_problem_details(method, url, status, slug):
    error = await send(method, url)
    assert error.status_code == status
    assert error.headers["content-type"] == PROBLEM
    body = error.json()
    assert (body["type"], body["status"], body["title"]) == (
        PROBLEMS + slug,
        status,
        REGISTRY[slug]["title"],
    )
    assert body["retryable"] is REGISTRY[slug]["retryable"]
    assert "db01" not in error.text and "secret" not in error.text


async def test_a_405_keeps_its_allow_header():
    error = await send("DELETE", "/v1/charges")
    assert "GET" in error.headers["allow"]  # Starlette names the first route's methods


async def test_every_problem_names_its_own_instance():
    one = await send("GET", "/v2/unknown")
    two = await send("GET", "/v2/unknown")
    assert one.json()["instance"] != two.json()["instance"]
    assert one.json()["instance"].startswith("/requests/req_")


async def test_success_is_done():
    ok = await charge({"amount": 500, "source": "tok_visa"})
    assert (ok.status_code, snippet.decide(ok, NOW)) == (201, ("done", 0.0))


def expected(slug):
    """What the registry says a client does, independently of the snippet's table."""
    entry = REGISTRY[slug]
    return ("retry", float(snippet.RETRY_AFTER_SECONDS)) if entry["retryable"] else ("final", 0.0)


@pytest.mark.parametrize("kind", snippet.PROBLEM_TYPES, ids=lambda k: k["type"])
def test_every_documented_type_agrees_with_the_registry(kind):
    slug = kind["type"]
    entry = REGISTRY[slug]
    assert (kind["status"], kind["retryable"]) == (entry["status"], entry["retryable"])
    assert snippet.TITLES[slug] == entry["title"]
    assert "error-envelopes" in entry["patterns"]
    problem = built(slug)
    assert problem.headers["content-type"] == PROBLEM
    assert problem.status_code == entry["status"]
    assert problem.json()["retryable"] is entry["retryable"]
    assert snippet.decide(problem, NOW) == expected(slug)


@pytest.mark.parametrize("kind", snippet.PROBLEM_TYPES, ids=lambda k: k["type"])
def test_prose_never_changes_the_decision(kind):
    for detail in ["Temporary error, try again in a moment.", "Do not retry this request."]:
        assert snippet.decide(built(kind["type"], detail), NOW) == expected(kind["type"])


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
        response(500, PROBLEM, b"\xff\xfe"),
        response(500, PROBLEM, b"[true]"),
    ],
    ids=["html", "text", "plain-json", "no-member", "string", "int", "garbage", "utf8", "list"],
)
def test_unknown_errors_default_to_final(unknown):
    assert snippet.decide(unknown, NOW) == ("final", 0.0)


RETRYABLE = b'{"type": "https://api.example.com/problems/ledger-busy", "retryable": true}'


def retryable(**headers):
    return response(409, PROBLEM, RETRYABLE, **headers)


def test_a_new_retryable_type_is_retried_without_a_client_update():
    assert snippet.decide(retryable(**{"retry-after": "7"}), NOW) == ("retry", 7.0)
    upper = response(409, "Application/Problem+JSON; charset=utf-8", RETRYABLE)
    assert snippet.decide(upper, NOW) == ("retry", float(snippet.DEFAULT_RETRY_SECONDS))


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("120", 120.0),
        ("Wed, 02 Dec 2026 12:00:30 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 02-Dec-26 12:01:00 GMT", 60.0),  # obsolete RFC 850
        ("Wed Dec  2 12:00:05 2026", 5.0),  # obsolete asctime
        ("Wed, 02 Dec 2026 11:00:00 GMT", 0.0),  # in the past: retry now
        ("soon", float(snippet.DEFAULT_RETRY_SECONDS)),
        ("-5", float(snippet.DEFAULT_RETRY_SECONDS)),
        ("", float(snippet.DEFAULT_RETRY_SECONDS)),
    ],
)
def test_retry_after_is_delta_seconds_or_an_http_date(value, seconds):
    assert snippet.decide(retryable(**{"retry-after": value}), NOW) == ("retry", seconds)


@given(st.integers(-86400 * 400, 86400 * 400))
def test_http_dates_agree_with_werkzeug(offset):
    when = NOW + timedelta(seconds=offset)
    value = format_datetime(when, usegmt=True)
    independent = max(0.0, (parse_date(value) - NOW).total_seconds())
    assert snippet.decide(retryable(**{"retry-after": value}), NOW) == ("retry", independent)


async def test_a_real_server_sends_the_500_as_a_problem_over_the_socket():
    config = uvicorn.Config(snippet.app, host="127.0.0.1", port=0, log_level="critical")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            crashed = await client.get("/test-only/boom")
            after = await client.get("/v2/unknown")  # the server survived the exception
    finally:
        server.should_exit = True
        await serving
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == PROBLEM
    assert crashed.json()["type"] == PROBLEMS + "internal-error"
    assert "db01" not in crashed.text
    assert after.status_code == 404 and after.headers["content-type"] == PROBLEM
