"""Behaviour of snippets/offline_caching.py: offline reads, ETag revalidation, push invalidation."""

import asyncio
import copy
import json

import httpx
import offline_caching as snippet
import pytest

PATH = "/articles/a1"
USER = "usr_ada"
KEY = (USER, PATH)


@pytest.fixture(autouse=True)
def fresh_articles(monkeypatch):
    monkeypatch.setattr(snippet, "ARTICLES", copy.deepcopy(snippet.ARTICLES))


class Harness:
    def __init__(self):
        self.now = 0.0
        self.network = snippet.Network(httpx.ASGITransport(app=snippet.app))
        self.client = httpx.AsyncClient(transport=self.network, base_url="http://api")
        self.cache = snippet.OfflineCache(self.client, clock=lambda: self.now, user=USER)


def scenario(steps):
    """Run an async function of a Harness and close its client."""

    async def go():
        h = Harness()
        async with h.client:
            return await steps(h)

    return asyncio.run(go())


def test_serves_the_cached_copy_when_the_network_is_down():
    async def steps(h):
        first = await h.cache.get(PATH)
        h.now += snippet.MAX_AGE + 1
        h.network.online = False
        return first, await h.cache.get(PATH), h.network.log

    first, offline, log = scenario(steps)
    assert first == ("network", {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."})
    assert offline == ("offline", first[1])
    assert log == [(None, 200)]  # the offline attempt never reached the server


def test_offline_with_nothing_cached_raises_connect_error():
    async def steps(h):
        h.network.online = False
        await h.cache.get(PATH)

    with pytest.raises(httpx.ConnectError):
        scenario(steps)


def test_fresh_entry_is_served_without_any_request():
    async def steps(h):
        await h.cache.get(PATH)
        h.now += snippet.MAX_AGE - 0.001
        return [(await h.cache.get(PATH))[0] for _ in range(5)], len(h.network.log)

    sources, requests = scenario(steps)
    assert sources == ["cache"] * 5
    assert requests == 1


def test_stale_entry_revalidates_with_if_none_match_and_gets_304_without_body():
    seen: list[httpx.Response] = []

    async def steps(h):
        _, body = await h.cache.get(PATH)
        etag = h.cache.entries[KEY]["etag"]

        async def record(response):
            await response.aread()
            seen.append(response)

        h.client.event_hooks["response"] = [record]
        h.now += snippet.MAX_AGE
        result = await h.cache.get(PATH)
        return etag, body, result, h.network.log, h.cache.entries[KEY]["stored_at"]

    etag, body, result, log, stored_at = scenario(steps)
    assert log == [(None, 200), (etag, 304)]
    assert seen[0].status_code == 304 and seen[0].content == b""
    assert seen[0].headers["etag"] == etag
    assert result == ("revalidated", body)
    assert stored_at == snippet.MAX_AGE  # freshness restarted at the 304


def test_changed_resource_revalidates_to_200_with_new_etag():
    async def steps(h):
        await h.cache.get(PATH)
        old = h.cache.entries[KEY]["etag"]
        snippet.ARTICLES["a1"]["title"] = "Renamed"
        h.now += snippet.MAX_AGE
        result = await h.cache.get(PATH)
        return old, result, h.cache.entries[KEY]["etag"], h.network.log

    old, result, new, log = scenario(steps)
    assert result[0] == "network" and result[1]["title"] == "Renamed"
    assert new != old
    assert log == [(None, 200), (old, 200)]


def test_push_marks_the_entry_stale_so_the_next_read_revalidates():
    async def steps(h):
        await h.cache.get(PATH)
        etag = h.cache.entries[KEY]["etag"]
        snippet.ARTICLES["a1"]["title"] = "Closed"
        stale = await h.cache.get(PATH)  # still fresh: served from cache
        h.cache.on_push({"type": "invalidate", "path": PATH})
        kept = KEY in h.cache.entries
        return etag, stale, kept, await h.cache.get(PATH), h.network.log

    etag, stale, kept, result, log = scenario(steps)
    assert stale == ("cache", {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."})
    assert kept
    assert result == ("network", {"id": "a1", "title": "Closed", "body": "North loop, 12 km."})
    assert log == [(None, 200), (etag, 200)]  # conditional: a 304 if nothing had changed


def test_a_push_received_offline_keeps_the_screen_working():
    async def steps(h):
        await h.cache.get(PATH)
        h.network.online = False
        h.cache.on_push({"type": "invalidate", "path": PATH})
        offline = await h.cache.get(PATH)
        h.network.online = True
        return offline, await h.cache.get(PATH)

    offline, online = scenario(steps)
    assert offline == ("offline", {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."})
    assert online[0] == "revalidated"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "invalidate", "path": "/articles/other"},
        {"type": "promo", "path": PATH},
        {},
        {"type": "invalidate", "path": ["/articles/a1"]},
        {"type": "invalidate"},
        "invalidate",
    ],
)
def test_unrelated_or_malformed_push_keeps_the_entry(message):
    async def steps(h):
        await h.cache.get(PATH)
        h.cache.on_push(message)
        return await h.cache.get(PATH), len(h.network.log)

    assert scenario(steps) == (
        ("cache", {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."}),
        1,
    )


def test_fcm_http_v1_message_data_reaches_the_handler():
    """The server's FCM send body; the device delivers its `data` map (strings only)."""
    data = {"type": "invalidate", "path": PATH}
    send_body = json.loads(json.dumps({"message": {"token": "device-token", "data": data}}))

    async def steps(h):
        await h.cache.get(PATH)
        h.cache.on_push(send_body["message"]["data"])
        return (await h.cache.get(PATH))[0], len(h.network.log)

    assert scenario(steps) == ("revalidated", 2)


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("{etag}", 304),
        ("W/{etag}", 304),
        ('"nope", {etag}', 304),
        ("*", 304),
        ('"nope"', 200),
        ("", 200),
    ],
)
def test_server_conditional_get(header, status):
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            etag = (await c.get(PATH)).headers["etag"]
            headers = {"If-None-Match": header.format(etag=etag)} if header else {}
            return etag, await c.get(PATH, headers=headers)

    etag, response = asyncio.run(go())
    assert response.status_code == status
    assert response.headers["etag"] == etag
    assert response.headers["cache-control"] == f"private, max-age={snippet.MAX_AGE}"
    assert (response.content == b"") == (status == 304)


def test_fifty_concurrent_revalidations_send_one_request():
    async def steps(h):
        await h.cache.get(PATH)
        h.now += snippet.MAX_AGE
        results = await asyncio.gather(*(h.cache.get(PATH) for _ in range(50)))
        return {r[0] for r in results}, [s for _, s in h.network.log[1:]], h.cache.inflight

    sources, statuses, inflight = scenario(steps)
    assert sources == {"revalidated"}
    assert statuses == [304]
    assert inflight == {}


def test_fifty_concurrent_first_reads_send_one_request():
    async def steps(h):
        results = await asyncio.gather(*(h.cache.get(PATH) for _ in range(50)))
        return {r[0] for r in results}, len(h.network.log)

    assert scenario(steps) == ({"network"}, 1)


def test_a_cancelled_reader_does_not_cancel_the_shared_request():
    async def steps(h):
        first = asyncio.create_task(h.cache.get(PATH))
        second = asyncio.create_task(h.cache.get(PATH))
        await asyncio.sleep(0)
        first.cancel()
        return await second, first.cancelled(), len(h.network.log)

    (source, _), cancelled, requests = scenario(steps)
    assert (source, cancelled, requests) == ("network", True, 1)


def test_entries_are_per_user_and_sign_out_wipes_only_that_user():
    async def steps(h):
        store = h.cache.entries
        bo = snippet.OfflineCache(h.client, clock=lambda: h.now, user="usr_bo", store=store)
        await h.cache.get(PATH)
        bo_first = await bo.get(PATH)  # Bo's read does not get Ada's copy
        h.cache.sign_out()
        return bo_first[0], sorted(store), len(h.network.log)

    source, keys, requests = scenario(steps)
    assert source == "network" and requests == 2
    assert keys == [("usr_bo", PATH)]


def stub_cache(headers, status=200):
    """An OfflineCache over a stub origin that answers with these headers."""
    seen = []

    def origin(request):
        seen.append(request.headers.get("if-none-match"))
        code = status if request.headers.get("if-none-match") else 200
        return httpx.Response(code, headers=headers, json={"id": "a1"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(origin), base_url="http://api")
    return client, seen


@pytest.mark.parametrize(
    ("headers", "stored", "second"),
    [
        ({"Cache-Control": "no-store, max-age=60", "ETag": '"a"'}, False, "network"),
        ({"Cache-Control": "No-Store", "ETag": '"a"'}, False, "network"),
        ({"Cache-Control": "no-cache, max-age=60", "ETag": '"a"'}, True, "revalidated"),
        ({"Cache-Control": "PRIVATE, MAX-AGE=60", "ETag": '"a"'}, True, "cache"),
        ({"Cache-Control": "max-age=60", "ETag": '"a"', "Age": "60"}, True, "revalidated"),
        ({"ETag": '"a"'}, True, "revalidated"),
        ({"Cache-Control": "max-age=60"}, False, "network"),
    ],
)
def test_cache_control_is_read_as_rfc_9111_says(headers, stored, second):
    async def go():
        client, seen = stub_cache(headers, status=304)
        async with client:
            cache = snippet.OfflineCache(client, clock=lambda: 10.0, user=USER)
            await cache.get(PATH)
            was_stored = KEY in cache.entries
            return was_stored, (await cache.get(PATH))[0]

    assert asyncio.run(go()) == (stored, second)


def test_a_304_updates_the_stored_lifetime():
    now = [0.0]

    def origin(request):
        if request.headers.get("if-none-match"):
            return httpx.Response(304, headers={"Cache-Control": "max-age=600", "ETag": '"a"'})
        return httpx.Response(200, headers={"Cache-Control": "max-age=1", "ETag": '"a"'}, json={})

    async def go():
        transport = httpx.MockTransport(origin)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            cache = snippet.OfflineCache(client, clock=lambda: now[0], user=USER)
            await cache.get(PATH)
            now[0] = 5
            revalidated = (await cache.get(PATH))[0]
            now[0] = 500
            return revalidated, (await cache.get(PATH))[0]

    assert asyncio.run(go()) == ("revalidated", "cache")


def test_unknown_article_is_a_problem_and_drops_nothing_else():
    async def steps(h):
        await h.cache.get(PATH)
        with pytest.raises(httpx.HTTPStatusError) as err:
            await h.cache.get("/articles/nope")
        return err.value.response, KEY in h.cache.entries

    response, kept = scenario(steps)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://api.example.com/problems/not-found"
    assert response.json()["retryable"] is False
    assert kept


def test_a_wrong_method_is_a_problem_the_client_never_caches():
    async def go():
        transport = httpx.ASGITransport(app=snippet.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.post(PATH)

    response = asyncio.run(go())
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://api.example.com/problems/method-not-allowed"
    assert response.headers["cache-control"] == "no-store"
