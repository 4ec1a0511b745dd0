"""RFC 9457 problem details with a machine-readable `retryable` member, and a client
that decides retry or stop from fields alone."""

import asyncio

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_TYPES = [
    {"type": "card-declined", "status": 402, "retryable": False, "retry_after": ""},
    {"type": "invalid-request", "status": 400, "retryable": False, "retry_after": ""},
    {"type": "rate-limited", "status": 429, "retryable": True, "retry_after": 10},
    {"type": "gateway-timeout", "status": 503, "retryable": True, "retry_after": 2},
]
DEFAULT_RETRY_SECONDS = 5  # when a retryable problem carries no usable Retry-After


def problem(slug: str, title: str, detail: str, **extensions) -> JSONResponse:
    kind = next(t for t in PROBLEM_TYPES if t["type"] == slug)
    body = {"type": PROBLEMS + slug, "title": title, "status": kind["status"]}
    body |= {"detail": detail, "retryable": kind["retryable"], **extensions}
    response = JSONResponse(body, kind["status"], media_type=PROBLEM_JSON)
    if kind["retry_after"]:
        response.headers["Retry-After"] = str(kind["retry_after"])
    return response


class Charge(BaseModel):
    amount: int
    source: str


app = FastAPI()


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, error: RequestValidationError):
    errors = [
        {"pointer": "#/" + "/".join(map(str, e["loc"][1:])), "detail": e["msg"]}
        for e in error.errors()
    ]
    return problem("invalid-request", "Invalid request", "See errors.", errors=errors)


@app.post("/v1/charges", status_code=201)
async def create_charge(charge: Charge):
    if charge.source == "tok_chargeDeclined":
        detail = "The card issuer declined the payment."
        return problem(
            "card-declined", "Card declined", detail, decline_code="insufficient_funds"
        )
    if charge.source == "tok_gatewayTimeout":
        detail = "The card network did not answer in time; nothing was charged."
        return problem("gateway-timeout", "Payment gateway timeout", detail)
    return {"id": "ch_1", "amount": charge.amount, "status": "succeeded"}


def decide(response: httpx.Response) -> tuple[str, float]:
    """('done' | 'retry' | 'final', seconds to wait): no prose is ever parsed."""
    if response.is_success:
        return "done", 0.0
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    if media_type != PROBLEM_JSON:
        return "final", 0.0  # not our envelope (a proxy page?): never guess
    try:
        retryable = response.json().get("retryable")
    except (ValueError, AttributeError):
        return "final", 0.0
    if retryable is not True:  # false, missing or malformed: stop and surface
        return "final", 0.0
    retry_after = response.headers.get("retry-after", "")
    return "retry", float(
        retry_after if retry_after.isdigit() else DEFAULT_RETRY_SECONDS
    )


async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for source in ["tok_visa", "tok_chargeDeclined", "tok_gatewayTimeout"]:
            charge = {"amount": 500, "source": source}
            response = await client.post("/v1/charges", json=charge)
            media_type = response.headers["content-type"]
            print(response.status_code, media_type, decide(response))
            #> 201 application/json ('done', 0.0)
            #> 402 application/problem+json ('final', 0.0)
            #> 503 application/problem+json ('retry', 2.0)
        problem_body = response.json()  # the last one: the gateway timeout
        print(list(problem_body))
        #> ['type', 'title', 'status', 'detail', 'retryable']
        print(problem_body["type"], problem_body["retryable"])
        #> https://api.example.com/problems/gateway-timeout True
        invalid = await client.post("/v1/charges", json={"source": "tok_visa"})
        print(invalid.status_code, invalid.json()["errors"], decide(invalid))
        #> 400 [{'pointer': '#/amount', 'detail': 'Field required'}] ('final', 0.0)


if __name__ == "__main__":
    asyncio.run(main())
