"""One operation served as gRPC and as REST side by side, and the loopback latency of
each."""

import json
import logging
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent import futures

import grpc
import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

STOCK = {"sku_1": 7, "sku_2": 0}
MEASURED_CALLS = 200
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
Code = grpc.StatusCode
# One mapping for every adapter: google.rpc.Code to HTTP status (AIP-193), and the
# problem type a REST adapter sends for it: (status, slug, title, retryable).
HTTP_FOR = {
    Code.INVALID_ARGUMENT: (400, "invalid-request", "Invalid request", False),
    Code.NOT_FOUND: (404, "not-found", "Not found", False),
    Code.UNAVAILABLE: (503, "service-unavailable", "Service unavailable", True),
    Code.DEADLINE_EXCEEDED: (504, "deadline-exceeded", "Deadline exceeded", True),
}
CODE_FOR = {status: code for code, (status, *_) in HTTP_FOR.items()}  # and back


class Failure(Exception):
    """A failure of the operation, named by its gRPC status code."""

    def __init__(self, code: grpc.StatusCode, detail: str):
        super().__init__(detail)
        self.code, self.detail = code, detail


def get_stock(sku: str, budget: float | None = None) -> dict:
    """The operation itself; both transports are thin adapters around it."""
    if not re.fullmatch(r"sku_\w{1,32}", sku):
        raise Failure(Code.INVALID_ARGUMENT, "sku must look like sku_123")
    if budget is not None and budget <= 0.001:  # too little left: do not start
        raise Failure(Code.DEADLINE_EXCEEDED, "the caller's deadline has passed")
    if sku not in STOCK:
        raise Failure(Code.NOT_FOUND, f"no such sku: {sku}")
    return {"sku": sku, "available": STOCK[sku]}


# gRPC. Real services generate stubs and protobuf messages from a .proto file:
#   service Inventory { rpc GetStock(GetStockRequest) returns (Stock); }
# JSON (de)serializers keep this file runnable without a protoc step.
SERVICE, METHOD = "inventory.v1.Inventory", "/inventory.v1.Inventory/GetStock"


def to_bytes(message: dict) -> bytes:
    return json.dumps(message).encode()


def from_bytes(data: bytes) -> dict:
    try:
        message = json.loads(data)
    except ValueError:  # not JSON or not UTF-8: INVALID_ARGUMENT below, not INTERNAL
        return {}
    return message if isinstance(message, dict) else {}


def grpc_get_stock(request: dict, context: grpc.ServicerContext) -> dict:
    try:  # time_remaining(): the caller's deadline, sent as grpc-timeout
        return get_stock(str(request.get("sku")), context.time_remaining())
    except Failure as failure:
        context.abort(failure.code, failure.detail)


def serve_grpc() -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handler = grpc.unary_unary_rpc_method_handler(
        grpc_get_stock, request_deserializer=from_bytes, response_serializer=to_bytes
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SERVICE, {"GetStock": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


# REST: the same operation as a resource, JSON over HTTP/1.1, errors as problem+json.
def problem(status: int, slug: str, title: str, retryable: bool, detail: str):
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": retryable}
    return JSONResponse(body, status, media_type=PROBLEM_JSON)


rest = FastAPI()


@rest.exception_handler(Failure)
async def on_failure(request: Request, failure: Failure) -> JSONResponse:
    return problem(*HTTP_FOR[failure.code], failure.detail)


@rest.exception_handler(HTTPException)
async def on_http_error(request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code == 405:
        title, detail = "Method not allowed", "Use GET."
        response = problem(405, "method-not-allowed", title, False, detail)
        response.headers["Allow"] = (error.headers or {}).get("Allow", "GET")
        return response
    detail = f"No resource {request.url.path}."
    return problem(404, "not-found", "Not found", False, detail)


@rest.exception_handler(RequestValidationError)
async def on_invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    return problem(400, "invalid-request", "Invalid request", False, "Bad parameters.")


@rest.get("/v1/stock/{sku}")
def rest_get_stock(sku: str, request: Request) -> dict:
    timeout_ms = request.headers.get("x-timeout-ms", "")  # the caller's budget left
    budget = int(timeout_ms) / 1000 if timeout_ms.isdigit() else None
    return get_stock(sku, budget)


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
        for sku in ("sku_9", "not-a-sku"):
            try:
                stub({"sku": sku}, timeout=1.0)
            except grpc.RpcError as error:
                print(error.code(), error.details())
                #> StatusCode.NOT_FOUND no such sku: sku_9
                #> StatusCode.INVALID_ARGUMENT sku must look like sku_123
        for sku in ("sku_9", "not-a-sku"):
            missing = http.get(f"/v1/stock/{sku}", timeout=1.0)
            status, kind = missing.status_code, missing.json()["type"]
            print(status, kind.removeprefix(PROBLEMS), CODE_FOR[status])
            #> 404 not-found StatusCode.NOT_FOUND
            #> 400 invalid-request StatusCode.INVALID_ARGUMENT

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
