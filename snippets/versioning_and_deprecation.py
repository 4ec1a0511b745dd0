"""/v1 and /v2 side by side: v1 announces Deprecation and Sunset a year ahead, is
browned out for a few hours before the sunset, and then answers 410 Gone."""

import asyncio
import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

MIN_NOTICE_DAYS = 365  # from the first response that carried the headers to the sunset
DOCS = "https://docs.example"
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_TYPES = {  # slug: (status, title, retryable), as in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "not-found": (404, "Not found", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "version-retired": (410, "API version retired", False),
    "version-brownout": (410, "API version browned out", True),
}


def problem(slug: str, detail: str, headers=None) -> JSONResponse:
    status, title, retryable = PROBLEM_TYPES[slug]
    body = {"type": PROBLEMS + slug, "title": title, "status": status}
    body |= {"detail": detail, "retryable": retryable}
    return JSONResponse(body, status, headers, media_type=PROBLEM_JSON)


@dataclass(frozen=True)
class Retirement:
    announced_at: datetime  # the first moment the headers are served
    deprecated_at: datetime
    sunset_at: datetime
    guide: str
    successor: str
    brownouts: tuple[tuple[datetime, datetime], ...] = ()  # windows answered with 410

    def __post_init__(self):
        if self.sunset_at < self.announced_at + timedelta(days=MIN_NOTICE_DAYS):
            raise ValueError(f"sunset must be >= {MIN_NOTICE_DAYS} days after notice")
        if not self.announced_at <= self.deprecated_at <= self.sunset_at:
            raise ValueError("announce, then deprecate, then sunset")


def announce(plans: dict, version: str, plan: Retirement, now: datetime) -> None:
    """Notice counts from when clients are first told, never from a date in the past."""
    if plan.announced_at < now:
        raise ValueError("announced_at is in the past: no client saw the headers then")
    if version in plans and plan.sunset_at < plans[version].sunset_at:
        raise ValueError("a sunset can move later, never earlier")
    plans[version] = plan


BROWNOUT = datetime(2027, 5, 4, 14, tzinfo=UTC)  # four weeks before the sunset
RETIREMENTS = {
    "v1": Retirement(
        announced_at=datetime(2026, 6, 1, tzinfo=UTC),
        deprecated_at=datetime(2026, 6, 1, tzinfo=UTC),
        sunset_at=datetime(2027, 6, 1, tzinfo=UTC),
        guide=f"{DOCS}/migrate/v1-to-v2",
        successor="v2",
        brownouts=((BROWNOUT, BROWNOUT + timedelta(hours=4)),),
    )
}
CUSTOMERS = {"cus_1": ("Ada", "Lovelace")}


def create_app(plans=RETIREMENTS, clock=lambda: datetime.now(UTC)) -> FastAPI:
    app = FastAPI()
    app.state.usage = Counter()  # (version, caller) -> calls: who still has to move
    v1 = APIRouter(prefix="/v1", deprecated=True)  # OpenAPI: `deprecated: true`
    v2 = APIRouter(prefix="/v2")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return problem("invalid-request", "The request is not valid.")

    def customer(customer_id: str) -> tuple[str, str]:
        if customer_id not in CUSTOMERS:
            raise HTTPException(404, f"No customer {customer_id}.")
        return CUSTOMERS[customer_id]

    @v1.get("/customers/{customer_id}")
    def get_customer_v1(customer_id: str):
        given, family = customer(customer_id)
        return {"id": customer_id, "name": f"{given} {family}"}

    @v2.get("/customers/{customer_id}")  # v2 split `name`: a breaking change
    def get_customer_v2(customer_id: str):
        given, family = customer(customer_id)
        return {"id": customer_id, "given_name": given, "family_name": family}

    app.include_router(v1)
    app.include_router(v2)

    @app.middleware("http")
    async def lifecycle(request: Request, call_next):
        version, _, rest = request.url.path.lstrip("/").partition("/")
        plan, now = plans.get(version), clock()
        if plan is None or now < plan.announced_at:
            return await call_next(request)
        key = request.headers.get("authorization", "anonymous").encode()
        app.state.usage[(version, hashlib.sha256(key).hexdigest()[:12])] += 1
        headers = {
            "Deprecation": f"@{int(plan.deprecated_at.timestamp())}",  # RFC 9745
            "Sunset": format_datetime(plan.sunset_at, usegmt=True),  # RFC 8594
            "Link": f'<{plan.guide}>; rel="deprecation"; type="text/html", '
            f'<{DOCS}/deprecation-policy>; rel="sunset", '
            f'</{plan.successor}/{rest}>; rel="successor-version"',
        }
        if now >= plan.sunset_at:
            retired = f"{version} was retired on {plan.sunset_at:%Y-%m-%d}"
            detail = f"{retired}; use {plan.successor}"
            return problem("version-retired", detail, headers)
        for start, end in plan.brownouts:
            if start <= now < end:  # a planned outage that finds the stragglers
                wait = {"Retry-After": str(int((end - now).total_seconds()))}
                detail = f"{version} is off until {end:%H:%M} UTC, a rehearsal"
                return problem("version-brownout", detail, headers | wait)
        response = await call_next(request)
        response.headers.update(headers)  # on every response, errors included
        return response

    return app


async def main() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    app = create_app(clock=lambda: now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        old = await c.get("/v1/customers/cus_1")
        print(old.status_code, old.json())
        #> 200 {'id': 'cus_1', 'name': 'Ada Lovelace'}
        for name in ("Deprecation", "Sunset"):
            print(f"{name}: {old.headers[name]}")
            #> Deprecation: @1780272000
            #> Sunset: Tue, 01 Jun 2027 00:00:00 GMT
        for rel, link in old.links.items():  # httpx parses the Link header
            print(rel, link["url"])
            #> deprecation https://docs.example/migrate/v1-to-v2
            #> sunset https://docs.example/deprecation-policy
            #> successor-version /v2/customers/cus_1
        missing = await c.get("/v1/customers/cus_9")
        print(missing.status_code, missing.headers["sunset"])
        #> 404 Tue, 01 Jun 2027 00:00:00 GMT
        new = await c.get("/v2/customers/cus_1")
        print(new.status_code, new.json(), "Deprecation" in new.headers)
        #> 200 {'id': 'cus_1', 'given_name': 'Ada', 'family_name': 'Lovelace'} False
        now = datetime(2027, 5, 4, 15, tzinfo=UTC)  # during the brownout
        brownout = await c.get("/v1/customers/cus_1")
        print(brownout.status_code, brownout.headers["retry-after"])
        #> 410 10800
        now = datetime(2027, 6, 1, tzinfo=UTC)  # the sunset date arrives
        gone = await c.get("/v1/customers/cus_1")
        print(gone.status_code, gone.json()["detail"])
        #> 410 v1 was retired on 2027-06-01; use v2
    print(len(app.state.usage), "caller still on v1")
    #> 1 caller still on v1
    try:  # a plan written today cannot claim it was announced last year
        year_ago, tomorrow = now - timedelta(days=400), now + timedelta(days=1)
        late = Retirement(year_ago, now, tomorrow, f"{DOCS}/migrate/v2-to-v3", "v3")
        announce(RETIREMENTS, "v2", late, now)
    except ValueError as error:
        print(error)
        #> announced_at is in the past: no client saw the headers then


if __name__ == "__main__":
    asyncio.run(main())
