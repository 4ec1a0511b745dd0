"""Behaviour of the rate-limiting reference implementation."""

import asyncio
import random
import threading
import time
from fractions import Fraction

import http_sf  # independent Structured Fields (RFC 9651) parser
import httpx
import pytest
import rate_limiting as snippet
import uvicorn

ALICE = {"Authorization": "Bearer sk_test_alice"}  # free: 10 per 60 s
BOB = {"Authorization": "Bearer sk_test_bob"}  # paid: 600 per 60 s


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(clock):
    return snippet.create_app(clock=clock)


def fire(app, requests):
    """requests: list of header dicts, all sent concurrently with asyncio.gather."""

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await asyncio.gather(*(c.get("/v1/quotes/A", headers=h) for h in requests))

    return asyncio.run(go())


def fields(response):
    policy = http_sf.parse(response.headers["ratelimit-policy"].encode(), tltype="list")
    limit = http_sf.parse(response.headers["ratelimit"].encode(), tltype="list")
    return policy, limit


def test_tiers_are_documented_values():
    assert snippet.TIERS == [
        {"tier": "free", "quota": 10, "window_seconds": 60},
        {"tier": "paid", "quota": 600, "window_seconds": 60},
    ]


def test_every_success_carries_draft_fields_that_parse_as_structured_lists(app):
    responses = [fire(app, [ALICE])[0] for _ in range(10)]
    assert [r.status_code for r in responses] == [200] * 10
    for i, r in enumerate(responses):
        policy, limit = fields(r)
        assert policy == [("free", {"q": 10, "w": 60})]
        assert limit == [("free", {"r": 9 - i, "t": max(6, 6 * (9 - i))})]
        assert r.headers["ratelimit-policy"] == '"free";q=10;w=60'


def test_429_is_a_problem_with_retry_after_and_the_fields(app):
    fire(app, [ALICE] * 10)
    r = fire(app, [ALICE])[0]
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "6"
    assert fields(r) == ([("free", {"q": 10, "w": 60})], [("free", {"r": 0, "t": 6})])
    assert r.json() == {
        "type": "https://api.example.com/problems/rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "Over the free tier's quota.",
        "retryable": True,
        "violated_policies": ["free"],
    }


def test_100_concurrent_requests_from_one_free_key_admit_exactly_the_quota(app):
    responses = fire(app, [ALICE] * 100)
    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(ok) == 10
    assert len(limited) == 90
    assert all(r.headers["retry-after"] == "6" for r in limited)
    # each token was handed out exactly once: remaining values 9..0, no duplicates
    assert sorted(fields(r)[1][0][1]["r"] for r in ok) == list(range(10))
    assert all("ratelimit" in r.headers for r in responses)


def test_100_concurrent_requests_from_a_paid_key_all_pass(app):
    responses = fire(app, [BOB] * 100)
    assert [r.status_code for r in responses] == [200] * 100
    remaining = sorted(fields(r)[1][0][1]["r"] for r in responses)
    assert remaining == list(range(500, 600))
    assert fields(responses[0])[0] == [("paid", {"q": 600, "w": 60})]


def test_keys_have_independent_buckets_under_mixed_concurrent_load(app):
    carol = {"Authorization": "Bearer sk_test_carol"}
    snippet.API_KEYS["sk_test_carol"] = "free"
    try:
        responses = fire(app, [ALICE, BOB, carol] * 40)
    finally:
        del snippet.API_KEYS["sk_test_carol"]
    by_key = {}
    for headers, r in zip([ALICE, BOB, carol] * 40, responses, strict=True):
        by_key.setdefault(headers["Authorization"], []).append(r.status_code)
    assert by_key[ALICE["Authorization"]].count(200) == 10
    assert by_key[carol["Authorization"]].count(200) == 10
    assert by_key[BOB["Authorization"]].count(200) == 40


def test_retry_after_is_exact_not_early(app, clock):
    fire(app, [ALICE] * 10)
    retry = int(fire(app, [ALICE])[0].headers["retry-after"])
    clock.now += retry - 1
    assert fire(app, [ALICE])[0].status_code == 429
    clock.now += 1
    r = fire(app, [ALICE])[0]
    assert r.status_code == 200
    assert r.headers["ratelimit"] == '"free";r=0;t=6'
    assert r.headers["ratelimit-policy"] == '"free";q=10;w=60'


def test_bucket_refills_to_quota_and_no_further(app, clock):
    fire(app, [ALICE] * 10)
    clock.now += 3600
    responses = fire(app, [ALICE] * 12)
    assert [r.status_code for r in responses].count(200) == 10


def test_unknown_key_is_401_without_consuming_anything(app):
    r = fire(app, [{"Authorization": "Bearer sk_test_mallory"}])[0]
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == "https://api.example.com/problems/unauthorized"
    assert r.json()["retryable"] is False
    assert "ratelimit" not in r.headers  # no key, no bucket: nothing to report
    assert fire(app, [ALICE])[0].headers["ratelimit"] == '"free";r=9;t=54'


def test_missing_credentials_get_a_bare_bearer_challenge(app):
    r = fire(app, [{}])[0]
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="api"'
    r = fire(app, [{"Authorization": "Basic c2tfdGVzdF9hbGljZTo="}])[0]
    assert r.status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_auth_scheme_is_case_insensitive(app, scheme):
    r = fire(app, [{"Authorization": f"{scheme} sk_test_alice"}])[0]
    assert r.status_code == 200


def test_two_authorization_fields_are_refused_not_picked_from():
    async def go():
        transport = httpx.ASGITransport(app=snippet.create_app(clock=lambda: 0.0))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            headers = [("Authorization", "Bearer sk_test_mallory"), ALICE.popitem()]
            return await c.get("/v1/quotes/A", headers=headers)

    ALICE_COPY = dict(ALICE)
    try:
        r = asyncio.run(go())
    finally:
        ALICE.update(ALICE_COPY)
    assert r.status_code == 400
    assert r.json()["type"] == "https://api.example.com/problems/invalid-request"
    assert r.json()["header"] == "authorization"


def test_framework_errors_are_problem_details(app):
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.get("/nowhere"), await c.post("/v1/quotes/A", headers=ALICE)

    missing, wrong_method = asyncio.run(go())
    assert missing.status_code == 404 and wrong_method.status_code == 405
    for r, slug in ((missing, "not-found"), (wrong_method, "method-not-allowed")):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == f"https://api.example.com/problems/{slug}"
        assert r.json()["retryable"] is False


def test_remaining_over_reset_never_exceeds_the_policy_rate(app, clock):
    """r/t <= q/w on every response, so a client that spreads r over t seconds never
    runs faster than the bucket refills (the paid tier once said r=588;t=1)."""
    seen = []
    for _ in range(30):
        seen += fire(app, [ALICE, BOB, BOB, BOB])
        clock.now += 2.5
    for r in seen:
        ((name, policy),) = fields(r)[0]
        ((_, limit),) = fields(r)[1]
        assert limit["t"] >= 1
        assert limit["r"] * policy["w"] <= policy["q"] * limit["t"], r.headers
    paid = [fields(r)[1][0][1] for r in seen if "paid" in r.headers["ratelimit"]]
    assert paid[-1]["r"] > 500 and paid[-1]["t"] >= 50


def test_q_is_the_burst_so_a_full_bucket_admits_2q_minus_1_in_one_window(app, clock):
    """What the page says about q: a full bucket plus one window's refill."""
    admitted = 0
    start = clock.now
    while clock.now < start + 60:
        admitted += fire(app, [ALICE])[0].status_code == 200
        clock.now += 1
    assert admitted == 19
    clock.now = start + 600
    later, admitted = clock.now, 0
    fire(app, [ALICE] * 10)  # drain the refilled bucket
    while clock.now < later + 300:
        admitted += fire(app, [ALICE])[0].status_code == 200
        clock.now += 1.5
    assert admitted == 49  # long run: q per w (the 50th token lands at +300 s)


class SlowRate(Fraction):
    """The refill rate, with a thread switch inside the read-refill-write step:
    without the lock, every thread reads the same token count before any writes."""

    def __rmul__(self, other):
        time.sleep(0.002)
        return Fraction(other) * Fraction(self)

    def __rtruediv__(self, other):
        return Fraction(other) / Fraction(self)


def test_token_bucket_is_atomic_under_real_threads():
    bucket = snippet.TokenBucket(20, 60, clock=lambda: 0.0)
    bucket.rate = SlowRate(bucket.rate)
    allowed = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(5):
            allowed.append(bucket.take()[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 20
    assert allowed.count(False) == 20


# ---- a real server: concurrency across connections --------------------------------


def test_concurrent_connections_to_uvicorn_admit_exactly_the_quota():
    server = uvicorn.Server(
        uvicorn.Config(snippet.create_app(), host="127.0.0.1", port=0, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]

    async def go():
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as c:
            return await asyncio.gather(*(c.get("/v1/quotes/A", headers=ALICE) for _ in range(40)))

    try:
        codes = [r.status_code for r in asyncio.run(go())]
    finally:
        server.should_exit = True
        thread.join()
    assert codes.count(200) == 10 and codes.count(429) == 30


# ---- the client half ---------------------------------------------------------------


def client_run(app, clock, n, key=ALICE, seed=1):
    slept = []

    async def sleep(seconds):
        slept.append(seconds)
        clock.now += seconds

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            rng = random.Random(seed)
            return [await snippet.paced_get(c, "/v1/quotes/A", key, sleep, rng) for _ in range(n)]

    return asyncio.run(go()), slept


def test_a_pacing_client_is_never_refused(app, clock):
    responses, slept = client_run(app, clock, 30)
    assert [r.status_code for r in responses] == [200] * 30
    assert all(s >= 5 for s in slept)  # it spread its quota instead of bursting


def test_a_refused_client_waits_retry_after_plus_jitter(app, clock):
    fire(app, [ALICE] * 10)  # someone else's burst emptied the bucket
    responses, slept = client_run(app, clock, 1, seed=3)
    assert responses[0].status_code == 200
    assert 6 <= slept[0] < 7  # Retry-After: 6, plus up to one second of jitter
    _, other = client_run(snippet.create_app(clock=clock), clock, 1, seed=4)
    assert slept[0] != other[0] or slept == other == []


def test_a_client_gives_up_on_a_problem_that_is_not_retryable(app, clock):
    responses, slept = client_run(app, clock, 1, key={"Authorization": "Bearer nope"})
    assert responses[0].status_code == 401 and slept == []
