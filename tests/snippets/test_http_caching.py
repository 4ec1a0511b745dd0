"""Behaviour of the http-caching reference implementation (RFC 9111, RFC 9110 section 13)."""

import asyncio
import copy
import hashlib
import json

import http_caching as snippet
import httpx
import pytest

URL = "/stations/berlin/departures"
LAST_MODIFIED = "Wed, 02 Dec 2026 08:00:00 GMT"


@pytest.fixture(autouse=True)
def fresh_timetables(monkeypatch):
    monkeypatch.setattr(snippet, "TIMETABLES", copy.deepcopy(snippet.TIMETABLES))
    monkeypatch.setattr(snippet, "MODIFIED", dict(snippet.MODIFIED))


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
    assert r.headers["last-modified"] == LAST_MODIFIED
    assert len(r.content) == 1321


def test_the_etag_follows_the_bytes_even_where_a_write_forgets_last_modified():
    old = get()
    snippet.TIMETABLES["berlin"][3]["platform"] = 7  # a write path that bumps no timestamp
    r = get({"If-None-Match": old.headers["etag"]})
    assert r.status_code == 200
    assert r.headers["etag"] == '"' + hashlib.sha256(r.content).hexdigest()[:20] + '"'
    assert r.headers["etag"] != old.headers["etag"]
    assert r.headers["last-modified"] == old.headers["last-modified"]  # the date missed it


def test_if_none_match_gives_304_with_no_body_and_the_same_validators():
    first = get()
    r = get({"If-None-Match": first.headers["etag"]})
    assert r.status_code == 304
    assert r.content == b""
    assert "content-length" not in r.headers or r.headers["content-length"] == "0"
    assert r.headers["etag"] == first.headers["etag"]
    assert r.headers["cache-control"] == first.headers["cache-control"]
    # RFC 9110 section 15.4.5: no other representation metadata when an ETag is sent
    assert "last-modified" not in r.headers and "content-type" not in r.headers


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
    snippet.set_platform("berlin", train=0, platform=9, at=snippet.MODIFIED["berlin"] + 100)
    r = get({"If-None-Match": old.headers["etag"]})
    assert r.status_code == 200
    assert r.headers["etag"] != old.headers["etag"]
    assert r.headers["last-modified"] == "Wed, 02 Dec 2026 08:01:40 GMT"
    assert json.loads(r.content)[0] == {"train": "ICE 100", "platform": 9}
    assert get({"If-None-Match": r.headers["etag"]}).status_code == 304


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (LAST_MODIFIED, 304),  # the client echoes Last-Modified: unchanged
        ("Wed, 02 Dec 2026 09:00:00 GMT", 304),
        ("Wednesday, 02-Dec-26 08:00:00 GMT", 304),  # the obsolete RFC 850 form
        ("Wed, 02 Dec 2026 07:59:59 GMT", 200),  # one second before the change
        ("yesterday", 200),  # not an HTTP-date: ignored
        (f"{LAST_MODIFIED}, {LAST_MODIFIED}", 200),  # a list: ignored
    ],
)
def test_if_modified_since_alone_compares_dates(since, status):
    r = get({"If-Modified-Since": since})
    assert r.status_code == status
    assert (r.content == b"") is (status == 304)


def test_if_modified_since_sees_a_change_made_through_the_write_path():
    snippet.set_platform("berlin", train=0, platform=9, at=snippet.MODIFIED["berlin"] + 100)
    assert get({"If-Modified-Since": LAST_MODIFIED}).status_code == 200


@pytest.mark.parametrize("stale_tag", ['"old"', 'W/"old"', '"a", "b"'])
def test_if_none_match_decides_and_if_modified_since_is_then_ignored(stale_tag):
    etag = get().headers["etag"]
    later = "Wed, 02 Dec 2026 09:00:00 GMT"  # would be a 304 on its own
    assert get({"If-None-Match": stale_tag, "If-Modified-Since": later}).status_code == 200
    long_ago = "Thu, 01 Jan 1970 00:00:00 GMT"  # would be a 200 on its own
    assert get({"If-None-Match": etag, "If-Modified-Since": long_ago}).status_code == 304


def shared_cache_may_reuse(request_headers: dict, response: httpx.Response) -> bool:
    """RFC 9111 sections 3 and 3.5 as a shared cache (a CDN) applies them to a GET's 200."""
    cc = snippet.directives(response)
    if response.status_code != 200 or cc.keys() & {"no-store", "private"}:
        return False
    if "authorization" in {name.lower() for name in request_headers}:  # section 3.5
        if not cc.keys() & {"public", "s-maxage", "must-revalidate"}:
            return False
    return bool(cc.keys() & {"public", "max-age", "s-maxage"})


@pytest.mark.parametrize("key", ["Bearer pk_test_alice", "bearer pk_test_bob"])
def test_a_shared_cache_may_reuse_a_keyed_response_for_every_caller(key):
    keyed = get({"Authorization": key})
    assert shared_cache_may_reuse({"Authorization": key}, keyed)
    assert shared_cache_may_reuse({}, get())
    assert keyed.content == get().content  # the copy any other caller would get


def test_unknown_resource_is_a_404_problem_that_no_cache_may_store():
    r = get(path="/stations/nowhere/departures")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "https://api.example.com/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "No station 'nowhere'.",
        "retryable": False,
    }
    for name in ("etag", "last-modified", "expires", "vary"):
        assert name not in r.headers, name
    assert r.headers["cache-control"] == "no-store"
    assert not shared_cache_may_reuse({}, r)


def test_wrong_method_is_a_405_problem_with_allow():
    async def call():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.delete(URL)

    r = asyncio.run(call())
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    assert r.json()["type"].endswith("/method-not-allowed")
    assert r.json()["retryable"] is False
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer pk_test_other"}, {"Accept-Language": "de"}, {"Accept": "*/*"}],
)
def test_the_representation_depends_on_the_url_alone_so_no_vary_is_needed(headers):
    plain, other = get(), get(headers)
    assert other.content == plain.content
    assert other.headers["etag"] == plain.headers["etag"]
    assert "vary" not in other.headers


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
                await cache.settle()
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
        "stale, revalidating",
    ]
    assert len(calls) == 2
    assert calls[0] is None and calls[1].startswith('"')


def test_client_sees_a_change_only_after_expiry_then_gets_new_body():
    def change():
        snippet.set_platform("berlin", train=0, platform=5, at=snippet.MODIFIED["berlin"] + 10)

    out, calls, cache = run_cache(
        [(0, None), (10, change), (59, None), (61, None), (62, None), (200, None)]
    )
    assert out == [
        (0, "200 with body", 1),
        (10, "fresh hit, no request", 1),  # within max-age: the documented staleness
        (59, "fresh hit, no request", 1),
        (61, "stale, revalidating", 1),  # within stale-while-revalidate: old copy now
        (62, "fresh hit, no request", 5),  # the background revalidation brought it
        (200, "304 Not Modified", 5),  # past max-age + stale-while-revalidate: wait
    ]
    assert cache.received == 2 * 1321


def test_demo_byte_counts_are_exact():
    out, calls, cache = run_cache(
        [
            (0, None),
            (30, None),
            (61, None),
            (100, lambda: snippet.set_platform("berlin", 0, 9, snippet.MODIFIED["berlin"] + 100)),
            (130, None),
            (150, None),
        ]
    )
    assert [o[2] for o in out] == [1, 1, 1, 1, 1, 9]
    assert (cache.received, cache.saved) == (2642, 4 * 1321)
    assert len(calls) == 3  # 200, 304, 200: no read waited on the network after t=0


def cache_over(handler, clock):
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://api")
    return client, snippet.PrivateCache(client, clock=clock)


def reads(handler, times):
    """Read URL at each time through a stub origin; return outcomes and request count."""
    now, seen = [0], []

    def counted(request):
        seen.append(request.headers.get("if-none-match"))
        return handler(request)

    async def go():
        client, cache = cache_over(counted, lambda: now[0])
        async with client:
            out = []
            for t in times:
                now[0] = t
                out.append((await cache.get(URL))[0])
                await cache.settle()
            return out, cache

    out, cache = asyncio.run(go())
    return out, seen, cache


@pytest.mark.parametrize(
    "headers",
    [{}, {"ETag": '"a"'}, {"Cache-Control": "public"}, {"Cache-Control": "max-age=x"}],
)
def test_missing_cache_control_or_max_age_means_revalidate_not_crash(headers):
    out, seen, _ = reads(lambda r: httpx.Response(200, headers=headers, json=[]), [0, 1])
    assert out == ["200 with body", "200 with body"]
    assert len(seen) == 2  # nothing fresh was stored, so both reads asked


def test_directives_are_case_insensitive_and_no_store_is_never_stored():
    upper = {"Cache-Control": "Public, Max-Age=60", "ETag": '"a"'}
    out, seen, _ = reads(lambda r: httpx.Response(200, headers=upper, json=[]), [0, 30])
    assert out == ["200 with body", "fresh hit, no request"]
    no_store = {"Cache-Control": "no-store, max-age=60", "ETag": '"a"'}
    out, seen, cache = reads(lambda r: httpx.Response(200, headers=no_store), [0, 30])
    assert (out, cache.entries) == (["200 with body", "200 with body"], {})


@pytest.mark.parametrize(
    "cache_control",
    [
        "no-cache, max-age=60",
        "no-cache, max-age=60, stale-while-revalidate=30",  # no-cache wins
        "max-age=0, must-revalidate, stale-while-revalidate=30",  # so does must-revalidate
    ],
)
def test_no_cache_revalidates_before_every_use(cache_control):
    def origin(request):
        headers = {"Cache-Control": cache_control, "ETag": '"a"'}
        status = 304 if request.headers.get("if-none-match") == '"a"' else 200
        return httpx.Response(status, headers=headers)

    out, seen, _ = reads(origin, [0, 1, 2])
    assert out == ["200 with body", "304 Not Modified", "304 Not Modified"]
    assert seen == [None, '"a"', '"a"']


def test_age_from_an_upstream_cache_shortens_the_freshness_lifetime():
    headers = {"Cache-Control": "max-age=60", "ETag": '"a"', "Age": "50"}
    out, seen, _ = reads(lambda r: httpx.Response(200, headers=headers), [0, 5, 11])
    assert out == ["200 with body", "fresh hit, no request", "200 with body"]


def test_a_304_updates_the_stored_lifetime_and_validator():
    def origin(request):
        if request.headers.get("if-none-match") == '"a"':
            return httpx.Response(304, headers={"Cache-Control": "max-age=300", "ETag": '"a"'})
        return httpx.Response(200, headers={"Cache-Control": "max-age=10", "ETag": '"a"'})

    out, seen, cache = reads(origin, [0, 10, 200, 311])
    assert out == ["200 with body", "304 Not Modified", "fresh hit, no request", "304 Not Modified"]
    assert cache.entries[URL]["max_age"] == 300


def test_stale_while_revalidate_answers_before_the_origin_and_sends_one_request():
    gate, seen = asyncio.Event(), []

    async def go():
        now = [0]

        async def slow_origin(request):
            seen.append(request.headers.get("if-none-match"))
            if len(seen) > 1:
                await gate.wait()  # the origin hangs until the test releases it
            headers = {"Cache-Control": CC, "ETag": '"a"'}
            status = 304 if request.headers.get("if-none-match") == '"a"' else 200
            return httpx.Response(status, headers=headers)

        client, cache = cache_over(slow_origin, lambda: now[0])
        async with client:
            await cache.get(URL)
            now[0] = 70
            results = [await cache.get(URL) for _ in range(10)]  # origin still hanging
            await asyncio.sleep(0.01)  # let the background revalidation reach the origin
            requests_while_hanging = len(seen)
            gate.set()
            await cache.settle()
            now[0] = 71
            return results, requests_while_hanging, await cache.get(URL)

    results, hanging, after = asyncio.run(go())
    assert {r[0] for r in results} == {"stale, revalidating"}
    assert hanging == 2  # the first fetch and one background revalidation for ten reads
    assert after[0] == "fresh hit, no request"  # the 304 renewed the entry at t=70


CC = "max-age=60, stale-while-revalidate=30"


@pytest.fixture(scope="module")
def live():
    import threading

    import uvicorn

    config = uvicorn.Config(snippet.app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


def test_over_a_real_server_a_304_carries_date_etag_and_cache_control(live):
    with httpx.Client(base_url=live) as client:
        first = client.get(URL)
        again = client.get(URL, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for name in ("date", "etag", "cache-control"):  # RFC 9110 section 15.4.5
        assert again.headers[name], name
    assert again.headers["etag"] == first.headers["etag"]
