"""The Idempotency-Key charge endpoint (draft-ietf-httpapi-idempotency-key-header-07)."""

import asyncio

import httpx
import idempotency_keys as snippet
import pytest

BODY = {"amount": 500, "currency": "eur"}
KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
PROBLEM = "application/problem+json"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class GatedGateway:
    """A card network that answers only when the test says so, so requests truly overlap."""

    def __init__(self):
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, amount, currency):
        self.calls += 1
        await self.release.wait()
        return "succeeded"


async def instant_gateway(amount, currency):
    await asyncio.sleep(0)
    return "succeeded"


def client_for(app):
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://api")


def post(client, key=KEY, body=BODY, auth="Bearer sk_test_a"):
    headers = {"Authorization": auth}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/charges", json=body, headers=headers)


async def test_fifty_concurrent_requests_create_one_charge_and_in_flight_ones_get_409():
    gateway = GatedGateway()
    app = snippet.create_app(gateway)
    async with client_for(app) as client:
        tasks = [asyncio.create_task(post(client)) for _ in range(50)]
        # Wait until the 49 duplicates have been answered while the first is still held.
        for _ in range(2000):
            if sum(t.done() for t in tasks) == 49:
                break
            await asyncio.sleep(0.001)
        assert sum(t.done() for t in tasks) == 49
        assert gateway.calls == 1
        gateway.release.set()
        responses = await asyncio.gather(*tasks)

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 49
        first = next(r for r in responses if r.status_code == 201)
        assert first.json() == {**BODY, "id": "ch_1", "status": "succeeded"}
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.headers["content-type"] == PROBLEM
            assert conflict.headers["retry-after"] == "1"
            assert conflict.json() == {
                "type": "https://api.example.com/problems/idempotency-key-in-flight",
                "title": "Request in progress",
                "status": 409,
            }
        assert app.state.charges == [first.json()]

        # After completion, 50 concurrent retries all get the stored response, byte for byte.
        retries = await asyncio.gather(*(post(client) for _ in range(50)))
        assert {(r.status_code, r.content) for r in retries} == {(201, first.content)}
        assert len(app.state.charges) == 1
        assert gateway.calls == 1


async def test_fifty_concurrent_requests_with_a_real_delay_each_get_the_first_or_409():
    async def gateway(amount, currency):
        await asyncio.sleep(0.05)
        return "succeeded"

    app = snippet.create_app(gateway)
    async with client_for(app) as client:
        responses = await asyncio.gather(*(post(client) for _ in range(50)))
    created = [r for r in responses if r.status_code == 201]
    assert len(app.state.charges) == 1
    assert {r.content for r in created} == {created[0].content}
    assert all(r.status_code in (201, 409) for r in responses)


async def test_same_key_with_a_different_body_is_422_and_charges_nothing():
    app = snippet.create_app(instant_gateway)
    async with client_for(app) as client:
        assert (await post(client)).status_code == 201
        response = await post(client, body={"amount": 900, "currency": "eur"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "https://api.example.com/problems/idempotency-key-reused"
    assert len(app.state.charges) == 1


async def test_different_body_while_first_is_in_flight_is_422_not_409():
    gateway = GatedGateway()
    app = snippet.create_app(gateway)
    async with client_for(app) as client:
        first = asyncio.create_task(post(client))
        while gateway.calls == 0:
            await asyncio.sleep(0.001)
        same = await post(client)
        other = await post(client, body={"amount": 1, "currency": "eur"})
        gateway.release.set()
        assert (await first).status_code == 201
    assert (same.status_code, other.status_code) == (409, 422)


async def test_key_order_and_whitespace_do_not_change_the_fingerprint():
    app = snippet.create_app(instant_gateway)
    async with client_for(app) as client:
        first = await post(client)
        reordered = await client.post(
            "/v1/charges",
            content=b'{ "currency": "eur",  "amount": 500 }',
            headers={"Idempotency-Key": KEY, "Authorization": "Bearer sk_test_a"},
        )
    assert (reordered.status_code, reordered.content) == (201, first.content)


@pytest.mark.parametrize(
    "key, slug",
    [(None, "idempotency-key-missing"), ('"short"', "idempotency-key-invalid")],
)
async def test_missing_or_malformed_key_is_400(key, slug):
    app = snippet.create_app(instant_gateway)
    async with client_for(app) as client:
        response = await post(client, key=key)
    assert response.status_code == 400
    assert response.json()["type"] == f"https://api.example.com/problems/{slug}"
    assert app.state.charges == []


async def test_keys_are_scoped_to_the_caller():
    app = snippet.create_app(instant_gateway)
    async with client_for(app) as client:
        a = await post(client, auth="Bearer sk_test_a")
        b = await post(client, auth="Bearer sk_test_b")
    assert (a.json()["id"], b.json()["id"]) == ("ch_1", "ch_2")


async def test_key_expires_after_the_published_window():
    now = [0.0]
    app = snippet.create_app(instant_gateway, clock=lambda: now[0])
    async with client_for(app) as client:
        assert (await post(client)).status_code == 201
        now[0] = snippet.KEY_TTL_HOURS * 3600 - 1
        assert (await post(client, body={**BODY, "amount": 9})).status_code == 422
        now[0] = snippet.KEY_TTL_HOURS * 3600
        after = await post(client, body={**BODY, "amount": 9})
    assert (after.status_code, after.json()["id"]) == (201, "ch_2")


async def test_a_failed_attempt_releases_the_key():
    attempts = []

    async def flaky(amount, currency):
        attempts.append(amount)
        if len(attempts) == 1:
            raise ConnectionError("gateway unreachable")
        return "succeeded"

    app = snippet.create_app(flaky)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        assert (await post(client)).status_code == 500
        assert (await post(client)).status_code == 201
    assert len(app.state.charges) == 1
