"""Sandbox and production as separate data stores: the API key alone picks the store."""

import asyncio
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

MODES = ("test", "live")


@dataclass
class Store:  # in production: a separate database (or at least schema) per mode
    customers: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    account: str
    mode: str
    store: Store


class Problem(Exception):
    def __init__(self, status: int, title: str):
        self.status, self.title = status, title


def create_app() -> FastAPI:
    app = FastAPI()
    keys: dict[str, tuple[str, str]] = {}  # sha256(key) -> (account, mode)
    stores = {mode: Store() for mode in MODES}
    ids = itertools.count(1)

    def issue_key(account: str, mode: str) -> str:
        key = f"sk_{mode}_{secrets.token_urlsafe(24)}"  # the prefix is for humans
        keys[hashlib.sha256(key.encode()).hexdigest()] = (account, mode)
        return key

    app.state.issue_key, app.state.stores = issue_key, stores

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem):
        body = {"title": exc.title, "status": exc.status}
        return JSONResponse(body, exc.status, media_type="application/problem+json")

    def environment(authorization: Annotated[str, Header()] = "") -> Environment:
        key = authorization.removeprefix("Bearer ")
        record = keys.get(hashlib.sha256(key.encode()).hexdigest())
        if record is None:
            raise Problem(401, "Unknown API key")
        account, mode = record  # the mode comes from our record, never the request
        return Environment(account, mode, stores[mode])

    def owned(env: Environment, customer_id: str) -> dict:
        customer = env.store.customers.get(customer_id)
        if customer is None or customer["account"] != env.account:
            raise Problem(404, f"No such customer: {customer_id}")
        return customer

    Env = Annotated[Environment, Depends(environment)]

    def public(env: Environment, customer: dict) -> dict:
        return {"id": customer["id"], "email": customer["email"],
                "livemode": env.mode == "live"}  # fmt: skip

    @app.post("/customers", status_code=201)
    def create(body: dict, env: Env):
        customer = {"id": f"cus_{next(ids)}", "email": body["email"]}
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
    app = create_app()
    live = {"Authorization": f"Bearer {app.state.issue_key('acct_1', 'live')}"}
    test = {"Authorization": f"Bearer {app.state.issue_key('acct_1', 'test')}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
        real = await c.post(
            "/customers", json={"email": "ada@corp.example"}, headers=live
        )
        print(real.status_code, real.json())
        #> 201 {'id': 'cus_1', 'email': 'ada@corp.example', 'livemode': True}
        fake = await c.post(
            "/customers", json={"email": "t@test.example"}, headers=test
        )
        print(fake.status_code, fake.json())
        #> 201 {'id': 'cus_2', 'email': 't@test.example', 'livemode': False}
        response = await c.get("/customers/cus_1", headers=test)
        print(response.status_code, response.json())
        #> 404 {'title': 'No such customer: cus_1', 'status': 404}
        response = await c.delete("/customers/cus_1", headers=test)
        print(response.status_code)
        #> 404
        print([x["id"] for x in (await c.get("/customers", headers=live)).json()])
        #> ['cus_1']
        print([x["id"] for x in (await c.get("/customers", headers=test)).json()])
        #> ['cus_2']


if __name__ == "__main__":
    asyncio.run(main())
