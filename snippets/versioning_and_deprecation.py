"""/v1 and /v2 side by side; v1 announces Deprecation and Sunset, then answers 410."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

MIN_DEPRECATION_DAYS = 365
DOCS = "https://docs.example"


@dataclass(frozen=True)
class Retirement:
    deprecated_at: datetime
    sunset_at: datetime
    guide: str
    successor: str

    def __post_init__(self):
        if self.sunset_at - self.deprecated_at < timedelta(days=MIN_DEPRECATION_DAYS):
            raise ValueError(
                f"sunset must be >= {MIN_DEPRECATION_DAYS} days after deprecation"
            )


RETIREMENTS = {
    "v1": Retirement(
        deprecated_at=datetime(2026, 6, 1, tzinfo=UTC),
        sunset_at=datetime(2027, 6, 1, tzinfo=UTC),
        guide=f"{DOCS}/migrate/v1-to-v2",
        successor="v2",
    )
}
CUSTOMERS = {"cus_1": ("Ada", "Lovelace")}


def create_app(clock=lambda: datetime.now(UTC)) -> FastAPI:
    app = FastAPI()
    v1, v2 = APIRouter(prefix="/v1"), APIRouter(prefix="/v2")

    @v1.get("/customers/{customer_id}")
    def get_customer_v1(customer_id: str):
        given, family = CUSTOMERS[customer_id]
        return {"id": customer_id, "name": f"{given} {family}"}

    @v2.get("/customers/{customer_id}")  # v2 split `name`: a breaking change
    def get_customer_v2(customer_id: str):
        given, family = CUSTOMERS[customer_id]
        return {"id": customer_id, "given_name": given, "family_name": family}

    app.include_router(v1)
    app.include_router(v2)

    @app.middleware("http")
    async def lifecycle(request: Request, call_next):
        version, _, rest = request.url.path.lstrip("/").partition("/")
        plan = RETIREMENTS.get(version)
        if plan is None:
            return await call_next(request)
        links = (
            f'<{plan.guide}>; rel="deprecation"; type="text/html", '
            f'</{plan.successor}/{rest}>; rel="successor-version"'
        )
        if clock() >= plan.sunset_at:
            problem = {
                "type": f"{DOCS}/problems/version-retired",
                "title": "API version retired",
                "status": 410,
                "detail": f"{version} was retired on {plan.sunset_at:%Y-%m-%d}; "
                f"move to {plan.successor} using the migration guide",
            }
            headers = {"Link": links}
            return JSONResponse(problem, 410, headers, "application/problem+json")
        response = await call_next(request)
        response.headers["Deprecation"] = f"@{int(plan.deprecated_at.timestamp())}"
        response.headers["Sunset"] = format_datetime(plan.sunset_at, usegmt=True)
        response.headers["Link"] = links
        return response

    return app


async def main() -> None:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    transport = httpx.ASGITransport(app=create_app(clock=lambda: now))
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
            #> successor-version /v2/customers/cus_1
        new = await c.get("/v2/customers/cus_1")
        print(new.status_code, new.json(), "Deprecation" in new.headers)
        #> 200 {'id': 'cus_1', 'given_name': 'Ada', 'family_name': 'Lovelace'} False
        now = datetime(2027, 6, 1, tzinfo=UTC)  # the sunset date arrives
        gone = await c.get("/v1/customers/cus_1")
        print(gone.status_code, gone.headers["content-type"])
        #> 410 application/problem+json
        print(gone.json()["detail"])
        #> v1 was retired on 2027-06-01; move to v2 using the migration guide
    try:
        Retirement(now, now + timedelta(days=90), f"{DOCS}/migrate/v2-to-v3", "v3")
    except ValueError as error:
        print(error)
        #> sunset must be >= 365 days after deprecation


if __name__ == "__main__":
    asyncio.run(main())
