"""Test and live keys: environment from the prefix, cross-environment refusal, scanner."""

import httpx
import pytest
import test_and_live_keys as snippet
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def keys():
    return {prefix: snippet.issue_key(prefix) for prefix in ("sk_test_", "sk_live_", "pk_test_")}


@pytest.fixture
def deployments(keys):
    return {
        "test": snippet.create_deployment("test", {snippet.key_hash(keys["sk_test_"])}),
        "live": snippet.create_deployment("live", {snippet.key_hash(keys["sk_live_"])}),
    }


async def call(app, method, key, **kwargs):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api") as client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return await client.request(method, "/v1/charges", headers=headers, **kwargs)


async def test_live_key_sent_to_the_test_environment_is_refused(deployments, keys):
    response = await call(deployments["test"], "POST", keys["sk_live_"], json={"amount": 1})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json() == {
        "type": "https://api.example.com/problems/wrong-environment",
        "title": "Live key sent to the test environment",
        "status": 401,
        "detail": "Keys starting sk_live_ work only at https://api.example.com.",
        "key_environment": "live",
        "environment": "test",
    }
    assert deployments["test"].state.charges == deployments["live"].state.charges == []


async def test_test_key_sent_to_the_live_environment_is_refused(deployments, keys):
    response = await call(deployments["live"], "GET", keys["sk_test_"])
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "https://api.example.com/problems/wrong-environment",
        "title": "Test key sent to the live environment",
        "status": 401,
        "detail": "Keys starting sk_test_ work only at https://sandbox.api.example.com.",
        "key_environment": "test",
        "environment": "live",
    }


async def test_refusal_does_not_depend_on_the_key_existing(deployments):
    forged = "sk_live_" + "A" * 36  # never issued: still refused as the wrong environment
    response = await call(deployments["test"], "GET", forged)
    assert response.json()["type"] == "https://api.example.com/problems/wrong-environment"


async def test_each_environment_keeps_its_own_data(deployments, keys):
    created = await call(deployments["test"], "POST", keys["sk_test_"], json={"amount": 500})
    assert (created.status_code, created.json()) == (201, {"id": "ch_1", "livemode": False})
    live = await call(deployments["live"], "GET", keys["sk_live_"])
    test = await call(deployments["test"], "GET", keys["sk_test_"])
    assert live.json() == {"data": []}
    assert test.json() == {"data": [{"amount": 500}]}
    made_live = await call(deployments["live"], "POST", keys["sk_live_"], json={"amount": 7})
    assert made_live.json() == {"id": "ch_1", "livemode": True}


async def test_publishable_key_cannot_call_secret_endpoints(deployments, keys):
    response = await call(deployments["test"], "GET", keys["pk_test_"])
    assert response.status_code == 403
    assert response.json() == {
        "type": "https://api.example.com/problems/publishable-key",
        "title": "Secret key required",
        "status": 403,
        "detail": "Publishable keys only create card tokens; send a secret key.",
    }


@pytest.mark.parametrize("key", [None, "sk_test_" + "B" * 36, "Basic dXNlcjpwYXNz"])
async def test_unknown_or_missing_key_is_401(deployments, key):
    response = await call(deployments["test"], "GET", key)
    assert response.status_code == 401
    assert response.json()["type"] == "https://api.example.com/problems/invalid-api-key"


def test_issued_keys_have_the_documented_shape():
    for row in snippet.KEY_PREFIXES:
        key = snippet.issue_key(row["prefix"])
        assert len(key) == len(row["prefix"]) + 30 + 6
        assert snippet.find_leaked_keys(key) == [key]


def test_scanner_finds_keys_in_common_leak_contexts():
    live, test, pk = (snippet.issue_key(p) for p in ("sk_live_", "sk_test_", "pk_live_"))
    text = (
        f'STRIPE_KEY={live}\n{{"api_key": "{test}"}}\n'
        f"https://example.com/cb?key={pk}&x=1\nAuthorization: Bearer {live}."
    )
    assert snippet.find_leaked_keys(text) == [live, test, pk, live]


def test_scanner_ignores_look_alikes():
    key = snippet.issue_key("sk_live_")
    body, check = key[8:38], key[38:]
    wrong_check = check[:-1] + ("0" if check[-1] != "0" else "1")
    look_alikes = [
        "sk_live_" + body + wrong_check,  # checksum does not match
        "sk_live_" + body + check + "Z",  # one character too long
        key[:-1],  # one character short
        "xsk_live_" + body + check,  # inside a longer word
        "sk_prod_" + body + check,  # unknown environment
        key.upper(),  # prefixes are lower case
        "sk_test_exampleexampleexample",  # a documentation placeholder
        "sk_live_" + "x" * 36,
    ]
    assert snippet.find_leaked_keys("\n".join(look_alikes)) == []


@given(st.sampled_from(["sk_test_", "sk_live_", "pk_test_", "pk_live_"]), st.data())
def test_any_single_character_change_is_caught_by_the_checksum(prefix, data):
    key = snippet.issue_key(prefix)
    position = data.draw(st.integers(len(prefix), len(key) - 1))
    new = data.draw(st.sampled_from(snippet.ALPHABET).filter(lambda c: c != key[position]))
    mutated = key[:position] + new + key[position + 1 :]
    assert snippet.find_leaked_keys(f"leak: {mutated}") == []


@given(st.text())
def test_checksum_is_always_six_base62_characters(text):
    assert len(snippet.checksum(text)) == 6
    assert set(snippet.checksum(text)) <= set(snippet.ALPHABET)
