"""Behaviour of the sandbox: test and live data are separate stores chosen by the key."""

import asyncio

import httpx
import sandbox_environments as snippet
from hypothesis import given, settings
from hypothesis import strategies as st


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def create(c, headers: dict, email: str) -> str:
    response = await c.post("/customers", json={"email": email}, headers=headers)
    assert response.status_code == 201
    return response.json()["id"]


def run(scenario):
    async def go():
        app = snippet.create_app()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            keys = {mode: bearer(app.state.issue_key("acct_1", mode)) for mode in snippet.MODES}
            keys["issue_key"] = app.state.issue_key
            return await scenario(c, keys, app.state.stores)

    return asyncio.run(go())


def test_test_key_can_neither_read_nor_change_live_data():
    async def scenario(c, keys, stores):
        live_id = await create(c, keys["live"], "a@x")
        before = dict(stores["live"].customers)
        read = await c.get(f"/customers/{live_id}", headers=keys["test"])
        assert read.status_code == 404
        assert read.headers["content-type"] == "application/problem+json"
        assert read.json() == {"title": f"No such customer: {live_id}", "status": 404}
        assert (await c.delete(f"/customers/{live_id}", headers=keys["test"])).status_code == 404
        assert (await c.get("/customers", headers=keys["test"])).json() == []
        created = await c.post("/customers", json={"email": "t@x"}, headers=keys["test"])
        assert created.json()["livemode"] is False
        assert stores["live"].customers == before
        assert list(stores["test"].customers) == [created.json()["id"]]
        live = await c.get(f"/customers/{live_id}", headers=keys["live"])
        assert live.json() == {"id": live_id, "email": "a@x", "livemode": True}

    run(scenario)


def test_live_key_can_neither_read_nor_change_test_data():
    async def scenario(c, keys, stores):
        test_id = await create(c, keys["test"], "t@x")
        assert (await c.get(f"/customers/{test_id}", headers=keys["live"])).status_code == 404
        assert (await c.delete(f"/customers/{test_id}", headers=keys["live"])).status_code == 404
        assert (await c.get("/customers", headers=keys["live"])).json() == []
        assert test_id in stores["test"].customers
        assert (await c.delete(f"/customers/{test_id}", headers=keys["test"])).status_code == 204
        assert stores["test"].customers == {}

    run(scenario)


def test_mode_comes_from_the_key_record_not_the_prefix():
    async def scenario(c, keys, stores):
        test_secret = keys["test"]["Authorization"].removeprefix("Bearer sk_test_")
        for forged in (f"sk_live_{test_secret}", "sk_test_unknown", "sk_live_unknown", ""):
            response = await c.post("/customers", json={"email": "x@x"}, headers=bearer(forged))
            assert response.status_code == 401
            assert response.json() == {"title": "Unknown API key", "status": 401}
        assert stores["live"].customers == {} and stores["test"].customers == {}

    run(scenario)


def test_other_accounts_are_invisible_in_the_same_mode():
    async def scenario(c, keys, stores):
        app_other = bearer(keys["issue_key"]("acct_2", "test"))
        mine = (await c.post("/customers", json={"email": "t@x"}, headers=keys["test"])).json()
        assert (await c.get(f"/customers/{mine['id']}", headers=app_other)).status_code == 404
        assert (await c.get("/customers", headers=app_other)).json() == []

    run(scenario)


def test_concurrent_test_traffic_never_touches_live():
    async def scenario(c, keys, stores):
        live_ids = [await create(c, keys["live"], f"l{i}@x") for i in range(5)]
        snapshot = {k: dict(v) for k, v in stores["live"].customers.items()}
        attacks = [c.delete(f"/customers/{i}", headers=keys["test"]) for i in live_ids * 10]
        creates = [
            c.post("/customers", json={"email": f"t{i}@x"}, headers=keys["test"]) for i in range(50)
        ]
        results = await asyncio.gather(*attacks, *creates)
        assert [r.status_code for r in results[:50]] == [404] * 50
        assert [r.status_code for r in results[50:]] == [201] * 50
        assert stores["live"].customers == snapshot
        assert len(stores["test"].customers) == 50

    run(scenario)


OPS = st.lists(
    st.tuples(
        st.sampled_from(snippet.MODES),
        st.sampled_from(["create", "delete", "read"]),
        st.integers(0, 15),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_each_store_only_reflects_its_own_modes_operations(ops):
    async def scenario(c, keys, stores):
        model = {mode: {} for mode in snippet.MODES}
        for mode, op, n in ops:
            target = f"cus_{n}"
            if op == "create":
                body = await c.post("/customers", json={"email": f"{n}@x"}, headers=keys[mode])
                model[mode][body.json()["id"]] = f"{n}@x"
            elif op == "delete":
                response = await c.delete(f"/customers/{target}", headers=keys[mode])
                assert response.status_code == (204 if target in model[mode] else 404)
                model[mode].pop(target, None)
            else:
                response = await c.get(f"/customers/{target}", headers=keys[mode])
                assert response.status_code == (200 if target in model[mode] else 404)
        for mode in snippet.MODES:
            stored = {k: v["email"] for k, v in stores[mode].customers.items()}
            assert stored == model[mode]

    run(scenario)
