"""Behaviour of snippets/screen_shaped_responses.py: one round trip per screen, exact fields,
the caller's data only, GraphQL over HTTP status codes and query limits."""

import asyncio

import httpx
import pytest
import screen_shaped_responses as snippet

EXPECTED = {
    "viewer": {
        "name": "Ada",
        "orders": [
            {"id": "o2", "total": 2500, "status": "shipped"},
            {"id": "o3", "total": 3750, "status": "shipped"},
            {"id": "o4", "total": 5000, "status": "shipped"},
        ],
    }
}
ADA = {"Authorization": "Bearer tok_test_ada"}
BO = {"Authorization": "Bearer tok_test_bo"}


def run(coro):
    return asyncio.run(coro)


def call(method, url, headers=ADA, **kwargs) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.request(method, url, headers=headers, **kwargs)

    return run(go())


def gql(query, headers=ADA, **extra) -> httpx.Response:
    return call("POST", "/graphql", headers=headers, json={"query": query, **extra})


@pytest.fixture
def many_orders(monkeypatch):
    """Bo with 12 orders, to show the REST cost grows with N."""
    for n in range(12):
        order = {"id": f"x{n}", "buyer": "u2", "total": n, "status": "paid", "items": []}
        monkeypatch.setitem(snippet.ORDERS, f"x{n}", order)
    bo = snippet.USERS["u2"] | {"order_ids": [f"x{n}" for n in range(12)]}
    monkeypatch.setitem(snippet.USERS, "u2", bo)


def test_rest_needs_two_sequential_round_trips_even_with_parallel_order_requests():
    link, screen = run(snippet.measure(snippet.load_rest))
    assert (link.requests, link.round_trips) == (4, 2)
    assert screen == EXPECTED


def test_rest_one_by_one_needs_one_plus_n_sequential_round_trips():
    async def one_by_one(client):
        user = (await client.get("/users/u1")).json()
        return [(await client.get(f"/orders/{i}")).json() for i in user["order_ids"][-3:]]

    link, orders = run(snippet.measure(one_by_one))
    assert (link.requests, link.round_trips) == (4, 4)
    assert [o["id"] for o in orders] == ["o2", "o3", "o4"]


@pytest.mark.parametrize("loader", [snippet.load_graphql, snippet.load_bff])
def test_graphql_and_bff_are_one_round_trip_with_exactly_the_screen_fields(loader):
    link, screen = run(snippet.measure(loader))
    assert (link.requests, link.round_trips) == (1, 1)
    assert screen == EXPECTED  # no email, bio, items, address


def test_graphql_response_uses_the_graphql_response_media_type():
    response = gql(snippet.SCREEN_QUERY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json"
    assert response.json() == {"data": EXPECTED}


@pytest.mark.parametrize("last", [0, 1, 5, 12, 20])
def test_round_trips_scale_with_n_for_rest_and_stay_at_one_otherwise(many_orders, last):
    query = f"{{ viewer {{ name orders(last: {last}) {{ id total }} }} }}"

    async def rest(client):
        user = (await client.get("/users/u2")).json()
        ids = user["order_ids"][len(user["order_ids"]) - min(last, 12) :]
        return [(await client.get(f"/orders/{i}")).json()["total"] for i in ids]

    async def graphql(client):
        data = (await client.post("/graphql", json={"query": query})).json()["data"]
        return [o["total"] for o in data["viewer"]["orders"]]

    async def bff(client):
        screen = (await client.get(f"/screens/order-history?last={last}")).json()
        return [o["total"] for o in screen["viewer"]["orders"]]

    results = {f.__name__: run(snippet.measure(f, "tok_test_bo")) for f in (rest, graphql, bff)}
    assert results["rest"][0].round_trips == 1 + min(last, 12)
    assert results["graphql"][0].round_trips == results["bff"][0].round_trips == 1
    expected = list(range(12 - min(last, 12), 12))
    assert results["rest"][1] == results["graphql"][1] == results["bff"][1] == expected


def test_each_caller_sees_only_their_own_data():
    assert gql("{ viewer { name email } }", BO).json() == {
        "data": {"viewer": {"name": "Bo", "email": "bo@example.com"}}
    }
    assert call("GET", "/screens/order-history", BO).json() == {
        "viewer": {"name": "Bo", "orders": []}
    }


@pytest.mark.parametrize(
    ("path", "missing"), [("/users/u1", "/users/u9"), ("/orders/o1", "/orders/o9")]
)
def test_another_users_records_are_not_found(path, missing):
    assert call("GET", path).status_code == 200
    response = call("GET", path, BO)
    assert response.status_code == 404
    assert response.json()["type"] == "https://api.example.com/problems/not-found"
    assert response.json() == call("GET", missing, BO).json()  # the same as no such record


def test_there_is_no_argument_to_read_another_user():
    response = gql('{ user(id: "u1") { email } }', BO)
    assert response.status_code == 400
    assert "Cannot query field 'user'" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/graphql"), ("GET", "/screens/order-history"), ("GET", "/users/u1")],
)
@pytest.mark.parametrize(
    ("headers", "challenge"),
    [
        ({}, 'Bearer realm="api"'),
        ({"Authorization": "Bearer tok_test_eve"}, 'Bearer realm="api", error="invalid_token"'),
        ({"Authorization": "Basic dTE6cHc="}, 'Bearer realm="api", error="invalid_token"'),
    ],
)
def test_no_or_bad_token_is_a_401_problem_with_a_challenge(method, path, headers, challenge):
    response = call(method, path, headers, json={"query": snippet.SCREEN_QUERY})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["retryable"] is False


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_the_scheme_is_case_insensitive(scheme):
    assert (
        call("GET", "/screens/order-history", {"Authorization": f"{scheme} tok_test_ada"}).json()
        == EXPECTED
    )


def test_two_authorization_fields_are_refused():
    headers = [("Authorization", "Bearer tok_test_bo"), ("Authorization", "Bearer tok_test_ada")]
    response = call("GET", "/screens/order-history", headers)
    assert response.status_code == 400
    assert response.json()["type"] == "https://api.example.com/problems/invalid-request"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ viewer { orderIds } }", "Cannot query field 'orderIds' on type 'User'."),
        ("{ viewer { name", "Syntax Error"),
        (
            "{ viewer { orders { buyer { orders { buyer { orders { id } } } } } } }",
            "exceeds maximum operation depth of 4",
        ),
        (
            "{ a: viewer { name } b: viewer { name } c: viewer { name } "
            "d: viewer { name } e: viewer { name } }",
            "5 aliases found. Allowed: 4",
        ),
    ],
)
def test_request_errors_are_400_graphql_responses_without_data(query, message):
    response = gql(query)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/graphql-response+json"
    body = response.json()
    assert "data" not in body
    assert message in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "{ viewer { orders { buyer { orders { buyer { orders { id } } } } } } }",
            "exceeds maximum operation depth of 4",
        ),
        (
            "{ " + " ".join(f"{a}: viewer {{ orders {{ id }} }}" for a in "abcde") + " }",
            "5 aliases found. Allowed: 4",
        ),
    ],
)
def test_a_query_past_a_limit_is_refused_before_anything_is_loaded(monkeypatch, query, message):
    monkeypatch.setattr(snippet, "BATCHES", [])
    response = gql(query)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert snippet.BATCHES == []  # validation refused it: no resolver ran


def test_graphql_is_served_over_post_only_and_get_is_a_405_problem():
    response = call("GET", "/graphql", params={"query": "{ viewer { name } }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["type"] == "https://api.example.com/problems/method-not-allowed"


def test_depth_within_the_limit_runs_and_batches_each_level_into_one_load(monkeypatch):
    monkeypatch.setattr(snippet, "BATCHES", [])
    query = "{ viewer { orders(last: 3) { id buyer { name } } } }"
    response = gql(query)
    assert response.status_code == 200
    assert [o["buyer"]["name"] for o in response.json()["data"]["viewer"]["orders"]] == ["Ada"] * 3
    assert snippet.BATCHES == [["o2", "o3", "o4"]]  # one load for the list, not three


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"query": 5}',
        b'{"query": "{ viewer { name } }", "variables": 3}',
        b"{}",
    ],
)
def test_malformed_graphql_requests_are_400_problems(body):
    response = call(
        "POST", "/graphql", content=body, headers=ADA | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://api.example.com/problems/invalid-request"


@pytest.mark.parametrize("last", ["abc", "1.5"])
def test_a_bad_query_parameter_is_a_400_problem_naming_it(last):
    response = call("GET", f"/screens/order-history?last={last}")
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "last"


def test_unknown_path_and_wrong_method_are_problems():
    assert call("GET", "/nowhere").json()["type"].endswith("/not-found")
    response = call("DELETE", "/screens/order-history")
    assert response.status_code == 405
    assert response.json()["type"].endswith("/method-not-allowed")


def test_fifty_concurrent_screens_each_cost_one_round_trip():
    async def load(client):
        return await asyncio.gather(
            *(snippet.load_graphql(client) for _ in range(25)),
            *(snippet.load_bff(client) for _ in range(25)),
        )

    link, screens = run(snippet.measure(load))
    assert (link.requests, link.round_trips) == (50, 1)
    assert all(screen == EXPECTED for screen in screens)


def test_screen_payload_is_smaller_than_the_rest_payloads():
    sizes: list[int] = []

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        sizes.append(len(response.content))

    async def total(loader):
        sizes.clear()
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://api",
            headers=ADA,
            event_hooks={"response": [hook]},
        ) as client:
            await loader(client)
        return sum(sizes)

    assert run(total(snippet.load_bff)) < run(total(snippet.load_rest)) / 3


@pytest.mark.parametrize("last", [1000, -5])
def test_list_arguments_are_capped(monkeypatch, last):
    ids = [f"y{n}" for n in range(snippet.MAX_LAST + 5)]
    for oid in ids:
        monkeypatch.setitem(
            snippet.ORDERS, oid, {"id": oid, "buyer": "u2", "total": 1, "status": "paid"}
        )
    monkeypatch.setitem(snippet.USERS, "u2", snippet.USERS["u2"] | {"order_ids": ids})
    expected = ids[-snippet.MAX_LAST :] if last > 0 else []
    data = gql(f"{{ viewer {{ orders(last: {last}) {{ id }} }} }}", BO).json()["data"]
    assert [o["id"] for o in data["viewer"]["orders"]] == expected
    screen = call("GET", f"/screens/order-history?last={last}", BO).json()
    assert [o["id"] for o in screen["viewer"]["orders"]] == expected
