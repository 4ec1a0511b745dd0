"""Behaviour of the http-caching reference implementation (RFC 9111, RFC 9110 section 13)."""

import asyncio
import copy
import hashlib
import json

import http_caching as snippet
import httpx
import pytest

URL = "/stations/berlin/departures"


@pytest.fixture(autouse=True)
def fresh_timetables(monkeypatch):
    monkeypatch.setattr(snippet, "TIMETABLES", copy.deepcopy(snippet.TIMETABLES))


def get(headers=None, path=URL):
    async def call():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.get(path, headers=headers or {})

    return asyncio.run(call())


def test_200_carries_max_age_and_strong_etag_of_the_body():
    r = get()
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=30"
    expected = '"' + hashlib.sha256(r.content).hexdigest()[:20] + '"'
    assert r.headers["etag"] == expected
    assert len(r.content) == 1321


def test_if_none_match_gives_304_with_no_body_and_the_same_validators():
    first = get()
    r = get({"If-None-Match": first.headers["etag"]})
    assert r.status_code == 304
    assert r.content == b""
    assert "content-length" not in r.headers or r.headers["content-length"] == "0"
    assert r.headers["etag"] == first.headers["etag"]
    assert r.headers["cache-control"] == first.headers["cache-control"]


@pytest.mark.parametrize("value", ["W/{etag}", '"nope", {etag}', "*", ' "x" ,W/{etag} '])
def test_weak_comparison_lists_and_star_match(value):
    etag = get().headers["etag"]
    assert get({"If-None-Match": value.format(etag=etag)}).status_code == 304


@pytest.mark.parametrize("value", ['"nope"', '"nope", W/"other"', ""])
def test_non_matching_validators_get_the_full_representation(value):
    r = get({"If-None-Match": value})
    assert r.status_code == 200
    assert len(r.content) == 1321


def test_after_a_change_the_old_etag_gets_the_new_representation():
    old = get()
    snippet.TIMETABLES["berlin"][0]["platform"] = 9
    r = get({"If-None-Match": old.headers["etag"]})
    assert r.status_code == 200
    assert r.headers["etag"] != old.headers["etag"]
    assert json.loads(r.content)[0] == {"train": "ICE 100", "platform": 9}
    assert get({"If-None-Match": r.headers["etag"]}).status_code == 304


def test_unknown_resource_is_404_and_not_cached_as_200():
    assert get(path="/stations/nowhere/departures").status_code == 404


def run_cache(script):
    """script: list of (time, mutate-or-None); returns outcomes and network calls."""
    now = [0]
    calls = []

    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        hooks = {"request": [lambda request: _record(calls, request)]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api", event_hooks=hooks
        ) as client:
            cache = snippet.PrivateCache(client, clock=lambda: now[0])
            out = []
            for t, mutate in script:
                if mutate:
                    mutate()
                now[0] = t
                outcome, body = await cache.get(URL)
                out.append((t, outcome, json.loads(body)[0]["platform"]))
            return out, cache

    out, cache = asyncio.run(go())
    return out, calls, cache


async def _record(calls, request):
    calls.append(request.headers.get("if-none-match"))


def test_fresh_entries_make_no_request_and_age_equal_to_max_age_is_stale():
    out, calls, _ = run_cache([(0, None), (59, None), (60, None)])
    assert [o[1] for o in out] == [
        "200 with body",
        "fresh hit, no request",
        "304 Not Modified",
    ]
    assert len(calls) == 2
    assert calls[0] is None and calls[1].startswith('"')


def test_client_sees_a_change_only_after_expiry_then_gets_new_body():
    def change():
        snippet.TIMETABLES["berlin"][0]["platform"] = 5

    out, calls, cache = run_cache([(0, None), (10, change), (59, None), (61, None)])
    assert out == [
        (0, "200 with body", 1),
        (10, "fresh hit, no request", 1),  # within max-age: the documented staleness
        (59, "fresh hit, no request", 1),
        (61, "200 with body", 5),
    ]
    assert cache.received == 2 * 1321


def test_demo_byte_counts_are_exact():
    out, calls, cache = run_cache(
        [
            (0, None),
            (30, None),
            (61, None),
            (100, lambda: snippet.TIMETABLES["berlin"][0].update(platform=9)),
            (130, None),
        ]
    )
    assert [o[2] for o in out] == [1, 1, 1, 1, 9]
    assert (cache.received, cache.saved) == (2642, 3963)
    assert len(calls) == 3  # 200, 304, 200: two of five reads never left the client
