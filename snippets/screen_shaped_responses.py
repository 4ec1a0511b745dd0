"""Screen-shaped responses: one round trip per screen, via GraphQL or a BFF endpoint."""

import asyncio

import httpx
import strawberry
from fastapi import FastAPI, HTTPException
from strawberry.fastapi import GraphQLRouter

MAX_LAST = 20

USERS = {
    "u1": {
        "id": "u1",
        "name": "Ada",
        "email": "ada@example.com",
        "bio": "Writes compilers.",
        "order_ids": ["o1", "o2", "o3", "o4"],
    }
}
ORDERS = {
    f"o{n}": {
        "id": f"o{n}",
        "total": 1250 * n,
        "status": "shipped",
        "currency": "EUR",
        "items": [{"sku": f"SKU-{n}-{i}", "qty": 1} for i in range(3)],
        "shipping_address": {"line1": "1 Main St", "city": "Lyon"},
    }
    for n in range(1, 5)
}


@strawberry.type
class Order:
    id: str
    total: int
    status: str


@strawberry.type
class User:
    id: str
    name: str
    email: str
    order_ids: strawberry.Private[list[str]]

    @strawberry.field
    def orders(self, last: int = 10) -> list[Order]:
        return [order_summary(oid) for oid in latest(self.order_ids, last)]


def latest(ids: list[str], n: int) -> list[str]:
    n = min(n, MAX_LAST)  # every list argument needs a ceiling
    return ids[max(len(ids) - n, 0) :]


def order_summary(order_id: str) -> Order:
    order = ORDERS[order_id]
    return Order(id=order["id"], total=order["total"], status=order["status"])


@strawberry.type
class Query:
    @strawberry.field
    def user(self, id: str) -> User | None:
        if (u := USERS.get(id)) is None:
            return None
        return User(id=id, name=u["name"], email=u["email"], order_ids=u["order_ids"])


schema = strawberry.Schema(query=Query)
app = FastAPI()
app.include_router(GraphQLRouter(schema), prefix="/graphql")


@app.get("/users/{user_id}")  # per-resource REST: whole records
def get_user(user_id: str) -> dict:
    return USERS.get(user_id) or raise_404()


@app.get("/orders/{order_id}")
def get_order(order_id: str) -> dict:
    return ORDERS.get(order_id) or raise_404()


@app.get("/screens/order-history/{user_id}")  # BFF: the screen's cut, nothing else
def order_history_screen(user_id: str, last: int = 3) -> dict:
    user = USERS.get(user_id) or raise_404()
    orders = [vars(order_summary(oid)) for oid in latest(user["order_ids"], last)]
    return {"user": {"name": user["name"], "orders": orders}}


def raise_404():
    raise HTTPException(404, "not found")


SCREEN_QUERY = '{ user(id: "u1") { name orders(last: 3) { id total status } } }'


async def load_rest(client: httpx.AsyncClient) -> dict:
    user = (await client.get("/users/u1")).json()
    orders = [
        (await client.get(f"/orders/{oid}")).json() for oid in user["order_ids"][-3:]
    ]
    trimmed = [{k: o[k] for k in ("id", "total", "status")} for o in orders]
    return {"user": {"name": user["name"], "orders": trimmed}}


async def load_graphql(client: httpx.AsyncClient) -> dict:
    return (await client.post("/graphql", json={"query": SCREEN_QUERY})).json()["data"]


async def load_bff(client: httpx.AsyncClient) -> dict:
    return (await client.get("/screens/order-history/u1")).json()


async def count_round_trips(loader) -> tuple[int, dict]:
    sent = []

    async def on_request(request: httpx.Request) -> None:
        sent.append(request.url.path)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://api",
        event_hooks={"request": [on_request]},
    ) as client:
        screen = await loader(client)
    return len(sent), screen


async def main() -> None:
    screens = []
    for loader in (load_rest, load_graphql, load_bff):
        trips, screen = await count_round_trips(loader)
        screens.append(screen)
        print(loader.__name__, "round trips:", trips)
        #> load_rest round trips: 4
        #> load_graphql round trips: 1
        #> load_bff round trips: 1
    print(screens[0] == screens[1] == screens[2])
    #> True
    for order in screens[1]["user"]["orders"]:
        print(order)
        #> {'id': 'o2', 'total': 2500, 'status': 'shipped'}
        #> {'id': 'o3', 'total': 3750, 'status': 'shipped'}
        #> {'id': 'o4', 'total': 5000, 'status': 'shipped'}


if __name__ == "__main__":
    asyncio.run(main())
