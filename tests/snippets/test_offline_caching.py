"""Behaviour of snippets/offline_caching.py: offline reads, ETag revalidation, push invalidation."""

import asyncio
import copy
import json

import httpx
import offline_caching as snippet
import pytest

PATH = "/articles/a1"


@pytest.fixture(autouse=True)
def fresh_articles(monkeypatch):
    monkeypatch.setattr(snippet, "ARTICLES", copy.deepcopy(snippet.ARTICLES))


class Harness:
    def __init__(self):
        self.now = 0.0
        self.network = snippet.Network(httpx.ASGITransport(app=snippet.app))
        self.client = httpx.AsyncClient(transport=self.network, base_url="http://api")
        self.cache = snippet.OfflineCache(self.client, clock=lambda: self.now)


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
        etag = h.cache.entries[PATH]["etag"]

        async def record(response):
            await response.aread()
            seen.append(response)

        h.client.event_hooks["response"] = [record]
        h.now += snippet.MAX_AGE
        result = await h.cache.get(PATH)
        return etag, body, result, h.network.log, h.cache.entries[PATH]["stored_at"]

    etag, body, result, log, stored_at = scenario(steps)
    assert log == [(None, 200), (etag, 304)]
    assert seen[0].status_code == 304 and seen[0].content == b""
    assert seen[0].headers["etag"] == etag
    assert result == ("revalidated", body)
    assert stored_at == snippet.MAX_AGE  # freshness restarted at the 304


def test_changed_resource_revalidates_to_200_with_new_etag():
    async def steps(h):
        await h.cache.get(PATH)
        old = h.cache.entries[PATH]["etag"]
        snippet.ARTICLES["a1"]["title"] = "Renamed"
        h.now += snippet.MAX_AGE
        result = await h.cache.get(PATH)
        return old, result, h.cache.entries[PATH]["etag"], h.network.log

    old, result, new, log = scenario(steps)
    assert result[0] == "network" and result[1]["title"] == "Renamed"
    assert new != old
    assert log == [(None, 200), (old, 200)]


def test_push_invalidation_drops_the_entry_even_while_fresh():
    async def steps(h):
        await h.cache.get(PATH)
        snippet.ARTICLES["a1"]["title"] = "Closed"
        stale = await h.cache.get(PATH)  # still fresh: served from cache
        h.cache.on_push({"type": "invalidate", "path": PATH})
        dropped = PATH not in h.cache.entries
        return stale, dropped, await h.cache.get(PATH), h.network.log

    stale, dropped, result, log = scenario(steps)
    assert stale == ("cache", {"id": "a1", "title": "Trail map", "body": "North loop, 12 km."})
    assert dropped
    assert result == ("network", {"id": "a1", "title": "Closed", "body": "North loop, 12 km."})
    assert log == [(None, 200), (None, 200)]  # unconditional: no If-None-Match after the drop


@pytest.mark.parametrize(
    "message",
    [
        {"type": "invalidate", "path": "/articles/other"},
        {"type": "promo", "path": PATH},
        {},
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
        return dict(h.cache.entries)

    assert scenario(steps) == {}


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


def test_fifty_concurrent_revalidations_all_get_304():
    async def steps(h):
        await h.cache.get(PATH)
        h.now += snippet.MAX_AGE
        results = await asyncio.gather(*(h.cache.get(PATH) for _ in range(50)))
        return {r[0] for r in results}, [s for _, s in h.network.log[1:]]

    sources, statuses = scenario(steps)
    assert sources == {"revalidated"}
    assert statuses == [304] * 50
