"""Behaviour of snippets/screen_shaped_responses.py: one round trip per screen, exact fields."""

import asyncio

import httpx
import pytest
import screen_shaped_responses as snippet

EXPECTED = {
    "user": {
        "name": "Ada",
        "orders": [
            {"id": "o2", "total": 2500, "status": "shipped"},
            {"id": "o3", "total": 3750, "status": "shipped"},
            {"id": "o4", "total": 5000, "status": "shipped"},
        ],
    }
}


def run(coro):
    return asyncio.run(coro)


async def counted(coro_fn):
    """Run coro_fn(client) and return (paths requested, result)."""
    sent: list[str] = []

    async def hook(request: httpx.Request) -> None:
        sent.append(f"{request.method} {request.url.path}")

    transport = httpx.ASGITransport(app=snippet.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://api", event_hooks={"request": [hook]}
    ) as client:
        result = await coro_fn(client)
    return sent, result


@pytest.fixture
def many_orders(monkeypatch):
    """User u2 with 12 orders, to show the REST cost grows with N."""
    orders = {
        f"x{n}": {"id": f"x{n}", "total": n, "status": "paid", "items": []} for n in range(12)
    }
    for key, value in orders.items():
        monkeypatch.setitem(snippet.ORDERS, key, value)
    user = {"id": "u2", "name": "Bo", "email": "bo@example.com", "order_ids": list(orders)}
    monkeypatch.setitem(snippet.USERS, "u2", user)
    return orders


def test_per_resource_rest_pays_one_plus_n_round_trips():
    sent, screen = run(counted(snippet.load_rest))
    assert sent == ["GET /users/u1", "GET /orders/o2", "GET /orders/o3", "GET /orders/o4"]
    assert screen == EXPECTED


def test_graphql_is_one_round_trip_with_exactly_the_requested_fields():
    async def load(client):
        return await client.post("/graphql", json={"query": snippet.SCREEN_QUERY})

    sent, response = run(counted(load))
    assert sent == ["POST /graphql"]
    assert response.status_code == 200
    assert response.json() == {"data": EXPECTED}  # no email, bio, items, address


def test_bff_is_one_round_trip_with_exactly_the_screen_fields():
    async def load(client):
        return await client.get("/screens/order-history/u1")

    sent, response = run(counted(load))
    assert sent == ["GET /screens/order-history/u1"]
    assert response.json() == EXPECTED


@pytest.mark.parametrize("last", [0, 1, 5, 12, 20])
def test_round_trip_counts_scale_1_plus_n_versus_1(many_orders, last):
    query = f'{{ user(id: "u2") {{ name orders(last: {last}) {{ id total }} }} }}'

    async def rest(client):
        user = (await client.get("/users/u2")).json()
        ids = user["order_ids"][max(len(user["order_ids"]) - last, 0) :]
        return [(await client.get(f"/orders/{i}")).json()["total"] for i in ids]

    async def graphql(client):
        data = (await client.post("/graphql", json={"query": query})).json()["data"]
        return [o["total"] for o in data["user"]["orders"]]

    async def bff(client):
        screen = (await client.get(f"/screens/order-history/u2?last={last}")).json()
        return [o["total"] for o in screen["user"]["orders"]]

    rest_sent, rest_totals = run(counted(rest))
    gql_sent, gql_totals = run(counted(graphql))
    bff_sent, bff_totals = run(counted(bff))
    assert len(rest_sent) == 1 + min(last, 12)
    assert len(gql_sent) == 1 and len(bff_sent) == 1
    expected = list(range(12 - min(last, 12), 12))
    assert gql_totals == bff_totals == rest_totals == expected


def test_schema_execute_returns_only_selected_fields():
    result = snippet.schema.execute_sync('{ user(id: "u1") { email orders(last: 1) { id } } }')
    assert result.errors is None
    assert result.data == {"user": {"email": "ada@example.com", "orders": [{"id": "o4"}]}}


def test_private_and_unknown_fields_are_rejected_by_validation():
    result = snippet.schema.execute_sync('{ user(id: "u1") { orderIds } }')
    assert result.data is None
    assert [e.message for e in result.errors] == [
        "Cannot query field 'orderIds' on type 'User'. Did you mean 'orders'?"
    ]


def test_unknown_user_is_null_in_graphql_and_404_in_bff():
    result = snippet.schema.execute_sync('{ user(id: "nobody") { name } }')
    assert result.data == {"user": None}

    async def load(client):
        return await client.get("/screens/order-history/nobody")

    _, response = run(counted(load))
    assert response.status_code == 404


def test_fifty_concurrent_screens_each_cost_one_round_trip():
    async def load(client):
        return await asyncio.gather(
            *(snippet.load_graphql(client) for _ in range(25)),
            *(snippet.load_bff(client) for _ in range(25)),
        )

    sent, screens = run(counted(load))
    assert len(sent) == 50
    assert sent.count("POST /graphql") == 25
    assert all(screen == EXPECTED for screen in screens)


def test_screen_payload_is_smaller_than_the_rest_payloads():
    sizes: list[int] = []

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        sizes.append(len(response.content))

    async def measure(loader):
        sizes.clear()
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", event_hooks={"response": [hook]}
        ) as client:
            await loader(client)
        return sum(sizes)

    rest_bytes = run(measure(snippet.load_rest))
    bff_bytes = run(measure(snippet.load_bff))
    assert bff_bytes < rest_bytes / 3


def test_list_arguments_are_capped(monkeypatch):
    ids = [f"y{n}" for n in range(snippet.MAX_LAST + 5)]
    for oid in ids:
        monkeypatch.setitem(snippet.ORDERS, oid, {"id": oid, "total": 1, "status": "paid"})
    monkeypatch.setitem(
        snippet.USERS, "u3", {"id": "u3", "name": "Cy", "email": "c@example.com", "order_ids": ids}
    )
    result = snippet.schema.execute_sync('{ user(id: "u3") { orders(last: 1000) { id } } }')
    assert [o["id"] for o in result.data["user"]["orders"]] == ids[-snippet.MAX_LAST :]

    async def load(client):
        return await client.get("/screens/order-history/u3?last=1000")

    _, response = run(counted(load))
    assert len(response.json()["user"]["orders"]) == snippet.MAX_LAST == 20
