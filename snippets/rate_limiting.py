"""Per-key token buckets by tier, advertised with the RateLimit-Policy and RateLimit
fields of draft-ietf-httpapi-ratelimit-headers-10, and 429 with Retry-After."""

import asyncio
import math
import threading
import time
from fractions import Fraction

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

TIERS = [
    {"tier": "free", "quota": 10, "window_seconds": 60},
    {"tier": "paid", "quota": 600, "window_seconds": 60},
]
API_KEYS = {"sk_test_alice": "free", "sk_test_bob": "paid"}  # key -> tier


class TokenBucket:
    """Holds up to `quota` tokens and refills at quota/window tokens per second.
    Exact fractions, so a client that waits Retry-After seconds is never refused."""

    def __init__(self, quota: int, window: int, clock):
        self.capacity, self.rate, self.clock = quota, Fraction(quota, window), clock
        self.tokens, self.updated = Fraction(quota), Fraction(clock())
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, int, int]:
        """-> (allowed, remaining, seconds until the next token)."""
        with self.lock:
            now = Fraction(self.clock())
            elapsed = now - self.updated
            self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.updated = now
            allowed = self.tokens >= 1
            if allowed:
                self.tokens -= 1
            remaining = math.floor(self.tokens)
            wait = math.ceil((remaining + 1 - self.tokens) / self.rate)
            return allowed, remaining, wait


class QuotaExceeded(Exception):
    def __init__(self, policy: str, headers: dict):
        self.policy, self.headers = policy, headers


def create_app(clock=time.monotonic) -> FastAPI:
    app = FastAPI()
    tiers = {t["tier"]: t for t in TIERS}
    buckets: dict[str, TokenBucket] = {}
    buckets_lock = threading.Lock()

    def rate_limit(request: Request, response: Response) -> str:
        """A sync dependency: FastAPI runs it in a worker thread, so it must lock."""
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        if key not in API_KEYS:
            raise HTTPException(401, headers={"WWW-Authenticate": "Bearer"})
        tier = tiers[API_KEYS[key]]
        with buckets_lock:
            bucket = buckets.setdefault(
                key, TokenBucket(tier["quota"], tier["window_seconds"], clock)
            )
        allowed, remaining, wait = bucket.take()
        name = tier["tier"]
        headers = {
            "RateLimit-Policy": f'"{name}";q={tier["quota"]};w={tier["window_seconds"]}',
            "RateLimit": f'"{name}";r={remaining};t={wait}',
        }
        if not allowed:
            raise QuotaExceeded(name, headers | {"Retry-After": str(wait)})
        response.headers.update(headers)
        return key

    @app.exception_handler(QuotaExceeded)
    def too_many_requests(request: Request, exc: QuotaExceeded) -> JSONResponse:
        body = {
            "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
            "title": "Quota exceeded",
            "status": 429,
            "violated-policies": [exc.policy],
        }
        return JSONResponse(
            body, 429, headers=exc.headers, media_type="application/problem+json"
        )

    @app.get("/v1/quotes/{symbol}")
    def quote(symbol: str, key: str = Depends(rate_limit)) -> dict:
        return {"symbol": symbol, "price": 101.5}

    return app


async def main() -> None:
    now = [0.0]
    app = create_app(clock=lambda: now[0])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        for key in ("sk_test_alice", "sk_test_bob"):
            auth = {"Authorization": f"Bearer {key}"}
            got = [await client.get("/v1/quotes/A", headers=auth) for _ in range(12)]
            codes, last = [r.status_code for r in got], got[-1]
            counts = {code: codes.count(code) for code in sorted(set(codes))}
            print(
                key, counts, last.headers["ratelimit-policy"], last.headers["ratelimit"]
            )
            #> sk_test_alice {200: 10, 429: 2} "free";q=10;w=60 "free";r=0;t=6
            #> sk_test_bob {200: 12} "paid";q=600;w=60 "paid";r=588;t=1
        alice = {"Authorization": "Bearer sk_test_alice"}
        throttled = await client.get("/v1/quotes/A", headers=alice)
        print(throttled.status_code, "Retry-After:", throttled.headers["retry-after"])
        #> 429 Retry-After: 6
        problem = throttled.json()
        print(problem["type"].split("#")[1], problem["violated-policies"])
        #> quota-exceeded ['free']
        now[0] = 6.0  # one token has dripped back into alice's bucket
        again = await client.get("/v1/quotes/A", headers=alice)
        print(again.status_code, again.headers["ratelimit"])
        #> 200 "free";r=0;t=6


if __name__ == "__main__":
    asyncio.run(main())
