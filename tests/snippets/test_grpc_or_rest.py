"""Behaviour of snippets/grpc_or_rest.py: one operation, two real transports on loopback."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import grpc_or_rest as snippet
import httpx
import pytest


@pytest.fixture(scope="module")
def endpoints():
    grpc_server, target = snippet.serve_grpc()
    rest_server, base_url = snippet.serve_rest()
    channel = grpc.insecure_channel(target)
    http = httpx.Client(base_url=base_url, timeout=2.0)
    stub = channel.unary_unary(
        snippet.METHOD,
        request_serializer=snippet.to_bytes,
        response_deserializer=json.loads,
    )
    raw = channel.unary_unary(snippet.METHOD)  # bytes in, bytes out
    stub.raw = raw
    yield stub, http
    http.close()
    channel.close()
    grpc_server.stop(grace=None)
    rest_server.should_exit = True


def test_both_transports_return_the_same_result_for_every_sku(endpoints):
    stub, http = endpoints
    for sku, available in snippet.STOCK.items():
        expected = {"sku": sku, "available": available}
        assert stub({"sku": sku}, timeout=2.0) == expected
        response = http.get(f"/v1/stock/{sku}")
        assert (response.status_code, response.json()) == (200, expected)


PROBLEMS = "https://api.example.com/problems/"
# google.rpc.Code to HTTP, transcribed from the comments of google/rpc/code.proto and the
# table of AIP-193: the independent source the snippet's table is checked against.
AIP_193 = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
# grpc-status numbers on the wire (doc/statuscodes.md).
WIRE = {"NOT_FOUND": 5, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "UNAVAILABLE": 14}


def expect_problem(response: httpx.Response, status: int, slug: str, retryable: bool):
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "retryable"}
    assert (body["type"], body["status"], body["retryable"]) == (
        PROBLEMS + slug,
        status,
        retryable,
    )
    return body


def test_the_mapping_table_is_aip_193_in_both_directions():
    assert set(AIP_193) == {code.name for code in grpc.StatusCode}  # every code listed
    for code, (status, *_rest) in snippet.HTTP_FOR.items():
        assert AIP_193[code.name] == status, code
        assert snippet.CODE_FOR[status] is code  # and back: 504 <-> DEADLINE_EXCEEDED
        assert code.value[0] == WIRE[code.name]
    assert snippet.CODE_FOR[504] is grpc.StatusCode.DEADLINE_EXCEEDED
    assert snippet.CODE_FOR[503] is grpc.StatusCode.UNAVAILABLE
    retryable = {code.name for code, row in snippet.HTTP_FOR.items() if row[3]}
    assert retryable == {"UNAVAILABLE", "DEADLINE_EXCEEDED"}


@pytest.mark.parametrize("code", list(snippet.HTTP_FOR), ids=lambda c: c.name)
def test_every_failure_maps_the_same_way_on_both(endpoints, monkeypatch, code):
    stub, http = endpoints

    def failing(sku: str, budget=None) -> dict:
        raise snippet.Failure(code, f"{code.name.lower()} for {sku}")

    monkeypatch.setattr(snippet, "get_stock", failing)
    with pytest.raises(grpc.RpcError) as caught:
        stub({"sku": "sku_1"}, timeout=2.0)
    assert caught.value.code() is code
    assert caught.value.details() == f"{code.name.lower()} for sku_1"
    status, slug, title, retryable = snippet.HTTP_FOR[code]
    body = expect_problem(http.get("/v1/stock/sku_1"), status, slug, retryable)
    assert (body["title"], body["detail"]) == (title, f"{code.name.lower()} for sku_1")


def test_unknown_sku_maps_to_not_found_on_both(endpoints):
    stub, http = endpoints
    with pytest.raises(grpc.RpcError) as caught:
        stub({"sku": "sku_404"}, timeout=2.0)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such sku: sku_404"
    body = expect_problem(http.get("/v1/stock/sku_404"), 404, "not-found", False)
    assert body["detail"] == "no such sku: sku_404"


@pytest.mark.parametrize(
    "payload", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"sku": 7}', b"{}", b'{"sku": "x/y"}']
)
def test_malformed_grpc_requests_are_invalid_argument_not_internal(endpoints, payload):
    stub, _ = endpoints
    with pytest.raises(grpc.RpcError) as caught:
        stub.raw(payload, timeout=2.0)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    "path", ["/v1/stock/%FF%FE", "/v1/stock/a%20b", f"/v1/stock/sku_{'9' * 40}"]
)
def test_malformed_rest_requests_are_400_problems(endpoints, path):
    _, http = endpoints
    expect_problem(http.get(path), 400, "invalid-request", False)


def test_framework_errors_are_problems_too(endpoints):
    _, http = endpoints
    expect_problem(http.get("/v2/nothing"), 404, "not-found", False)
    response = http.post("/v1/stock/sku_1")
    expect_problem(response, 405, "method-not-allowed", False)
    assert response.headers["allow"] == "GET"


def test_the_deadline_reaches_the_operation_on_both(endpoints, monkeypatch):
    """F-GOR-5: grpc-timeout becomes context.time_remaining(), X-Timeout-Ms the budget."""
    stub, http = endpoints
    seen = []
    original = snippet.get_stock

    def recording(sku: str, budget=None) -> dict:
        seen.append(budget)
        return original(sku, budget)

    monkeypatch.setattr(snippet, "get_stock", recording)
    stub({"sku": "sku_1"}, timeout=0.5)
    http.get("/v1/stock/sku_1", headers={"X-Timeout-Ms": "500"})
    http.get("/v1/stock/sku_1")  # no deadline sent: none assumed
    # grpc-timeout travels in whole units, so the remaining time may round up a little.
    assert 0.2 < seen[0] <= 0.51 and seen[1] == 0.5 and seen[2] is None


def test_an_exhausted_budget_is_deadline_exceeded_504_without_work(endpoints):
    _, http = endpoints
    response = http.get("/v1/stock/sku_1", headers={"X-Timeout-Ms": "0"})
    expect_problem(response, 504, "deadline-exceeded", True)
    assert snippet.CODE_FOR[response.status_code] is grpc.StatusCode.DEADLINE_EXCEEDED


def test_real_sockets_http2_for_grpc_and_http11_for_rest(endpoints, monkeypatch):
    stub, http = endpoints
    seen = {}
    original = snippet.grpc_get_stock

    def spy(request, context):
        seen["peer"] = context.peer()
        seen["metadata"] = dict(context.invocation_metadata())
        return original(request, context)

    monkeypatch.setattr(snippet, "grpc_get_stock", spy)
    # The handler object holds the original function; rebuild a server with the spy.
    server, target = snippet.serve_grpc()
    try:
        with grpc.insecure_channel(target) as channel:
            call = channel.unary_unary(
                snippet.METHOD,
                request_serializer=snippet.to_bytes,
                response_deserializer=json.loads,
            )
            assert call({"sku": "sku_2"}, timeout=2.0) == {"sku": "sku_2", "available": 0}
    finally:
        server.stop(grace=None)
    assert seen["peer"].startswith("ipv4:127.0.0.1:")
    assert seen["metadata"]["user-agent"].startswith("grpc-python/")
    assert http.get("/v1/stock/sku_2").http_version == "HTTP/1.1"


def test_deadline_is_enforced_on_both(endpoints, monkeypatch):
    stub, http = endpoints

    def slow(sku: str, budget=None) -> dict:
        time.sleep(0.3)
        return {"sku": sku, "available": 1}

    monkeypatch.setattr(snippet, "get_stock", slow)
    started = time.perf_counter()
    with pytest.raises(grpc.RpcError) as caught:
        stub({"sku": "sku_1"}, timeout=0.05)
    assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    with pytest.raises(httpx.ReadTimeout):
        http.get("/v1/stock/sku_1", timeout=0.05)
    assert time.perf_counter() - started < 0.3


def test_fifty_concurrent_calls_on_each_transport(endpoints):
    stub, http = endpoints
    skus = [f"sku_{1 + i % 2}" for i in range(50)]
    expected = [{"sku": s, "available": snippet.STOCK[s]} for s in skus]
    with ThreadPoolExecutor(max_workers=50) as pool:
        via_grpc = list(pool.map(lambda s: stub({"sku": s}, timeout=5.0), skus))
        via_rest = list(pool.map(lambda s: http.get(f"/v1/stock/{s}").json(), skus))
    assert via_grpc == expected
    assert via_rest == expected


def test_latency_measures_real_round_trips(endpoints, monkeypatch):
    stub, http = endpoints
    served = []
    original = snippet.get_stock

    def counting(sku: str, budget=None) -> dict:
        served.append(sku)
        return original(sku, budget)

    monkeypatch.setattr(snippet, "get_stock", counting)
    for name, call in {
        "grpc": lambda: stub({"sku": "sku_1"}, timeout=2.0),
        "rest": lambda: http.get("/v1/stock/sku_1").json(),
    }.items():
        served.clear()
        stats = snippet.latency_us(call, n=50)
        assert len(served) == 51, name  # 50 measured calls plus one warm-up
        assert stats["calls"] == 50
        assert 0 < stats["p50"] <= stats["p99"]
        # Loopback on a warm connection: far below the 40 ms of a Nagle/delayed-ACK
        # stall, which a socket without TCP_NODELAY would show on every call.
        assert stats["p50"] < 20_000, (name, stats)
