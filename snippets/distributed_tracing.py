"""W3C Trace Context across two services with OpenTelemetry: one trace id end to end."""

import asyncio

import httpx
from fastapi import FastAPI, Request
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

propagator = TraceContextTextMapPropagator()
exporter = InMemorySpanExporter()  # in production: an OTLP exporter to a collector


def tracer_for(service: str) -> Tracer:
    """Each service process has its own provider, named by its resource."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(service)


def traced(app: FastAPI, tracer: Tracer) -> FastAPI:
    @app.middleware("http")
    async def server_span(request: Request, call_next):
        # A missing or malformed traceparent extracts to an empty context: new trace.
        parent = propagator.extract(request.headers)
        name = request.method
        with tracer.start_as_current_span(name, parent, SpanKind.SERVER) as span:
            response = await call_next(request)
            route = request.scope.get("route")
            span.update_name(f"{name} {route.path}" if route else name)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    return app


inventory_tracer, checkout_tracer = tracer_for("inventory"), tracer_for("checkout")
inventory = traced(FastAPI(), inventory_tracer)
checkout = traced(FastAPI(), checkout_tracer)


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
