"""Behaviour of the sandbox: test and live data are separate stores chosen by the key."""

import asyncio
import hashlib
from pathlib import Path

import httpx
import jsonpointer
import pytest
import sandbox_environments as snippet
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

PROBLEM = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = Path(__file__).parents[2] / "data" / "problem-types.yml"


def bearer(key: str, scheme: str = "Bearer") -> dict:
    return {"Authorization": f"{scheme} {key}"}


async def create(c, headers: dict, email: str) -> str:
    response = await c.post("/customers", json={"email": email}, headers=headers)
    assert response.status_code == 201
    return response.json()["id"]


def run(scenario):
    sent = []

    async def live_mailer(address):
        sent.append(address)
        return "delivered"

    async def go():
        app = snippet.create_app(live_mailer)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as c:
            keys = {mode: bearer(app.state.issue_key("acct_1", mode)) for mode in snippet.MODES}
            keys["issue_key"] = app.state.issue_key
            keys["app"] = app
            keys["sent"] = sent
            return await scenario(c, keys, app.state.stores)

    return asyncio.run(go())


def test_test_key_can_neither_read_nor_change_live_data():
    async def scenario(c, keys, stores):
        live_id = await create(c, keys["live"], "a@x")
        before = dict(stores["live"].customers)
        read = await c.get(f"/customers/{live_id}", headers=keys["test"])
        assert read.status_code == 404
        assert read.headers["content-type"] == PROBLEM
        assert read.json() == {
            "type": PROBLEMS + "not-found",
            "title": "Not found",
            "status": 404,
            "detail": "No such customer.",
            "retryable": False,
        }
        assert (await c.delete(f"/customers/{live_id}", headers=keys["test"])).status_code == 404
        assert (await c.get("/customers", headers=keys["test"])).json() == []
        created = await c.post("/customers", json={"email": "t@x"}, headers=keys["test"])
        assert created.json()["livemode"] is False
        assert stores["live"].customers == before
        assert list(stores["test"].customers) == [created.json()["id"]]
        live = await c.get(f"/customers/{live_id}", headers=keys["live"])
        assert live.json() == {
            "id": live_id,
            "email": "a@x",
            "welcome_email": "delivered",
            "livemode": True,
        }

    run(scenario)


def test_a_missing_object_and_another_modes_object_get_the_same_answer():
    async def scenario(c, keys, stores):
        live_id = await create(c, keys["live"], "a@x")
        other = await c.get(f"/customers/{live_id}", headers=keys["test"])
        missing = await c.get("/customers/cus_999", headers=keys["test"])
        assert (other.status_code, other.content) == (missing.status_code, missing.content)

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


def test_test_mode_never_sends_a_real_email_and_magic_inputs_drive_the_simulator():
    async def scenario(c, keys, stores):
        outcomes = []
        for row in snippet.MAGIC_EMAILS:
            made = await c.post("/customers", json={"email": row["email"]}, headers=keys["test"])
            outcomes.append(made.json()["welcome_email"])
        other = await c.post("/customers", json={"email": "t@x"}, headers=keys["test"])
        assert outcomes == [row["outcome"] for row in snippet.MAGIC_EMAILS]
        assert other.json()["welcome_email"] == "delivered"
        assert keys["sent"] == []
        await create(c, keys["live"], "bounce@sandbox.example")
        assert keys["sent"] == ["bounce@sandbox.example"]  # live mode: the real mailer

    run(scenario)


def test_mode_comes_from_the_key_record_not_the_prefix():
    async def scenario(c, keys, stores):
        test_secret = keys["test"]["Authorization"].removeprefix("Bearer sk_test_")
        for forged in (f"sk_live_{test_secret}", "sk_test_unknown", "sk_live_unknown", ""):
            response = await c.post("/customers", json={"email": "x@x"}, headers=bearer(forged))
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == (
                'Bearer realm="api", error="invalid_token"'
            )
            assert response.json()["type"] == PROBLEMS + "unauthorized"
        assert stores["live"].customers == {} and stores["test"].customers == {}

    run(scenario)


def test_a_record_whose_mode_disagrees_with_the_prefix_is_refused():
    async def scenario(c, keys, stores):
        key = keys["test"]["Authorization"].removeprefix("Bearer ")
        digest = hashlib.sha256(key.encode()).hexdigest()
        keys["app"].state.keys[digest] = ("acct_1", "live")  # a corrupted record
        response = await c.post("/customers", json={"email": "x@x"}, headers=keys["test"])
        assert response.status_code == 401
        assert stores["live"].customers == {}

    run(scenario)


def test_the_scheme_is_case_insensitive_so_no_key_bypasses_the_lookup():
    async def scenario(c, keys, stores):
        key = keys["live"]["Authorization"].removeprefix("Bearer ")
        for scheme in ("bearer", "BEARER", "Bearer"):
            response = await c.get("/customers", headers=bearer(key, scheme))
            assert response.status_code == 200
        basic = await c.get("/customers", headers=bearer(key, "Basic"))
        assert basic.status_code == 401

    run(scenario)


def test_no_credentials_is_401_with_a_bare_challenge():
    async def scenario(c, keys, stores):
        response = await c.get("/customers")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="api"'
        assert response.json()["retryable"] is False

    run(scenario)


def test_two_authorization_fields_are_refused():
    async def scenario(c, keys, stores):
        headers = [("Authorization", keys["test"]["Authorization"])]
        headers.append(("Authorization", keys["live"]["Authorization"]))
        response = await c.post("/customers", json={"email": "x@x"}, headers=headers)
        assert response.status_code == 400
        assert response.json()["type"] == PROBLEMS + "invalid-request"
        assert stores["live"].customers == {} and stores["test"].customers == {}

    run(scenario)


@pytest.mark.parametrize(
    "content, pointer",
    [
        (b"{}", "/email"),
        (b'{"email": 7}', "/email"),
        (b'{"email": "not-an-email"}', "/email"),
        (b'{"email": "a@x", "mode": "live"}', "/mode"),
        (b"not json", None),
        (b"\xff\xfe", None),
    ],
)
def test_an_invalid_body_is_a_400_problem_not_a_500(content, pointer):
    async def scenario(c, keys, stores):
        headers = keys["test"] | {"content-type": "application/json"}
        response = await c.post("/customers", content=content, headers=headers)
        assert response.status_code == 400
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["type"] == PROBLEMS + "invalid-request"
        if pointer:
            assert [e["pointer"] for e in body["errors"]] == [pointer]
        assert stores["test"].customers == {}

    run(scenario)


@pytest.mark.parametrize("method, path, status", [("PUT", "/customers", 405), ("GET", "/x", 404)])
def test_framework_errors_are_problem_details(method, path, status):
    async def scenario(c, keys, stores):
        response = await c.request(method, path, headers=keys["test"])
        assert response.status_code == status
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["retryable"] is False

    run(scenario)


def test_problem_types_agree_with_the_registry():
    registry = {t["slug"]: t for t in yaml.safe_load(REGISTRY.read_text())["types"]}
    for slug, (status, title, retryable) in snippet.TYPES.items():
        entry = registry[slug]
        assert (entry["status"], entry["title"], entry["retryable"]) == (status, title, retryable)
        assert "sandbox-environments" in entry["patterns"]


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


def test_ids_are_unique_across_modes():
    async def scenario(c, keys, stores):
        live_id = await create(c, keys["live"], "a@x")
        test_id = await create(c, keys["test"], "b@x")
        assert live_id != test_id
        assert not set(stores["live"].customers) & set(stores["test"].customers)

    run(scenario)


def test_pointers_are_escaped_and_resolve_in_the_body():
    async def scenario(c, keys, stores):
        body = {"email": "a@x", "m/o~de": "live"}
        response = await c.post("/customers", json=body, headers=keys["test"])
        assert [e["pointer"] for e in response.json()["errors"]] == ["/m~1o~0de"]
        assert jsonpointer.resolve_pointer(body, "/m~1o~0de") == "live"

    run(scenario)
