"""Behaviour of the rate-limiting reference implementation."""

import asyncio
import threading

import http_sf  # independent Structured Fields (RFC 9651) parser
import httpx
import pytest
import rate_limiting as snippet

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
        assert limit == [("free", {"r": 9 - i, "t": 6})]
        assert r.headers["ratelimit-policy"] == '"free";q=10;w=60'


def test_429_is_a_problem_with_retry_after_and_the_fields(app):
    fire(app, [ALICE] * 10)
    r = fire(app, [ALICE])[0]
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "6"
    assert fields(r) == ([("free", {"q": 10, "w": 60})], [("free", {"r": 0, "t": 6})])
    assert r.json() == {
        "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
        "title": "Quota exceeded",
        "status": 429,
        "violated-policies": ["free"],
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


def test_bucket_refills_to_quota_and_no_further(app, clock):
    fire(app, [ALICE] * 10)
    clock.now += 3600
    responses = fire(app, [ALICE] * 12)
    assert [r.status_code for r in responses].count(200) == 10


def test_unknown_key_is_401_without_consuming_anything(app):
    r = fire(app, [{"Authorization": "Bearer sk_test_mallory"}])[0]
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_token_bucket_is_thread_safe_under_real_threads():
    bucket = snippet.TokenBucket(100, 60, clock=lambda: 0.0)
    allowed = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        for _ in range(50):
            allowed.append(bucket.take()[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 100
    assert allowed.count(False) == 300
