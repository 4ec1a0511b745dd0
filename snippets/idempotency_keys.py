"""A charge endpoint that honours the Idempotency-Key header
(draft-ietf-httpapi-idempotency-key-header-07)."""

import asyncio
import hashlib
import json
import re
import time

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

KEY_TTL_HOURS = 24  # a key and its stored response are kept this long, then purged
KEY_FORMAT = r"[A-Za-z0-9_-]{16,64}"  # published key format; anything else is a 400
PROBLEMS = "https://api.example.com/problems/"


def problem(status: int, slug: str, title: str) -> JSONResponse:
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    return JSONResponse(body, status, media_type="application/problem+json")


def fingerprint(body: bytes) -> str:
    """Same JSON document, same fingerprint, whatever the key order or spacing."""
    try:
        body = json.dumps(json.loads(body), sort_keys=True).encode()
    except ValueError:
        pass
    return hashlib.sha256(body).hexdigest()


def create_app(gateway, clock=time.monotonic) -> FastAPI:
    app = FastAPI()
    app.state.charges = []
    records = {}  # (caller, key) -> {"fingerprint", "expires", "response"}

    @app.post("/v1/charges")
    async def create_charge(request: Request):
        raw = request.headers.get("idempotency-key")
        if raw is None:
            return problem(400, "idempotency-key-missing", "Idempotency-Key is missing")
        key = raw[1:-1] if len(raw) > 1 and raw[0] == raw[-1] == '"' else raw
        if not re.fullmatch(KEY_FORMAT, key):
            return problem(
                400, "idempotency-key-invalid", "Idempotency-Key is malformed"
            )
        scope = (request.headers.get("authorization", ""), key)
        body = await request.body()
        now = clock()
        record = records.get(scope)
        if record and record["expires"] <= now:
            del records[scope]  # expired: the key is free to be used again
            record = None
        if record and record["fingerprint"] != fingerprint(body):
            return problem(
                422, "idempotency-key-reused", "Idempotency-Key already used"
            )
        if record and record["response"] is None:
            response = problem(409, "idempotency-key-in-flight", "Request in progress")
            response.headers["Retry-After"] = "1"
            return response
        if record:
            status, content = record["response"]
            return JSONResponse(content, status)  # replay: same status, same body
        # No await between the lookup and this claim: one request wins, the rest see it.
        records[scope] = {
            "fingerprint": fingerprint(body),
            "expires": now + KEY_TTL_HOURS * 3600,
            "response": None,
        }
        try:
            charge = json.loads(body)
            outcome = await gateway(charge["amount"], charge["currency"])
        except Exception:
            del records[scope]  # nothing was charged: let the client retry
            raise
        charge = {"id": f"ch_{len(app.state.charges) + 1}", **charge, "status": outcome}
        app.state.charges.append(charge)
        records[scope]["response"] = (201, charge)
        return JSONResponse(charge, 201)

    return app


async def slow_gateway(amount: int, currency: str) -> str:
    await asyncio.sleep(0.1)  # the card network takes a while
    return "succeeded"


async def main():
    app = create_app(slow_gateway)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        def charge(key, amount=500):
            headers = {"Idempotency-Key": f'"{key}"'} if key else {}
            body = {"amount": amount, "currency": "eur"}
            return client.post("/v1/charges", json=body, headers=headers)

        first = await charge("order-1042-attempt")
        print(first.status_code, first.json())
        #> 201 {'id': 'ch_1', 'amount': 500, 'currency': 'eur', 'status': 'succeeded'}
        retry = await charge("order-1042-attempt")
        print(retry.status_code, retry.json() == first.json())
        #> 201 True
        for response in [await charge("order-1042-attempt", 900), await charge(None)]:
            print(response.status_code, response.json()["title"])
            #> 422 Idempotency-Key already used
            #> 400 Idempotency-Key is missing
        both = await asyncio.gather(
            charge("order-1043-attempt"), charge("order-1043-attempt")
        )
        print(sorted(r.status_code for r in both), len(app.state.charges))
        #> [201, 409] 2


if __name__ == "__main__":
    asyncio.run(main())
