"""RFC 9457 problem details with a machine-readable `retryable` member, and a client
that decides retry or stop from fields alone."""

import asyncio
import itertools
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated

import httpx
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_TYPES = [  # the entries of data/problem-types.yml that this API sends
    {"type": "card-declined", "status": 402, "retryable": False},
    {"type": "gateway-timeout", "status": 504, "retryable": True},
    {"type": "internal-error", "status": 500, "retryable": False},
    {"type": "invalid-request", "status": 400, "retryable": False},
    {"type": "method-not-allowed", "status": 405, "retryable": False},
    {"type": "not-found", "status": 404, "retryable": False},
    {"type": "service-unavailable", "status": 503, "retryable": True},
]
TITLES = {  # the registry's titles, the same on every occurrence
    "card-declined": "Card declined",
    "gateway-timeout": "Gateway timeout",
    "internal-error": "Internal error",
    "invalid-request": "Invalid request",
    "method-not-allowed": "Method not allowed",
    "not-found": "Not found",
    "service-unavailable": "Service unavailable",
}
RETRY_AFTER_SECONDS = 2  # what this server sends with every retryable problem
DEFAULT_RETRY_SECONDS = 5  # the client's wait when Retry-After is absent or unusable
log = logging.getLogger("api")


def problem(request: Request, slug: str, detail: str, headers=None, **extensions):
    kind = next(t for t in PROBLEM_TYPES if t["type"] == slug)
    body = {"type": PROBLEMS + slug, "title": TITLES[slug], "status": kind["status"]}
    body |= {"detail": detail, "instance": f"/requests/{request.state.id}"}
    body |= {"retryable": kind["retryable"], **extensions}
    response = JSONResponse(body, kind["status"], headers, media_type=PROBLEM_JSON)
    if kind["retryable"]:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def locate(error: dict) -> dict:
    """A FastAPI error location as a JSON Pointer (RFC 6901), parameter or header."""
    where, *path = error["loc"]
    if error["type"] == "json_invalid":
        return {"pointer": ""}  # the whole document; loc holds a character offset
    if where == "body":
        tokens = (str(p).replace("~", "~0").replace("/", "~1") for p in path)
        return {"pointer": "".join("/" + t for t in tokens)}
    member = "header" if where == "header" else "parameter"  # query or path
    return {member: str(path[0]) if path else ""}


class Charge(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: int
    source: str


app = FastAPI()
request_ids = itertools.count(1)


@app.middleware("http")
async def request_id(request: Request, call_next):
    request.state.id = f"req_{next(request_ids)}"  # deterministic for the demo
    return await call_next(request)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, error: RequestValidationError):
    errors = [locate(e) | {"detail": e["msg"]} for e in error.errors()]
    return problem(request, "invalid-request", "See errors.", errors=errors)


@app.exception_handler(HTTPException)
async def http_error(request: Request, error: HTTPException):
    slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
    return problem(request, slug or "invalid-request", str(error.detail), error.headers)


@app.exception_handler(Exception)
async def crash(request: Request, error: Exception):
    log.error("request %s failed", request.state.id, exc_info=error)  # kept here only
    return problem(request, "internal-error", "Quote the instance to support.")


@app.get("/v1/charges")
async def list_charges(limit: Annotated[int, Query(ge=1, le=100)] = 10):
    return {"data": [], "limit": limit}


@app.post("/v1/charges", status_code=201)
async def create_charge(
    charge: Charge, request: Request, idempotency_key: Annotated[str, Header()]
):
    if charge.source == "tok_chargeDeclined":  # hard: never reattempt this card
        detail = "The card issuer declined the payment."
        extra = {"decline_code": "stolen_card", "decline_category": "hard"}
        return problem(request, "card-declined", detail, **extra)
    if charge.source == "tok_authenticationRequired":  # SCA: the customer must act
        extra = {"decline_code": "authentication_required", "decline_category": "sca"}
        return problem(request, "card-declined", "Complete 3-D Secure.", **extra)
    if charge.source == "tok_processorDown":  # refused before sending: nothing charged
        return problem(request, "service-unavailable", "Nothing was charged.")
    if charge.source == "tok_gatewayTimeout":  # sent, no answer: outcome unknown
        detail = "Outcome unknown; retry with the same Idempotency-Key."
        return problem(request, "gateway-timeout", detail)
    return {"id": "ch_1", "amount": charge.amount, "status": "succeeded"}


def decide(response: httpx.Response, now: datetime | None = None) -> tuple[str, float]:
    """('done' | 'retry' | 'final', seconds to wait): no prose is ever parsed."""
    now = now or datetime.now(UTC)  # the demo passes a fixed time
    if response.is_success:
        return "done", 0.0
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type.lower() != PROBLEM_JSON:
        return "final", 0.0  # not our envelope (a proxy page?): never guess
    try:
        retryable = response.json().get("retryable")
    except (ValueError, AttributeError):
        return "final", 0.0
    if retryable is not True:  # false, missing or malformed: stop and surface
        return "final", 0.0
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():  # delta-seconds (RFC 9110 §10.2.3)
        return "retry", float(value)
    try:  # or an HTTP-date, in any of its three formats (RFC 9110 §5.6.7)
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return "retry", float(DEFAULT_RETRY_SECONDS)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)  # asctime has no zone
    return "retry", max(0.0, (when - now).total_seconds())


async def main():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        key = {"Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}
        for source in ["tok_visa", "tok_chargeDeclined", "tok_gatewayTimeout"]:
            charge = {"amount": 500, "source": source}
            response = await client.post("/v1/charges", json=charge, headers=key)
            media_type = response.headers["content-type"]
            print(response.status_code, media_type, decide(response, now))
            #> 201 application/json ('done', 0.0)
            #> 402 application/problem+json ('final', 0.0)
            #> 504 application/problem+json ('retry', 2.0)
        problem_body = response.json()  # the last one: the gateway timeout
        print(list(problem_body))
        #> ['type', 'title', 'status', 'detail', 'instance', 'retryable']
        print(problem_body["type"], problem_body["retryable"])
        #> https://api.example.com/problems/gateway-timeout True
        invalid = await client.post("/v1/charges", json={"source": "tok_visa"})
        print(invalid.status_code, decide(invalid, now))
        #> 400 ('final', 0.0)
        for error in invalid.json()["errors"]:
            print(error)
            #> {'header': 'idempotency-key', 'detail': 'Field required'}
            #> {'pointer': '/amount', 'detail': 'Field required'}
        date = {"retry-after": "Wed, 02 Dec 2026 12:00:30 GMT"}  # RFC 9110 HTTP-date
        dated = httpx.Response(503, headers=date, json={"retryable": True})
        dated.headers["content-type"] = PROBLEM_JSON
        print(decide(dated, now))
        #> ('retry', 30.0)


if __name__ == "__main__":
    asyncio.run(main())
