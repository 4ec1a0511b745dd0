"""The Idempotency-Key charge endpoint (draft-ietf-httpapi-idempotency-key-header-09)."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import error_envelopes
import httpx
import idempotency_keys as snippet
import jsonpointer
import pytest
import uvicorn
import yaml

BODY = {"amount": 500, "currency": "eur", "source": "tok_visa"}
KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'
API_KEYS = {"sk_test_old": "acct_1", "sk_test_rolled": "acct_1", "sk_test_b": "acct_2"}
PROBLEM = "application/problem+json"
PROBLEMS = "https://api.example.com/problems/"
REGISTRY = Path(__file__).parents[2] / "data" / "problem-types.yml"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class Processor:
    """A card processor that deduplicates on the downstream key, as real ones do."""

    def __init__(self, fail=None, hold=False, outcome="succeeded"):
        self.keys, self.calls, self.fail, self.outcome = {}, 0, fail, outcome
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    @property
    def charges(self):
        return len(self.keys)

    async def __call__(self, charge, key):
        self.calls += 1
        if isinstance(self.fail, httpx.ConnectError):  # refused before anything was sent
            self.fail, error = None, self.fail
            raise error
        await self.release.wait()
        self.keys.setdefault(key, self.outcome)
        if self.fail:  # charged, and then the answer was lost
            self.fail, error = None, self.fail
            raise error
        return self.keys[key]


def client_for(app):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://api")


def post(client, key=KEY, body=BODY, auth="Bearer sk_test_old", path="/v1/charges"):
    headers = {"Authorization": auth} if auth else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def app_with(processor, **kwargs):
    return snippet.create_app(processor, API_KEYS, **kwargs)


async def test_fifty_concurrent_requests_create_one_charge_and_in_flight_ones_get_409():
    processor = Processor(hold=True)
    app = app_with(processor)
    async with client_for(app) as client:
        tasks = [asyncio.create_task(post(client)) for _ in range(50)]
        for _ in range(2000):  # the 49 duplicates are answered while the first is held
            if sum(t.done() for t in tasks) == 49:
                break
            await asyncio.sleep(0.001)
        assert sum(t.done() for t in tasks) == 49
        assert processor.calls == 1
        processor.release.set()
        responses = await asyncio.gather(*tasks)

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201] + [409] * 49
        first = next(r for r in responses if r.status_code == 201)
        assert first.json() == {"id": "ch_1", **BODY}
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.headers["content-type"] == PROBLEM
            assert conflict.headers["retry-after"] == "1"
            assert conflict.json() == {
                "type": PROBLEMS + "idempotency-key-in-flight",
                "title": "Request in progress",
                "status": 409,
                "detail": "Wait.",
                "retryable": True,
            }
        assert app.state.charges == [first.json()]
        retries = await asyncio.gather(*(post(client) for _ in range(50)))
        assert {(r.status_code, r.content) for r in retries} == {(201, first.content)}
        assert (len(app.state.charges), processor.calls) == (1, 1)


async def test_the_in_flight_409_is_retryable_for_a_client_built_from_the_site():
    processor = Processor(hold=True)
    async with client_for(app_with(processor)) as client:
        first = asyncio.create_task(post(client))
        while processor.calls == 0:
            await asyncio.sleep(0.001)
        conflict = await post(client)
        processor.release.set()
        await first
    assert error_envelopes.decide(conflict, datetime.now(UTC)) == ("retry", 1.0)


async def test_a_timeout_after_the_charge_was_sent_never_releases_the_key():
    processor = Processor(fail=httpx.ReadTimeout("answer lost"))
    app = app_with(processor)
    async with client_for(app) as client:
        lost = await post(client)
        assert lost.status_code == 504
        assert lost.json()["type"] == PROBLEMS + "gateway-timeout"
        assert lost.json()["retryable"] is True
        assert lost.headers["retry-after"] == "1"
        changed = await post(client, body={**BODY, "amount": 900})  # the key is still held
        assert changed.status_code == 422
        retried = await post(client)
        again = await post(client)
    assert retried.status_code == again.status_code == 201
    assert processor.charges == 1 and processor.calls == 2
    assert len(app.state.charges) == 1


async def test_an_unexpected_error_after_the_send_keeps_the_key_and_is_a_problem():
    processor = Processor(fail=RuntimeError("bug after the charge"))
    app = app_with(processor)
    async with client_for(app) as client:
        crashed = await post(client)
        retried = await post(client)
    assert crashed.status_code == 500
    assert crashed.headers["content-type"] == PROBLEM
    assert crashed.json()["type"] == PROBLEMS + "internal-error"
    assert "bug" not in crashed.text
    assert retried.status_code == 201
    assert processor.charges == 1


async def test_a_connection_refused_before_sending_releases_the_key():
    processor = Processor(fail=httpx.ConnectError("refused"))
    async with client_for(app_with(processor)) as client:
        refused = await post(client)
        retried = await post(client)
    assert refused.status_code == 503
    assert refused.json()["type"] == PROBLEMS + "service-unavailable"
    assert refused.json()["retryable"] is True
    assert refused.headers["retry-after"] == "1"
    assert retried.status_code == 201
    assert processor.charges == 1


async def test_a_claim_whose_holder_died_is_recovered_after_the_lease():
    now, store, seen, never = [0.0], {}, [], asyncio.Event()

    async def processor(charge, key):  # deduplicates on the key, as real processors do
        seen.append(key)
        if len(seen) == 1:
            await never.wait()  # the first worker hangs, then dies
        return "succeeded"

    crashed = app_with(processor, clock=lambda: now[0], store=store)
    survivor = app_with(processor, clock=lambda: now[0], store=store)
    async with client_for(crashed) as a, client_for(survivor) as b:
        stuck = asyncio.create_task(post(a))
        while not seen:
            await asyncio.sleep(0.001)
        now[0] = snippet.LEASE_SECONDS - 1
        assert (await post(b)).status_code == 409
        now[0] = snippet.LEASE_SECONDS
        recovered = await post(b)
        stuck.cancel()
    assert recovered.status_code == 201
    assert len(seen) == 2 and seen[0] == seen[1]  # the same downstream key both times


async def test_the_downstream_key_is_derived_from_the_scope():
    seen = []

    async def processor(charge, key):
        seen.append(key)
        if len(seen) == 1:
            raise httpx.ReadTimeout("lost")
        return "succeeded"

    async with client_for(app_with(processor)) as client:
        await post(client)
        await post(client)
        await post(client, path="/v1/payouts")
        await post(client, auth="Bearer sk_test_b")
    assert seen[0] == seen[1]
    assert len({seen[1], seen[2], seen[3]}) == 3


async def test_two_instances_sharing_a_store_charge_once():
    store, processor = {}, Processor(hold=True)
    apps = [app_with(processor, store=store) for _ in range(2)]
    async with client_for(apps[0]) as a, client_for(apps[1]) as b:
        tasks = [asyncio.create_task(post((a, b)[i % 2])) for i in range(40)]
        while sum(t.done() for t in tasks) < 39:
            await asyncio.sleep(0.001)
        processor.release.set()
        responses = await asyncio.gather(*tasks)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 39
    assert processor.calls == 1


async def test_a_real_server_charges_once_for_concurrent_connections_and_a_disconnect():
    processor = Processor()
    app = app_with(processor)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        processor.release.clear()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            impatient = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=0.1)
            with pytest.raises(httpx.ReadTimeout):  # the client gives up mid-charge
                async with impatient:
                    await post(impatient)
            many = [asyncio.create_task(post(client)) for _ in range(20)]
            await asyncio.sleep(0.1)
            processor.release.set()
            responses = await asyncio.gather(*many)
            late = await post(client)
    finally:
        server.should_exit = True
        await serving
    assert {r.status_code for r in responses} <= {201, 409}
    assert late.status_code == 201 and late.headers["idempotent-replayed"] == "true"
    assert processor.charges == 1 and len(app.state.charges) == 1


async def test_a_stored_decline_is_replayed_not_charged_again():
    processor = Processor(outcome="declined")
    app = app_with(processor)
    async with client_for(app) as client:
        declined = await post(client)
        retried = await post(client)
    assert declined.status_code == 402
    assert declined.json()["type"] == PROBLEMS + "card-declined"
    assert (retried.status_code, retried.content) == (402, declined.content)
    assert retried.headers["idempotent-replayed"] == "true"
    assert processor.calls == 1 and app.state.charges == []


async def test_a_replay_carries_the_stored_headers_and_a_replay_marker():
    async with client_for(app_with(Processor())) as client:
        first = await post(client)
        replay = await post(client)
    assert first.headers["location"] == replay.headers["location"] == "/v1/charges/ch_1"
    assert "idempotent-replayed" not in first.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == first.headers["content-type"]


async def test_same_key_with_a_different_body_is_422_and_charges_nothing():
    app = app_with(Processor())
    async with client_for(app) as client:
        assert (await post(client)).status_code == 201
        response = await post(client, body={**BODY, "amount": 900})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == PROBLEMS + "idempotency-key-reused"
    assert response.json()["retryable"] is False
    assert len(app.state.charges) == 1


async def test_different_body_while_first_is_in_flight_is_422_not_409():
    processor = Processor(hold=True)
    async with client_for(app_with(processor)) as client:
        first = asyncio.create_task(post(client))
        while processor.calls == 0:
            await asyncio.sleep(0.001)
        same = await post(client)
        other = await post(client, body={**BODY, "amount": 1})
        processor.release.set()
        assert (await first).status_code == 201
    assert (same.status_code, other.status_code) == (409, 422)


async def test_key_order_and_whitespace_do_not_change_the_fingerprint():
    async with client_for(app_with(Processor())) as client:
        first = await post(client)
        reordered = await client.post(
            "/v1/charges",
            content=b'{ "source": "tok_visa", "currency": "eur",  "amount": 500 }',
            headers={"Idempotency-Key": KEY, "Authorization": "Bearer sk_test_old"},
        )
    assert (reordered.status_code, reordered.content) == (201, first.content)


@pytest.mark.parametrize(
    "key, slug",
    [
        (None, "idempotency-key-missing"),
        ('"short"', "idempotency-key-invalid"),
        ('"8e03978e/40d5"', "idempotency-key-invalid"),
    ],
)
async def test_missing_or_malformed_key_is_400(key, slug):
    app = app_with(Processor())
    async with client_for(app) as client:
        response = await post(client, key=key)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + slug
    assert response.json()["retryable"] is False
    assert app.state.charges == []


async def test_two_idempotency_key_fields_are_refused():
    app = app_with(Processor())
    headers = [
        ("Authorization", "Bearer sk_test_old"),
        ("Idempotency-Key", KEY),
        ("Idempotency-Key", '"2f1c6a0e-9b7d-4c3e-8a51-0d6e4b9f7a12"'),
    ]
    async with client_for(app) as client:
        response = await client.post("/v1/charges", json=BODY, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "idempotency-key-invalid"
    assert app.state.charges == []


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'{"amount": 500, "currency": "eur"}',
        b'{"amount": "500", "currency": "eur", "source": "tok_visa"}',
        b'{"amount": -1, "currency": "eur", "source": "tok_visa"}',
        b'{"amount": 500, "currency": "eur", "source": "tok_visa", "a/b~": 1}',
    ],
    ids=["not-json", "not-utf8", "list", "missing", "string", "negative", "extra"],
)
async def test_an_invalid_body_is_400_before_the_key_is_claimed(content):
    processor = Processor()
    app = app_with(processor)
    headers = {"Idempotency-Key": KEY, "Authorization": "Bearer sk_test_old"}
    async with client_for(app) as client:
        invalid = await client.post("/v1/charges", content=content, headers=headers)
        valid = await post(client)  # nothing was stored: the key is still free
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == PROBLEM
    body = invalid.json()
    assert body["type"] == PROBLEMS + "invalid-request"
    pointers = [e["pointer"] for e in body["errors"]]
    assert pointers and all(p == "" or p.startswith("/") for p in pointers)
    assert valid.status_code == 201 and processor.calls == 1


async def test_keys_are_scoped_to_the_caller():
    processor = Processor()
    async with client_for(app_with(processor)) as client:
        a = await post(client, auth="Bearer sk_test_old")
        rolled = await post(client, auth="Bearer sk_test_rolled")  # same account, new key
        b = await post(client, auth="Bearer sk_test_b")  # another account
    assert (a.json()["id"], rolled.json()["id"], b.json()["id"]) == ("ch_1", "ch_1", "ch_2")
    assert rolled.headers["idempotent-replayed"] == "true"
    assert processor.charges == 2


async def test_the_same_key_on_another_endpoint_is_another_operation():
    processor = Processor()
    async with client_for(app_with(processor)) as client:
        charge = await post(client)
        payout = await post(client, path="/v1/payouts")
    assert (charge.status_code, payout.status_code) == (201, 201)
    assert (charge.json()["id"], payout.json()["id"]) == ("ch_1", "po_2")
    assert "idempotent-replayed" not in payout.headers
    assert processor.charges == 2


async def test_key_expires_after_the_published_window():
    now = [0.0]
    app = app_with(Processor(), clock=lambda: now[0])
    async with client_for(app) as client:
        assert (await post(client)).status_code == 201
        now[0] = snippet.KEY_TTL_HOURS * 3600 - 1
        assert (await post(client, body={**BODY, "amount": 9})).status_code == 422
        now[0] = snippet.KEY_TTL_HOURS * 3600
        after = await post(client, body={**BODY, "amount": 9})
    assert (after.status_code, after.json()["id"]) == (201, "ch_2")


@pytest.mark.parametrize(
    "auth, challenge",
    [
        (None, 'Bearer realm="api"'),
        ("Bearer sk_test_nope", 'Bearer realm="api", error="invalid_token"'),
        ("Basic dXNlcjpwYXNz", 'Bearer realm="api", error="invalid_token"'),
    ],
)
async def test_unauthenticated_requests_are_401_with_a_challenge(auth, challenge):
    app = app_with(Processor())
    async with client_for(app) as client:
        response = await post(client, auth=auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json()["type"] == PROBLEMS + "unauthorized"
    assert app.state.charges == []


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
async def test_the_auth_scheme_is_case_insensitive(scheme):
    async with client_for(app_with(Processor())) as client:
        response = await post(client, auth=f"{scheme} sk_test_old")
    assert response.status_code == 201


async def test_two_authorization_fields_are_refused():
    app = app_with(Processor())
    headers = [
        ("Authorization", "Bearer sk_test_old"),
        ("Authorization", "Bearer sk_test_b"),
        ("Idempotency-Key", KEY),
    ]
    async with client_for(app) as client:
        response = await client.post("/v1/charges", json=BODY, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEMS + "invalid-request"
    assert app.state.charges == []


@pytest.mark.parametrize(
    "method, path, status, slug",
    [("GET", "/v1/charges", 405, "method-not-allowed"), ("POST", "/v2/x", 404, "not-found")],
)
async def test_framework_errors_are_problem_details(method, path, status, slug):
    async with client_for(app_with(Processor())) as client:
        response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == PROBLEMS + slug


def test_problem_types_agree_with_the_registry():
    registry = {t["slug"]: t for t in yaml.safe_load(REGISTRY.read_text())["types"]}
    for slug, (status, title, retryable) in snippet.TYPES.items():
        entry = registry[slug]
        assert (entry["status"], entry["title"], entry["retryable"]) == (status, title, retryable)
        assert "idempotency-keys" in entry["patterns"], slug


async def test_pointers_resolve_in_the_request_body_with_an_independent_implementation():
    body = {"amount": "500", "currency": "EUR", "source": "tok_visa", "a/b~c": 1}
    async with client_for(app_with(Processor())) as client:
        invalid = await post(client, body=body)
    pointers = sorted(e["pointer"] for e in invalid.json()["errors"])
    assert pointers == ["/amount", "/a~1b~0c", "/currency"]
    for p in pointers:
        assert jsonpointer.resolve_pointer(body, p) == body[jsonpointer.JsonPointer(p).parts[0]]
