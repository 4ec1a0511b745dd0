"""Test and live keys: one host, mode from the stored record, rotation, scanner."""

from pathlib import Path

import httpx
import pytest
import test_and_live_keys as snippet
import yaml
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.anyio
PROBLEM = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = Path(__file__).parents[2] / "data" / "problem-types.yml"


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Processor:
    def __init__(self):
        self.amounts = []

    async def __call__(self, amount):
        self.amounts.append(amount)
        return "succeeded"


@pytest.fixture
def world():
    now = [1000.0]
    processors = {"test": Processor(), "live": Processor()}
    app = snippet.create_app(processors, clock=lambda: now[0])
    keys = {p: app.state.issue("acct_1", p) for p in ("sk_test_", "sk_live_", "pk_test_")}
    return {"app": app, "keys": keys, "now": now, "processors": processors}


def issue_key(prefix):
    return snippet.create_app({}).state.issue("acct_x", prefix)


async def call(app, method, key, scheme="Bearer", headers=None):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://api") as client:
        headers = headers or ({"Authorization": f"{scheme} {key}"} if key else {})
        return await client.request(method, "/v1/charges", headers=headers)


async def test_one_host_serves_both_modes_and_the_data_is_partitioned(world):
    app, keys = world["app"], world["keys"]
    test = await call(app, "POST", keys["sk_test_"])
    live = await call(app, "POST", keys["sk_live_"])
    assert test.json() == {"id": "ch_test_1", "status": "succeeded", "livemode": False}
    assert live.json() == {"id": "ch_live_1", "status": "succeeded", "livemode": True}
    assert (await call(app, "GET", keys["sk_test_"])).json()["data"] == ["ch_test_1"]
    assert (await call(app, "GET", keys["sk_live_"])).json()["data"] == ["ch_live_1"]


async def test_a_test_key_never_reaches_the_live_processor(world):
    for _ in range(3):
        await call(world["app"], "POST", world["keys"]["sk_test_"])
    assert world["processors"]["live"].amounts == []
    assert len(world["processors"]["test"].amounts) == 3


async def test_an_edited_prefix_is_an_unknown_key(world):
    secret = world["keys"]["sk_test_"].removeprefix("sk_test_")
    response = await call(world["app"], "GET", "sk_live_" + secret)
    assert response.status_code == 401
    assert response.json()["type"] == PROBLEMS + "unauthorized"
    assert world["processors"]["live"].amounts == []


async def test_mode_comes_from_the_record_and_a_disagreeing_prefix_is_refused(world):
    app = world["app"]
    key = world["keys"]["sk_test_"]
    app.state.keys[snippet.key_hash(key)].prefix = "sk_live_"  # a corrupted record
    response = await call(app, "POST", key)
    assert response.status_code == 401
    assert world["processors"]["live"].amounts == []
    assert app.state.charges == {"test": [], "live": []}


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(world, scheme):
    response = await call(world["app"], "GET", world["keys"]["sk_live_"], scheme=scheme)
    assert (response.status_code, response.json()["livemode"]) == (200, True)


async def test_no_credentials_get_a_challenge_without_an_error_code(world):
    response = await call(world["app"], "GET", None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["retryable"] is False


@pytest.mark.parametrize("key", ["sk_test_" + "B" * 36, "pk_test_" + "C" * 36, ""])
async def test_an_unknown_key_is_401_invalid_token(world, key):
    response = await call(world["app"], "GET", None, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert response.json()["type"] == PROBLEMS + "unauthorized"


async def test_another_scheme_is_401(world):
    response = await call(world["app"], "GET", "dXNlcjpwYXNz", scheme="Basic")
    assert response.status_code == 401


async def test_a_forged_publishable_key_is_401_not_403(world):
    response = await call(world["app"], "GET", "pk_test_" + "A" * 36)
    assert response.status_code == 401


async def test_a_real_publishable_key_is_403_after_authentication(world):
    response = await call(world["app"], "GET", world["keys"]["pk_test_"])
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="api", error="insufficient_scope"'
    )
    assert response.json() == {
        "type": PROBLEMS + "forbidden",
        "title": "Forbidden",
        "status": 403,
        "detail": "Publishable keys only create card tokens; send a secret key.",
        "retryable": False,
    }


async def test_two_authorization_fields_are_refused(world):
    keys = world["keys"]
    headers = [("Authorization", f"Bearer {keys['sk_test_']}")]
    headers.append(("Authorization", f"Bearer {keys['sk_live_']}"))
    response = await call(world["app"], "POST", None, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "invalid-request"
    assert world["app"].state.charges == {"test": [], "live": []}


async def test_a_rolled_key_works_until_the_overlap_ends(world):
    app, now = world["app"], world["now"]
    old = world["keys"]["sk_live_"]
    new = app.state.roll(old, overlap_seconds=60)
    assert new.startswith("sk_live_") and new != old
    now[0] += 59
    assert (await call(app, "GET", old)).status_code == 200
    now[0] += 1
    assert (await call(app, "GET", old)).status_code == 401
    assert (await call(app, "GET", new)).status_code == 200


async def test_last_use_is_recorded(world):
    app, now = world["app"], world["now"]
    key = world["keys"]["sk_test_"]
    now[0] = 4242.0
    await call(app, "GET", key)
    assert app.state.keys[snippet.key_hash(key)].last_used == 4242.0


async def test_a_revoked_key_is_refused_at_once(world):
    app = world["app"]
    key = world["keys"]["sk_live_"]
    assert snippet.find_leaked_keys(f"leak: {key}") == [key]
    app.state.revoke(key)
    assert (await call(app, "GET", key)).status_code == 401


async def test_keys_are_stored_only_as_hashes(world):
    stored = world["app"].state.keys
    for key in world["keys"].values():
        assert key not in stored and snippet.key_hash(key) in stored
        assert key not in repr(stored)


@pytest.mark.parametrize("method, status", [("DELETE", 405), ("PUT", 405)])
async def test_framework_errors_are_problem_details(world, method, status):
    response = await call(world["app"], method, world["keys"]["sk_test_"])
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM


def test_problem_types_agree_with_the_registry():
    registry = {t["slug"]: t for t in yaml.safe_load(REGISTRY.read_text())["types"]}
    for slug, (status, title, retryable) in snippet.TYPES.items():
        entry = registry[slug]
        assert (entry["status"], entry["title"], entry["retryable"]) == (status, title, retryable)
        assert "test-and-live-keys" in entry["patterns"]


def test_issued_keys_have_the_documented_shape():
    for row in snippet.KEY_PREFIXES:
        key = issue_key(row["prefix"])
        assert len(key) == len(row["prefix"]) + 30 + 6
        assert snippet.find_leaked_keys(key) == [key]


def test_scanner_finds_keys_in_common_leak_contexts():
    live, test, pk = (issue_key(p) for p in ("sk_live_", "sk_test_", "pk_live_"))
    text = (
        f'STRIPE_KEY={live}\n{{"api_key": "{test}"}}\n'
        f"https://example.com/cb?key={pk}&x=1\nAuthorization: Bearer {live}."
    )
    assert snippet.find_leaked_keys(text) == [live, test, pk, live]


def test_scanner_ignores_look_alikes():
    key = issue_key("sk_live_")
    body, check = key[8:38], key[38:]
    wrong_check = check[:-1] + ("0" if check[-1] != "0" else "1")
    look_alikes = [
        "sk_live_" + body + wrong_check,  # checksum does not match
        "sk_live_" + body + check + "Z",  # one character too long
        key[:-1],  # one character short
        "xsk_live_" + body + check,  # inside a longer word
        "sk_prod_" + body + check,  # unknown mode
        key.upper(),  # prefixes are lower case
        "sk_test_exampleexampleexample",  # a documentation placeholder
        "sk_live_" + "x" * 36,
    ]
    assert snippet.find_leaked_keys("\n".join(look_alikes)) == []


@given(st.sampled_from(["sk_test_", "sk_live_", "pk_test_", "pk_live_"]), st.data())
def test_any_single_character_change_is_caught_by_the_checksum(prefix, data):
    key = issue_key(prefix)
    position = data.draw(st.integers(len(prefix), len(key) - 1))
    new = data.draw(st.sampled_from(snippet.ALPHABET).filter(lambda c: c != key[position]))
    mutated = key[:position] + new + key[position + 1 :]
    assert snippet.find_leaked_keys(f"leak: {mutated}") == []


@given(st.text())
def test_checksum_is_always_six_base62_characters(text):
    assert len(snippet.checksum(text)) == 6
    assert set(snippet.checksum(text)) <= set(snippet.ALPHABET)
