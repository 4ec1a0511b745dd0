"""W3C Trace Context across two services with OpenTelemetry: one trace id end to end."""

import asyncio

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
propagator = TraceContextTextMapPropagator()
exporter = InMemorySpanExporter()  # in production: an OTLP exporter to a collector


class AllValues(Getter):
    """Every field of a repeated header, combined with commas (RFC 9110 section 5.3):
    two traceparent fields then fail to parse and start a new trace, as the W3C
    test suite expects, and tracestate split over several fields is kept whole."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = carrier.getlist(key)
        return [",".join(values)] if values else None

    def keys(self, carrier: Headers) -> list[str]:
        return list(carrier.keys())


def tracer_for(service: str) -> Tracer:
    """Each service process has its own provider, named by its resource."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(service)


class ServerSpans:
    """Plain ASGI middleware, not @app.middleware("http"): the span lasts until the
    last byte of the body is sent, streaming included, and sees the real status."""

    def __init__(self, app, tracer: Tracer):
        self.app, self.tracer = app, tracer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        # A missing or malformed traceparent extracts to an empty context: new trace.
        parent = propagator.extract(Headers(scope=scope), getter=AllValues())
        name = scope["method"]
        with self.tracer.start_as_current_span(name, parent, SpanKind.SERVER) as span:

            async def send_and_record(message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_and_record)
            route = scope.get("route")  # set by the router: the template, not the path
            span.update_name(f"{name} {route.path}" if route else name)


def problem(status: int, slug: str, title: str, detail: str) -> JSONResponse:
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": False}
    return JSONResponse(body, status, media_type=PROBLEM_JSON)


def service(tracer: Tracer) -> FastAPI:
    app = FastAPI()
    app.add_middleware(ServerSpans, tracer=tracer)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 405:
            return problem(405, "method-not-allowed", "Method not allowed", "Not here.")
        return problem(404, "not-found", "Not found", f"No {request.url.path}.")

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error) -> JSONResponse:
        return problem(400, "invalid-request", "Invalid request", "Bad request.")

    return app


inventory_tracer, checkout_tracer = tracer_for("inventory"), tracer_for("checkout")
inventory, checkout = service(inventory_tracer), service(checkout_tracer)


@inventory.get("/stock/{sku}")
async def stock(sku: str) -> dict:
    return {"sku": sku, "available": 7}


@checkout.post("/checkout/{sku}")
async def buy(sku: str) -> dict:
    transport = httpx.ASGITransport(app=inventory)  # a real service: its URL
    async with httpx.AsyncClient(transport=transport, base_url="http://inv") as client:
        with checkout_tracer.start_as_current_span(
            "GET /stock/{sku}", kind=SpanKind.CLIENT
        ):
            headers: dict[str, str] = {}
            propagator.inject(headers)  # traceparent = this client span
            answer = (await client.get(f"/stock/{sku}", headers=headers)).json()
    return {"sku": sku, "reserved": answer["available"] > 0}


def service_kind(span) -> str:
    return f"{span.resource.attributes['service.name']} {span.kind.name}"


async def main() -> None:
    edge = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    transport = httpx.ASGITransport(app=checkout)
    async with httpx.AsyncClient(transport=transport, base_url="http://co") as client:
        response = await client.post("/checkout/sku_1", headers={"traceparent": edge})
        print(response.status_code, response.json())
        #> 200 {'sku': 'sku_1', 'reserved': True}
        spans = exporter.get_finished_spans()  # in the order they ended
        print({f"{s.context.trace_id:032x}" for s in spans})
        #> {'4bf92f3577b34da6a3ce929d0e0e4736'}
        who = {s.context.span_id: service_kind(s) for s in spans}
        for s in spans:
            parent = who.get(s.parent.span_id, f"edge {s.parent.span_id:016x}")
            print(service_kind(s), s.name, "<-", parent)
            #> inventory SERVER GET /stock/{sku} <- checkout CLIENT
            #> checkout CLIENT GET /stock/{sku} <- checkout SERVER
            #> checkout SERVER POST /checkout/{sku} <- edge 00f067aa0ba902b7

        exporter.clear()
        response = await client.post(
            "/checkout/sku_1", headers={"traceparent": "00-zz"}
        )
        spans = exporter.get_finished_spans()
        root = next(s for s in spans if s.parent is None)
        fresh = f"{root.context.trace_id:032x}" != edge.split("-")[1]
        print(response.status_code, root.name, "new trace:", fresh, len(spans), "spans")
        #> 200 POST /checkout/{sku} new trace: True 3 spans


if __name__ == "__main__":
    asyncio.run(main())
