"""Test and live modes of one API: the stored key record picks the data store, and test
mode sends its side effects to a simulator driven by documented magic inputs."""

import asyncio
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

MODES = ("test", "live")
MAGIC_EMAILS = [  # test mode only: the simulator's answer; any other address: delivered
    {"email": "bounce@sandbox.example", "outcome": "bounced"},
    {"email": "complaint@sandbox.example", "outcome": "complained"},
    {"email": "delay@sandbox.example", "outcome": "deferred"},
]
PROBLEM_JSON = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
TYPES = {  # slug: (status, title, retryable), as registered in data/problem-types.yml
    "invalid-request": (400, "Invalid request", False),
    "method-not-allowed": (405, "Method not allowed", False),
    "not-found": (404, "Not found", False),
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


@dataclass
class Store:  # one per mode; in production a database, or at least a schema, per mode
    customers: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    account: str
    mode: str
    store: Store
    mailer: object


class NewCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)


async def email_simulator(address: str) -> str:  # sends nothing, ever
    outcomes = {m["email"]: m["outcome"] for m in MAGIC_EMAILS}
    return outcomes.get(address, "delivered")


def create_app(live_mailer) -> FastAPI:
    app = FastAPI()
    keys: dict[str, tuple[str, str]] = {}  # sha256(key) -> (account, mode)
    stores = {mode: Store() for mode in MODES}
    mailers = {"test": email_simulator, "live": live_mailer}
    ids = itertools.count(1)  # one sequence for both modes: an id names one object

    def issue_key(account: str, mode: str) -> str:
        key = f"sk_{mode}_{secrets.token_urlsafe(24)}"  # the prefix is for people
        keys[hashlib.sha256(key.encode()).hexdigest()] = (account, mode)
        return key

    app.state.issue_key, app.state.stores, app.state.keys = issue_key, stores, keys

    @app.exception_handler(Problem)
    async def send_problem(request: Request, error: Problem):
        return error.response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        slug = {404: "not-found", 405: "method-not-allowed"}.get(error.status_code)
        return problem(slug or "invalid-request", str(error.detail), error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        errors = [
            {"pointer": pointer(e["loc"][1:] if e["type"] != "json_invalid" else ())}
            | {"detail": e["msg"]}
            for e in error.errors()
        ]
        return problem("invalid-request", "See errors.", errors=errors)

    def environment(request: Request) -> Environment:
        values = request.headers.getlist("authorization")
        if len(values) > 1:
            raise Problem("invalid-request", "Send exactly one Authorization header.")
        scheme, _, key = (values or [""])[0].partition(" ")
        key = key.strip()
        record = keys.get(hashlib.sha256(key.encode()).hexdigest())
        if record and not key.startswith(f"sk_{record[1]}_"):
            record = None  # a prefix that disagrees with its record is refused
        if scheme.lower() != "bearer" or record is None:
            error = ', error="invalid_token"' if values else ""  # RFC 6750 §3.1
            challenge = {"WWW-Authenticate": f'Bearer realm="api"{error}'}
            raise Problem("unauthorized", "Send a valid secret key.", challenge)
        account, mode = record  # the mode comes from our record, never the request
        return Environment(account, mode, stores[mode], mailers[mode])

    def owned(env: Environment, customer_id: str) -> dict:
        customer = env.store.customers.get(customer_id)
        if customer is None or customer["account"] != env.account:
            raise Problem("not-found", "No such customer.")  # the same across modes
        return customer

    Env = Annotated[Environment, Depends(environment)]

    def public(env: Environment, customer: dict) -> dict:
        fields = {k: customer[k] for k in ("id", "email", "welcome_email")}
        return fields | {"livemode": env.mode == "live"}

    @app.post("/customers", status_code=201)
    async def create(body: NewCustomer, env: Env):
        customer = {"id": f"cus_{next(ids)}", "email": body.email}
        customer["welcome_email"] = await env.mailer(body.email)
        env.store.customers[customer["id"]] = {**customer, "account": env.account}
        return public(env, customer)

    @app.get("/customers")
    def list_customers(env: Env):
        mine = [c for c in env.store.customers.values() if c["account"] == env.account]
        return [public(env, c) for c in mine]

    @app.get("/customers/{customer_id}")
    def read(customer_id: str, env: Env):
        return public(env, owned(env, customer_id))

    @app.delete("/customers/{customer_id}", status_code=204)
    def delete(customer_id: str, env: Env):
        del env.store.customers[owned(env, customer_id)["id"]]

    return app


async def main() -> None:
    sent = []

    async def live_mailer(address: str) -> str:  # stands in for a real email provider
        sent.append(address)
        return "delivered"

    app = create_app(live_mailer)
    live = {"Authorization": f"Bearer {app.state.issue_key('acct_1', 'live')}"}
    test = {"Authorization": f"Bearer {app.state.issue_key('acct_1', 'test')}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        ada = {"email": "ada@corp.example"}
        real = await c.post("/customers", json=ada, headers=live)
        print(real.status_code, real.json()["id"], real.json()["livemode"])
        #> 201 cus_1 True
        bounce = {"email": "bounce@sandbox.example"}
        fake = await c.post("/customers", json=bounce, headers=test)
        print(fake.status_code, fake.json()["welcome_email"], fake.json()["livemode"])
        #> 201 bounced False
        response = await c.get("/customers/cus_1", headers=test)
        print(response.status_code, response.json()["title"])
        #> 404 Not found
        print((await c.delete("/customers/cus_1", headers=test)).status_code)
        #> 404
        print([x["id"] for x in (await c.get("/customers", headers=live)).json()])
        #> ['cus_1']
        print([x["id"] for x in (await c.get("/customers", headers=test)).json()], sent)
        #> ['cus_2'] ['ada@corp.example']


if __name__ == "__main__":
    asyncio.run(main())
