"""A charge endpoint that honours the Idempotency-Key header
(draft-ietf-httpapi-idempotency-key-header-09, an Internet-Draft)."""

import asyncio
import hashlib
import re
import time

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

KEY_TTL_HOURS = 24  # a key and its stored response are kept this long, then purged
LEASE_SECONDS = 30  # a claim unfinished by then is presumed dead and may be recovered
KEY_FORMAT = r"[A-Za-z0-9_-]{16,64}"  # published key format; anything else is a 400
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as registered in data/problem-types.yml
    "card-declined": (402, "Card declined", False),
    "gateway-timeout": (504, "Gateway timeout", True),
    "idempotency-key-in-flight": (409, "Request in progress", True),
    "idempotency-key-invalid": (400, "Idempotency-Key is malformed", False),
    "idempotency-key-missing": (400, "Idempotency-Key is missing", False),
    "idempotency-key-reused": (422, "Idempotency-Key already used", False),
    "internal-error": (500, "Internal error", False),
    "invalid-request": (400, "Invalid request", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "not-found": (404, "Not found", False),
    "service-unavailable": (503, "Service unavailable", True),
    "unauthorized": (401, "Unauthorized", False),
}


def problem(slug: str, detail: str, headers=None, **extensions) -> JSONResponse:
    status, title, retryable = TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": retryable, **extensions}
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


def pointer(path) -> str:
    """An RFC 6901 JSON Pointer into the body: `~` becomes `~0` and `/` becomes `~1`."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class Problem(Exception):
    def __init__(self, slug: str, detail: str, headers=None, **extensions):
        self.response = problem(slug, detail, headers, **extensions)


class Charge(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: int = Field(gt=0)  # in the currency's minor unit
    currency: str = Field(pattern=r"^[a-z]{3}$")
    source: str = Field(pattern=r"^tok_\w+$")


def parse(body: bytes) -> Charge:
    """Validate before claiming the key: a rejected request stores nothing."""
    try:
        return Charge.model_validate_json(body)
    except ValidationError as error:
        errors = [
            {"pointer": pointer(e["loc"]), "detail": e["msg"]} for e in error.errors()
        ]
        raise Problem("invalid-request", "See errors.", errors=errors) from None


def account_of(request: Request, api_keys: dict[str, str]) -> str:
    values = request.headers.getlist("authorization")
    if len(values) > 1:
        raise Problem("invalid-request", "Send exactly one Authorization header.")
    scheme, _, token = (values or [""])[0].partition(" ")
    if scheme.lower() != "bearer" or token.strip() not in api_keys:
        error = ', error="invalid_token"' if values else ""  # RFC 6750 §3.1
        challenge = {"WWW-Authenticate": f'Bearer realm="api"{error}'}
        raise Problem("unauthorized", "Send a valid API key.", challenge)
    return api_keys[token.strip()]  # the account, not the key: rotation keeps scope


def key_of(request: Request) -> str:
    values = request.headers.getlist("idempotency-key")
    if not values:
        raise Problem("idempotency-key-missing", "This endpoint requires one.")
    raw = values[0].strip()
    key = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] == '"' else raw
    if len(values) > 1 or not re.fullmatch(KEY_FORMAT, key):
        raise Problem("idempotency-key-invalid", f"Send one key matching {KEY_FORMAT}.")
    return key


def create_app(gateway, api_keys: dict[str, str], clock=time.monotonic, store=None):
    app = FastAPI()
    app.state.charges = []
    store = {} if store is None else store  # (account, method, path, key) -> record

    @app.exception_handler(Problem)
    async def send_problem(request: Request, error: Problem):
        return error.response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception):
        return problem("internal-error", "Logged; nothing about it is sent back.")

    async def idempotent(request: Request, prefix: str) -> Response:
        account, key = account_of(request, api_keys), key_of(request)
        charge = parse(await request.body()).model_dump()
        scope = (account, request.method, request.url.path, key)
        digest = hashlib.sha256(repr(sorted(charge.items())).encode()).hexdigest()
        now, record = clock(), store.get(scope)
        if record and record["expires"] <= now:
            record = None  # expired: the key is free to be used again
        if record and record["fingerprint"] != digest:
            raise Problem("idempotency-key-reused", "This key came with another body.")
        if record and record["response"]:
            status, headers, content = record["response"]
            return Response(content, status, headers | {"Idempotent-Replayed": "true"})
        if record and record["lease"] > now:
            raise Problem("idempotency-key-in-flight", "Wait.", {"Retry-After": "1"})
        # New, or a claim whose holder died or timed out: no await since the lookup, so
        # exactly one request claims it, and a recovery reuses the same downstream key.
        expires = record["expires"] if record else now + KEY_TTL_HOURS * 3600
        record = {"fingerprint": digest, "expires": expires, "response": None}
        store[scope] = record | {"lease": now + LEASE_SECONDS}
        downstream_key = hashlib.sha256(repr(scope).encode()).hexdigest()
        try:
            outcome = await gateway(charge, downstream_key)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            del store[scope]  # provably never sent: nothing happened, free the key
            wait = {"Retry-After": "1"}
            raise Problem("service-unavailable", "Nothing charged.", wait) from None
        except Exception as error:
            store[scope]["lease"] = clock()  # maybe sent: keep the key for a retry
            if isinstance(error, httpx.TimeoutException):
                detail = "Outcome unknown: retry with the same Idempotency-Key."
                raise Problem("gateway-timeout", detail, {"Retry-After": "1"}) from None
            raise
        if outcome == "declined":  # an outcome too: stored and replayed like a success
            response = problem("card-declined", "Declined.", decline_code="generic")
        else:
            created = {"id": f"{prefix}_{len(app.state.charges) + 1}", **charge}
            app.state.charges.append(created)
            location = {"Location": f"{request.url.path}/{created['id']}"}
            response = JSONResponse(created, 201, location)
        kept = {k: v for k, v in response.headers.items() if k != "content-length"}
        store[scope]["response"] = (response.status_code, kept, response.body)
        return response

    @app.post("/v1/charges")
    async def create_charge(request: Request):
        return await idempotent(request, "ch")

    @app.post("/v1/payouts")  # the same key on another endpoint is another operation
    async def create_payout(request: Request):
        return await idempotent(request, "po")

    return app


class Processor:
    """A card processor that, like real ones, deduplicates on an idempotency key."""

    def __init__(self, time_out_once=False):
        self.charged, self.time_out_once = {}, time_out_once

    async def __call__(self, charge: dict, key: str) -> str:
        await asyncio.sleep(0.05)  # the card network takes a while
        declined = charge["source"] == "tok_chargeDeclined"
        self.charged.setdefault(key, "declined" if declined else "succeeded")
        if self.time_out_once:  # charged, but the answer is lost on the way back
            self.time_out_once = False
            raise httpx.ReadTimeout("no answer from the processor")
        return self.charged[key]


async def main():
    processor = Processor(time_out_once=True)
    app = create_app(processor, {"sk_test_4QbJ1r0pXk2m9T7v": "acct_1"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        def charge(key, amount=500):  # the key belongs to the order, not to the attempt
            headers = {"Authorization": "Bearer sk_test_4QbJ1r0pXk2m9T7v"}
            headers |= {"Idempotency-Key": f'"{key}"'} if key else {}
            body = {"amount": amount, "currency": "eur", "source": "tok_visa"}
            return client.post("/v1/charges", json=body, headers=headers)

        order_1042 = "8e03978e-40d5-43e8-bc93-6894a57f9324"
        lost = await charge(order_1042)  # charged, but the processor's answer was lost
        print(lost.status_code, lost.json()["type"], lost.json()["retryable"])
        #> 504 https://api.example.com/problems/gateway-timeout True
        first = await charge(order_1042)  # same key: reconciles, does not charge again
        print(first.status_code, first.json(), len(processor.charged))
        #> 201 {'id': 'ch_1', 'amount': 500, 'currency': 'eur', 'source': 'tok_visa'} 1
        retry = await charge(order_1042)
        print(retry.content == first.content, retry.headers["idempotent-replayed"])
        #> True true
        for response in [await charge(order_1042, 900), await charge(None)]:
            print(response.status_code, response.json()["title"])
            #> 422 Idempotency-Key already used
            #> 400 Idempotency-Key is missing
        order_1043 = "2f1c6a0e-9b7d-4c3e-8a51-0d6e4b9f7a12"
        both = await asyncio.gather(charge(order_1043), charge(order_1043))
        print(sorted(r.status_code for r in both), len(app.state.charges))
        #> [201, 409] 2


if __name__ == "__main__":
    asyncio.run(main())
