"""One operation served as gRPC and as REST side by side, with loopback latency of each."""

import json
import logging
import statistics
import threading
import time
from collections.abc import Callable
from concurrent import futures

import grpc
import httpx
import uvicorn
from fastapi import FastAPI, HTTPException

STOCK = {"sku_1": 7, "sku_2": 0}
MEASURED_CALLS = 200


def get_stock(sku: str) -> dict:
    """The operation itself; both transports are thin adapters around it."""
    return {"sku": sku, "available": STOCK[sku]}  # KeyError: unknown sku


# gRPC. Real services generate stubs and protobuf messages from a .proto file:
#   service Inventory { rpc GetStock(GetStockRequest) returns (Stock); }
# JSON (de)serializers keep this file runnable without a protoc step.
SERVICE, METHOD = "inventory.v1.Inventory", "/inventory.v1.Inventory/GetStock"


def to_bytes(message: dict) -> bytes:
    return json.dumps(message).encode()


def grpc_get_stock(request: dict, context: grpc.ServicerContext) -> dict:
    try:
        return get_stock(request["sku"])
    except KeyError:
        context.abort(grpc.StatusCode.NOT_FOUND, f"no such sku: {request['sku']}")


def serve_grpc() -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handler = grpc.unary_unary_rpc_method_handler(
        grpc_get_stock, request_deserializer=json.loads, response_serializer=to_bytes
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SERVICE, {"GetStock": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


# REST: the same operation as a resource, JSON over HTTP/1.1.
rest = FastAPI()


@rest.get("/v1/stock/{sku}")
def rest_get_stock(sku: str) -> dict:
    try:
        return get_stock(sku)
    except KeyError:
        raise HTTPException(404, f"no such sku: {sku}") from None


def serve_rest() -> tuple[uvicorn.Server, str]:
    config = uvicorn.Config(rest, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def latency_us(call: Callable[[], dict], n: int = MEASURED_CALLS) -> dict[str, float]:
    """Sequential round trips on a warm connection; p50 and p99 in microseconds."""
    call()  # warm-up: connection set-up is not per-call latency
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e6)
    cuts = statistics.quantiles(samples, n=100)
    return {"calls": len(samples), "p50": round(cuts[49]), "p99": round(cuts[98])}


if __name__ == "__main__":
    grpc_server, target = serve_grpc()
    rest_server, base_url = serve_rest()
    with (
        grpc.insecure_channel(target) as channel,
        httpx.Client(base_url=base_url) as http,
    ):
        stub = channel.unary_unary(
            METHOD, request_serializer=to_bytes, response_deserializer=json.loads
        )
        print(stub({"sku": "sku_1"}, timeout=1.0))
        #> {'sku': 'sku_1', 'available': 7}
        print(http.get("/v1/stock/sku_1", timeout=1.0).json())
        #> {'sku': 'sku_1', 'available': 7}
        try:
            stub({"sku": "sku_9"}, timeout=1.0)
        except grpc.RpcError as error:
            print(error.code(), error.details())
            #> StatusCode.NOT_FOUND no such sku: sku_9
        missing = http.get("/v1/stock/sku_9", timeout=1.0)
        print(missing.status_code, missing.json())
        #> 404 {'detail': 'no such sku: sku_9'}

        measured = {
            "grpc": latency_us(lambda: stub({"sku": "sku_1"}, timeout=1.0)),
            "rest": latency_us(lambda: http.get("/v1/stock/sku_1").json()),
        }
        # Timings differ per machine and per run: they go to the log (stderr),
        # the checked output shows only what is deterministic.
        logging.warning("loopback latency in microseconds: %s", measured)
        print({name: stats["calls"] for name, stats in measured.items()})
        #> {'grpc': 200, 'rest': 200}
    grpc_server.stop(grace=None)
    rest_server.should_exit = True
