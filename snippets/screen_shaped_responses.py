"""Screen-shaped responses: one round trip per screen, via GraphQL or a BFF endpoint."""

import asyncio
import json

import httpx
import strawberry
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from strawberry.dataloader import DataLoader
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

MAX_LAST = 20  # items any list argument returns at most
MAX_DEPTH = 4  # nesting levels a query may have
MAX_ALIASES = 4  # aliases a query may use, each of which would repeat the work
TOKENS = {"tok_test_ada": "u1", "tok_test_bo": "u2"}  # stands in for JWT checks
PROBLEMS = "https://api.example.com/problems/"
PROBLEM_JSON = "application/problem+json"
GRAPHQL_JSON = "application/graphql-response+json"
SLUGS = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Unauthorized"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
}
USERS = {
    "u1": {"id": "u1", "name": "Ada", "email": "ada@example.com", "bio": "Compilers."}
    | {"order_ids": ["o1", "o2", "o3", "o4"]},
    "u2": {
        "id": "u2",
        "name": "Bo",
        "email": "bo@example.com",
        "bio": "",
        "order_ids": [],
    },
}
ORDERS = {
    f"o{n}": {
        "id": f"o{n}",
        "buyer": "u1",
        "total": 1250 * n,
        "status": "shipped",
        "currency": "EUR",
        "items": [{"sku": f"SKU-{n}-{i}", "qty": 1} for i in range(3)],
        "shipping_address": {"line1": "1 Main St", "city": "Lyon"},
    }
    for n in range(1, 5)
}
BATCHES: list[list[str]] = []  # what the DataLoader asked the order store for


def latest(ids: list[str], n: int) -> list[str]:
    n = max(0, min(n, MAX_LAST))  # every list argument needs a ceiling
    return ids[max(len(ids) - n, 0) :]


@strawberry.type
class Order:
    id: str
    total: int
    status: str
    buyer_id: strawberry.Private[str]

    @strawberry.field
    def buyer(self) -> "User":
        return user(self.buyer_id)


@strawberry.type
class User:
    id: str
    name: str
    email: str
    order_ids: strawberry.Private[list[str]]

    @strawberry.field
    async def orders(self, info: strawberry.Info, last: int = 10) -> list[Order]:
        return await info.context["orders"].load_many(latest(self.order_ids, last))


def user(user_id: str) -> User:
    u = USERS[user_id]
    return User(id=u["id"], name=u["name"], email=u["email"], order_ids=u["order_ids"])


async def load_orders(ids: list[str]) -> list[Order]:  # one query for a whole level
    BATCHES.append(list(ids))
    return [
        Order(
            **{k: ORDERS[i][k] for k in ("id", "total", "status")},
            buyer_id=ORDERS[i]["buyer"],
        )
        for i in ids
    ]


@strawberry.type
class Query:
    @strawberry.field
    def viewer(
        self, info: strawberry.Info
    ) -> User:  # the caller; there is no user(id:)
        return user(info.context["viewer"])


limits = [
    lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
    lambda: MaxAliasesLimiter(MAX_ALIASES),
]
schema = strawberry.Schema(query=Query, extensions=limits)
app = FastAPI()


def problem(status: int, detail: str, headers=None, **extensions) -> JSONResponse:
    slug, title = SLUGS[status]
    body = {"type": PROBLEMS + slug, "title": title, "status": status, "detail": detail}
    body |= {"retryable": False} | extensions
    return JSONResponse(body, status, headers=headers, media_type=PROBLEM_JSON)


@app.exception_handler(HTTPException)
async def http_problem(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code if exc.status_code in SLUGS else 400
    return problem(status, str(exc.detail), exc.headers)


@app.exception_handler(RequestValidationError)
async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {"parameter": str(e["loc"][-1]), "detail": e["msg"]} for e in exc.errors()
    ]
    return problem(400, "A query parameter is not valid.", errors=errors)


def viewer_id(request: Request) -> str:
    """The caller comes from the credential, never from a path or an argument."""
    fields = request.headers.getlist("authorization")
    if len(fields) > 1:
        raise HTTPException(400, "Send exactly one Authorization field.")
    scheme, _, token = (fields or [""])[0].partition(" ")
    if scheme.lower() == "bearer" and token.strip() in TOKENS:
        return TOKENS[token.strip()]
    challenge = 'Bearer realm="api"' + (', error="invalid_token"' if fields else "")
    raise HTTPException(
        401, "A valid bearer token is required.", {"WWW-Authenticate": challenge}
    )


@app.post("/graphql")  # GraphQL over HTTP, application/graphql-response+json
async def graphql(request: Request) -> JSONResponse:
    context = {"viewer": viewer_id(request), "orders": DataLoader(load_fn=load_orders)}
    try:
        payload = json.loads(await request.body())
        query, variables = payload["query"], payload.get("variables")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            raise TypeError
    except (ValueError, KeyError, TypeError, AttributeError):
        detail = "The body must be a JSON object with a string query."
        raise HTTPException(400, detail) from None
    result = await schema.execute(query, variables, context_value=context)
    errors = {"errors": [e.formatted for e in result.errors or []]}
    if result.data is None:  # a request error (parse, validate, limits): 4xx, no data
        return JSONResponse(errors, 400, media_type=GRAPHQL_JSON)
    body = {"data": result.data} | (errors if result.errors else {})
    return JSONResponse(body, media_type=GRAPHQL_JSON)


@app.get("/users/{user_id}")  # per-resource REST: whole records, the caller's only
def get_user(user_id: str, request: Request) -> dict:
    if user_id != viewer_id(request):
        raise HTTPException(404, "No such user.")
    return USERS[user_id]


@app.get("/orders/{order_id}")
def get_order(order_id: str, request: Request) -> dict:
    viewer = viewer_id(request)
    if order_id not in USERS[viewer]["order_ids"]:
        raise HTTPException(404, "No such order.")  # someone else's order: not found
    return ORDERS[order_id]


@app.get("/screens/order-history")  # BFF: the screen's cut for the caller, nothing else
def order_history_screen(request: Request, last: int = 3) -> dict:
    u = USERS[viewer_id(request)]
    fields = ("id", "total", "status")
    orders = [{k: ORDERS[i][k] for k in fields} for i in latest(u["order_ids"], last)]
    return {"viewer": {"name": u["name"], "orders": orders}}


SCREEN_QUERY = "{ viewer { name orders(last: 3) { id total status } } }"


async def load_rest(client: httpx.AsyncClient) -> dict:
    user = (await client.get("/users/u1")).json()
    ids = user["order_ids"][-3:]
    orders = await asyncio.gather(
        *(client.get(f"/orders/{i}") for i in ids)
    )  # parallel
    trimmed = [{k: o.json()[k] for k in ("id", "total", "status")} for o in orders]
    return {"viewer": {"name": user["name"], "orders": trimmed}}


async def load_graphql(client: httpx.AsyncClient) -> dict:
    return (await client.post("/graphql", json={"query": SCREEN_QUERY})).json()["data"]


async def load_bff(client: httpx.AsyncClient) -> dict:
    return (await client.get("/screens/order-history")).json()


class Link(httpx.AsyncBaseTransport):
    """Counts requests and sequential round trips: a request that starts after another
    one's answer arrived waits one round trip more than that one."""

    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner, self.requests, self.answered, self.round_trips = inner, 0, 0, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        depth = self.answered + 1
        self.requests, self.round_trips = (
            self.requests + 1,
            max(self.round_trips, depth),
        )
        await asyncio.sleep(0)  # requests sent together are in flight together
        response = await self.inner.handle_async_request(request)
        self.answered = max(self.answered, depth)
        return response


async def measure(loader, token: str = "tok_test_ada") -> tuple[Link, dict]:
    link = Link(httpx.ASGITransport(app=app))
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=link, base_url="http://api", headers=auth
    ) as c:
        screen = await loader(c)
    return link, screen


async def main() -> None:
    screens = []
    for loader in (load_rest, load_graphql, load_bff):
        link, screen = await measure(loader)
        screens.append(screen)
        print(
            f"{loader.__name__}: {link.requests} requests, {link.round_trips} in a row"
        )
        #> load_rest: 4 requests, 2 in a row
        #> load_graphql: 1 requests, 1 in a row
        #> load_bff: 1 requests, 1 in a row
    print(screens[0] == screens[1] == screens[2])
    #> True
    for order in screens[1]["viewer"]["orders"]:
        print(order)
        #> {'id': 'o2', 'total': 2500, 'status': 'shipped'}
        #> {'id': 'o3', 'total': 3750, 'status': 'shipped'}
        #> {'id': 'o4', 'total': 5000, 'status': 'shipped'}
    _, anonymous = await measure(load_bff, token="tok_test_eve")
    print(anonymous["status"], anonymous["type"])
    #> 401 https://api.example.com/problems/unauthorized


if __name__ == "__main__":
    asyncio.run(main())
