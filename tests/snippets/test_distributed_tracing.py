"""Behaviour of snippets/distributed_tracing.py: W3C traceparent across two services."""

import asyncio
import re

import distributed_tracing as snippet
import httpx
import pytest
from opentelemetry.trace import SpanKind

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
EDGE = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture(autouse=True)
def clean_exporter():
    snippet.exporter.clear()
    yield
    snippet.exporter.clear()


async def checkout(n: int = 1, headers=None) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=snippet.checkout)
    async with httpx.AsyncClient(transport=transport, base_url="http://co") as client:
        calls = [
            client.post(f"/checkout/sku_{i}", headers=(headers(i) if headers else {}))
            for i in range(n)
        ]
        return await asyncio.gather(*calls)


def by_kind(spans):
    return {snippet.service_kind(s): s for s in spans}


def test_one_trace_id_across_both_services_with_the_right_parents():
    (response,) = asyncio.run(checkout(headers=lambda i: {"traceparent": EDGE}))
    assert response.status_code == 200
    spans = snippet.exporter.get_finished_spans()
    assert len(spans) == 3
    assert {f"{s.context.trace_id:032x}" for s in spans} == {TRACE_ID}
    s = by_kind(spans)
    server, client, downstream = (
        s["checkout SERVER"],
        s["checkout CLIENT"],
        s["inventory SERVER"],
    )
    assert f"{server.parent.span_id:016x}" == PARENT_ID and server.parent.is_remote
    assert client.parent.span_id == server.context.span_id
    # The only link between the services is the traceparent header on the wire.
    assert downstream.parent.span_id == client.context.span_id
    assert downstream.parent.is_remote
    assert downstream.kind is SpanKind.SERVER
    assert downstream.name == "GET /stock/{sku}"
    assert downstream.attributes["http.response.status_code"] == 200


def test_injected_header_has_the_w3c_wire_format():
    with snippet.checkout_tracer.start_as_current_span("x"):
        carrier: dict[str, str] = {}
        snippet.propagator.inject(carrier)
    match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", carrier["traceparent"])
    assert match, carrier
    assert int(match[3], 16) & 0x01  # sampled; 0x02 is Level 2's "random" flag


def test_no_traceparent_starts_a_new_root_trace():
    (response,) = asyncio.run(checkout())
    assert response.status_code == 200
    spans = snippet.exporter.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1
    assert [s.name for s in spans if s.parent is None] == ["POST /checkout/{sku}"]


MALFORMED = [
    "00-zz",
    "",
    f"00-{'0' * 32}-{PARENT_ID}-01",  # all-zero trace id is invalid
    f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id is invalid
    f"ff-{TRACE_ID}-{PARENT_ID}-01",  # version ff is forbidden
    f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",  # uppercase hex is invalid
    f"00-{TRACE_ID[:-1]}-{PARENT_ID}-01",  # 31 hex digits
    f"00-{TRACE_ID}-{PARENT_ID}-01-extra",  # version 00 has exactly four fields
    f"00_{TRACE_ID}_{PARENT_ID}_01",
]


@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_traceparent_starts_a_new_trace_and_the_request_succeeds(header):
    (response,) = asyncio.run(checkout(headers=lambda i: {"traceparent": header}))
    assert response.status_code == 200
    assert response.json() == {"sku": "sku_0", "reserved": True}
    spans = snippet.exporter.get_finished_spans()
    assert len(spans) == 3
    trace_ids = {f"{s.context.trace_id:032x}" for s in spans}
    assert len(trace_ids) == 1 and trace_ids != {TRACE_ID}
    assert [s.name for s in spans if s.parent is None] == ["POST /checkout/{sku}"]


def test_higher_version_is_parsed_by_its_version_00_prefix():
    header = f"01-{TRACE_ID}-{PARENT_ID}-01-future-field"
    asyncio.run(checkout(headers=lambda i: {"traceparent": header}))
    spans = snippet.exporter.get_finished_spans()
    assert {f"{s.context.trace_id:032x}" for s in spans} == {TRACE_ID}


def test_unsampled_parent_is_respected_downstream():
    header = f"00-{TRACE_ID}-{PARENT_ID}-00"
    (response,) = asyncio.run(checkout(headers=lambda i: {"traceparent": header}))
    assert response.status_code == 200
    assert snippet.exporter.get_finished_spans() == ()


def test_tracestate_travels_with_the_trace():
    headers = {"traceparent": EDGE, "tracestate": "congo=t61rcWkgMzE"}
    asyncio.run(checkout(headers=lambda i: headers))
    downstream = by_kind(snippet.exporter.get_finished_spans())["inventory SERVER"]
    assert dict(downstream.context.trace_state) == {"congo": "t61rcWkgMzE"}


def test_fifty_concurrent_requests_never_mix_their_traces():
    def header(i: int) -> dict[str, str]:
        return {"traceparent": f"00-{i + 1:032x}-{i + 1:016x}-01"}

    responses = asyncio.run(checkout(n=50, headers=header))
    assert [r.status_code for r in responses] == [200] * 50
    spans = snippet.exporter.get_finished_spans()
    assert len(spans) == 150
    traces: dict[int, list] = {}
    for s in spans:
        traces.setdefault(s.context.trace_id, []).append(s)
    assert sorted(traces) == list(range(1, 51))
    for trace_id, members in traces.items():
        kinds = by_kind(members)
        assert len(members) == 3 and len(kinds) == 3
        assert kinds["checkout SERVER"].parent.span_id == trace_id
        assert kinds["inventory SERVER"].parent.span_id == kinds["checkout CLIENT"].context.span_id


# Vectors of the W3C Trace Context test suite (w3c/trace-context, test/test.py): the
# header fields the harness sends, and whether the service must continue that trace.
SUITE_ID = "12345678901234567890123456789012"
SUITE_PARENT = "1234567890123456"
W3C_SUITE = [
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}-01")], True),
    ([("TraceParent", f"00-{SUITE_ID}-{SUITE_PARENT}-01")], True),
    ([("TRACEPARENT", f"00-{SUITE_ID}-{SUITE_PARENT}-01")], True),
    ([("trace-parent", f"00-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("trace.parent", f"00-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    (
        [
            ("traceparent", f"00-{SUITE_ID[:-1]}1-{SUITE_PARENT}-01"),
            ("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}-01"),
        ],
        False,  # duplicated traceparent: a new trace, neither id
    ),
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}-01.")], False),
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}-01-what-the-future-will-be-like")], False),
    ([("traceparent", f"cc-{SUITE_ID}-{SUITE_PARENT}-01")], True),
    ([("traceparent", f"cc-{SUITE_ID}-{SUITE_PARENT}-01-what-the-future-will-be-like")], True),
    ([("traceparent", f"cc-{SUITE_ID}-{SUITE_PARENT}-01.what-the-future-will-be-like")], False),
    ([("traceparent", f"ff-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f".0-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"0.-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"000-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"0-{SUITE_ID}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"00-{'0' * 32}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"00-.{SUITE_ID[1:]}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"00-{SUITE_ID}3-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"00-{SUITE_ID[:-1]}-{SUITE_PARENT}-01")], False),
    ([("traceparent", f"00-{SUITE_ID}-{'0' * 16}-01")], False),
    ([("traceparent", f"00-{SUITE_ID}-.{SUITE_PARENT[1:]}-01")], False),
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}7-01")], False),
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT[:-1]}-01")], False),
    ([("traceparent", f"00-{SUITE_ID}-{SUITE_PARENT}-.0")], False),
]


async def post_raw(headers: list[tuple[str, str]], app=None, path="/checkout/sku_1"):
    transport = httpx.ASGITransport(app=app or snippet.checkout)
    async with httpx.AsyncClient(transport=transport, base_url="http://co") as client:
        return await client.post(path, headers=headers)


@pytest.mark.parametrize("headers, continued", W3C_SUITE, ids=lambda v: repr(v)[:60])
def test_w3c_test_suite_vectors(headers, continued):
    response = asyncio.run(post_raw(headers))
    assert response.status_code == 200  # a bad header never fails the request
    spans = snippet.exporter.get_finished_spans()
    downstream = by_kind(spans)["inventory SERVER"]
    sent_trace = f"{downstream.context.trace_id:032x}"  # what checkout sent on
    assert (sent_trace == SUITE_ID) is continued, headers
    assert sent_trace != f"{SUITE_ID[:-1]}1"
    assert f"{downstream.parent.span_id:016x}" != SUITE_PARENT  # always a new parent-id


def test_tracestate_split_over_two_fields_travels_whole():
    headers = [
        ("traceparent", EDGE),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("tracestate", "rojo=00f067aa0ba902b7"),
    ]
    asyncio.run(post_raw(headers))
    downstream = by_kind(snippet.exporter.get_finished_spans())["inventory SERVER"]
    assert dict(downstream.context.trace_state) == {
        "congo": "t61rcWkgMzE",
        "rojo": "00f067aa0ba902b7",
    }


def test_the_server_span_covers_a_streamed_body():
    """F-TRC-2: with @app.middleware("http") the span ends before the body is sent."""
    from fastapi.responses import StreamingResponse

    app = snippet.service(snippet.inventory_tracer)

    @app.get("/export")
    async def export() -> StreamingResponse:
        async def rows():
            for i in range(3):
                await asyncio.sleep(0.03)
                yield f"row {i}\n".encode()

        return StreamingResponse(rows(), media_type="text/plain")

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inv") as client:
            return await client.get("/export", headers={"traceparent": EDGE})

    response = asyncio.run(run())
    assert response.text == "row 0\nrow 1\nrow 2\n"
    (span,) = snippet.exporter.get_finished_spans()
    assert span.name == "GET /export"
    assert span.attributes["http.response.status_code"] == 200
    assert (span.end_time - span.start_time) / 1e9 >= 0.08  # all three rows inside


def test_an_unknown_path_is_a_problem_and_still_traced():
    response = asyncio.run(post_raw([("traceparent", EDGE)], path="/nothing"))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://api.example.com/problems/not-found"
    assert response.json()["retryable"] is False
    (span,) = snippet.exporter.get_finished_spans()
    assert span.name == "POST"  # no route matched: no template, never the raw path
    assert span.attributes["http.response.status_code"] == 404
    assert f"{span.context.trace_id:032x}" == TRACE_ID
