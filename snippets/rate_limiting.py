"""Per-key token buckets by tier, the RateLimit-Policy and RateLimit fields of
draft-ietf-httpapi-ratelimit-headers-12, a 429 with Retry-After, and a pacing client."""

import asyncio
import math
import random
import threading
import time
from fractions import Fraction

import httpx
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = {  # slug -> (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "unauthorized": (401, "Unauthorized", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "rate-limited": (429, "Too many requests", True),
}
TIERS = [
    {"tier": "free", "quota": 10, "window_seconds": 60},
    {"tier": "paid", "quota": 600, "window_seconds": 60},
]
API_KEYS = {"sk_test_alice": "free", "sk_test_bob": "paid"}  # key -> tier


class Problem(Exception):
    def __init__(self, slug: str, detail: str, headers=None, **extra):
        self.slug, self.detail, self.headers, self.extra = slug, detail, headers, extra


def problem(slug: str, detail: str, headers=None, **extra) -> JSONResponse:
    status, title, retryable = REGISTRY[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status,
            "detail": detail, "retryable": retryable, **extra}  # fmt: skip
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


class TokenBucket:
    """Up to `quota` tokens, refilled at quota/window a second; exact fractions."""

    def __init__(self, quota: int, window: int, clock):
        self.capacity, self.rate, self.clock = quota, Fraction(quota, window), clock
        self.tokens, self.updated = Fraction(quota), Fraction(clock())
        self.lock = threading.Lock()

    def take(self) -> tuple[bool, int, int]:
        """-> (allowed, r, t): use no more than r in the next t seconds."""
        with self.lock:  # read, refill, take and write back as one step
            now = Fraction(self.clock())
            tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            allowed = tokens >= 1
            left = tokens - allowed
            self.tokens, self.updated = left, now
        remaining = math.floor(left)
        next_token = math.ceil((remaining + 1 - left) / self.rate)
        # t is never shorter than r at the refill rate: r/t stays within q/w
        return allowed, remaining, max(next_token, math.ceil(remaining / self.rate))


def create_app(clock=time.monotonic) -> FastAPI:
    app = FastAPI()
    tiers = {t["tier"]: t for t in TIERS}
    buckets: dict[str, TokenBucket] = {}
    buckets_lock = threading.Lock()

    @app.exception_handler(Problem)
    def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem(exc.slug, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(HTTPException)
    def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code)
        return problem(slug or "invalid-request", str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem("invalid-request", "The request is not valid.")

    def rate_limit(request: Request, response: Response) -> str:
        """A sync dependency: FastAPI runs it in a worker thread, hence the lock."""
        fields = request.headers.getlist("authorization")
        if len(fields) > 1:
            raise Problem("invalid-request", "Send one Authorization field.",
                          header="authorization")  # fmt: skip
        scheme, _, key = (fields or [""])[0].partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in API_KEYS:
            challenge = 'Bearer realm="api"'
            if key:
                challenge += ', error="invalid_token"'
            raise Problem("unauthorized", "Send a valid API key.",
                          {"WWW-Authenticate": challenge})  # fmt: skip
        key, tier = key.strip(), tiers[API_KEYS[key.strip()]]
        with buckets_lock:
            bucket = buckets.setdefault(
                key, TokenBucket(tier["quota"], tier["window_seconds"], clock)
            )
        allowed, remaining, seconds = bucket.take()
        name = tier["tier"]
        headers = {
            "RateLimit-Policy": f'"{name}";q={tier["quota"]};'
            f'w={tier["window_seconds"]}',
            "RateLimit": f'"{name}";r={remaining};t={seconds}',
        }
        if not allowed:
            headers["Retry-After"] = str(seconds)
            raise Problem("rate-limited", f"Over the {name} tier's quota.", headers,
                          violated_policies=[name])  # fmt: skip
        response.headers.update(headers)
        return key

    @app.get("/v1/quotes/{symbol}")
    def quote(symbol: str, key: str = Depends(rate_limit)) -> dict:
        return {"symbol": symbol, "price": 101.5}

    return app


async def paced_get(client, url, headers, sleep, rng, tries=5) -> httpx.Response:
    """The client half: wait out Retry-After plus jitter on a retryable problem,
    and spread the remaining quota r evenly over the t seconds the server gives."""
    for _ in range(tries):
        response = await client.get(url, headers=headers)
        if response.status_code < 400:
            fields = response.headers["ratelimit"].split(";")[1:]  # "free";r=9;t=54
            params = dict(field.split("=") for field in fields)
            r, t = int(params["r"]), int(params["t"])
            await sleep(t / max(r, 1))  # pace: r requests spread over t seconds
            return response
        if not response.json().get("retryable"):
            return response
        await sleep(int(response.headers["retry-after"]) + rng.uniform(0, 1))
    return response


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
            #> sk_test_bob {200: 12} "paid";q=600;w=60 "paid";r=588;t=59
        alice = {"Authorization": "Bearer sk_test_alice"}
        throttled = await client.get("/v1/quotes/A", headers=alice)
        problem = throttled.json()
        print(throttled.status_code, throttled.headers["retry-after"], problem["type"])
        #> 429 6 https://api.example.com/problems/rate-limited
        print(problem["retryable"], problem["violated_policies"])
        #> True ['free']

        async def sleep(seconds: float) -> None:  # the demo's clock: no real waiting
            now[0] += seconds

        rng, start = random.Random(7), now[0]
        paced = [await paced_get(client, "/v1/quotes/A", alice, sleep, rng)
                 for _ in range(5)]  # fmt: skip
        print([r.status_code for r in paced], round(now[0] - start, 1))
        #> [200, 200, 200, 200, 200] 36.3


if __name__ == "__main__":
    asyncio.run(main())
