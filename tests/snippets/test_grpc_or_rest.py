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


def test_unknown_sku_maps_to_not_found_on_both(endpoints):
    stub, http = endpoints
    with pytest.raises(grpc.RpcError) as caught:
        stub({"sku": "sku_404"}, timeout=2.0)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such sku: sku_404"
    response = http.get("/v1/stock/sku_404")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "no such sku: sku_404"},
    )


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

    def slow(sku: str) -> dict:
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

    def counting(sku: str) -> dict:
        served.append(sku)
        return original(sku)

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
