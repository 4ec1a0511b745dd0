"""Snapshots and deltas: REST snapshot + WebSocket deltas reproduce the server's state
exactly, for clients that join at any point, with no gap and no duplicate."""

import asyncio

import httpx
import pytest
import snapshots_and_deltas as snippet
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

edits = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3", "c4"]), st.one_of(st.none(), st.text(max_size=5))),
    min_size=1,
    max_size=40,
)


def run(scenario):
    """Run one scenario; a lost delta fails it within 5 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 5))


class Harness:
    """The board's WebSocket server and its FastAPI snapshot endpoint, in one loop."""

    def __init__(self):
        self.board = snippet.Board()
        transport = httpx.ASGITransport(app=snippet.create_api(self.board))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://board.test")

    async def __aenter__(self):
        self.server = await serve(self.board.watch, "127.0.0.1", 0).__aenter__()
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/board"
        return self

    async def __aexit__(self, *exc):
        await self.http.aclose()
        self.server.close()
        await self.server.wait_closed()


@settings(max_examples=25, deadline=None)
@given(script=edits, joins=st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_snapshot_plus_deltas_equals_server_state_for_every_joiner(script, joins):
    async def scenario():
        async with Harness() as h:
            done = asyncio.Event()

            async def editor():
                for key, value in script:
                    h.board.edit(key, value)
                    await asyncio.sleep(0)  # let joiners interleave with the edits
                done.set()

            async def joiner(turns):
                for _ in range(turns):
                    await asyncio.sleep(0)
                client = snippet.Client()
                async with connect(h.url) as ws:
                    await client.subscribe(ws)
                    await client.load(h.http)
                    await done.wait()
                    await client.catch_up(ws, h.board.version)
                return client.version, client.cards

            results = await asyncio.gather(editor(), *(joiner(t) for t in joins))
            return results[1:], (h.board.version, h.board.cards)

    results, server_state = run(scenario())
    assert server_state[0] == len(script)
    assert results == [server_state] * len(joins)


@pytest.mark.parametrize("before,overlap,after", [(0, 0, 3), (2, 3, 4), (5, 1, 1)])
def test_deltas_already_in_the_snapshot_are_skipped_exactly(before, overlap, after):
    async def scenario():
        async with Harness() as h:
            for n in range(before):
                h.board.edit(f"c{n}", "before")
            client = snippet.Client()
            async with connect(h.url) as ws:
                subscribed = await client.subscribe(ws)
                for n in range(overlap):  # buffered as deltas AND inside the snapshot
                    h.board.edit(f"c{n}", "overlap")
                await client.load(h.http)
                loaded = client.version
                for n in range(after):
                    h.board.edit(f"c{n + 10}", "after")
                await client.catch_up(ws, h.board.version)
            return subscribed, loaded, client, h.board

    subscribed, loaded, client, board = run(scenario())
    assert (subscribed, loaded) == (before, before + overlap)
    assert client.skipped == overlap
    assert (client.version, client.cards) == (board.version, board.cards)


def test_a_lost_delta_is_detected_as_a_gap():
    async def scenario():
        async with Harness() as h:
            client = snippet.Client()
            async with connect(h.url) as ws:
                await client.subscribe(ws)
                await client.load(h.http)
                (server_side,) = h.board.watchers
                h.board.watchers.discard(server_side)  # delta 1 never reaches us
                h.board.edit("c1", "lost")
                h.board.watchers.add(server_side)
                h.board.edit("c2", "arrives")
                with pytest.raises(RuntimeError, match="gap"):
                    await client.catch_up(ws, 2)
            return client.version, client.cards

    assert run(scenario()) == (0, {})


def test_snapshots_are_consistent_while_edits_stream_in():
    async def scenario():
        async with Harness() as h:
            history = {0: {}}

            async def editor():
                for n in range(200):
                    h.board.edit(f"c{n % 7}", None if n % 5 == 0 else f"v{n}")
                    history[h.board.version] = dict(h.board.cards)
                    await asyncio.sleep(0)

            async def reader():
                snapshots = []
                for _ in range(10):
                    snapshots.append((await h.http.get("/board")).json())
                    await asyncio.sleep(0)  # in-process ASGI never suspends by itself
                return snapshots

            batches = await asyncio.gather(editor(), *(reader() for _ in range(5)))
            return history, [s for batch in batches[1:] for s in batch]

    history, snapshots = run(scenario())
    assert len(snapshots) == 50
    assert len({s["version"] for s in snapshots}) >= 5  # taken at many versions
    for snap in snapshots:
        assert snap["cards"] == history[snap["version"]]


def test_snapshot_carries_an_etag_and_answers_304_until_the_next_edit():
    async def scenario():
        async with Harness() as h:
            h.board.edit("c1", "x")
            first = await h.http.get("/board")
            same = await h.http.get("/board", headers={"If-None-Match": first.headers["etag"]})
            h.board.edit("c1", "y")
            changed = await h.http.get("/board", headers={"If-None-Match": first.headers["etag"]})
            return first, same, changed

    first, same, changed = run(scenario())
    assert (first.status_code, first.headers["etag"]) == (200, '"v1"')
    assert (same.status_code, same.headers["etag"], same.content) == (304, '"v1"', b"")
    assert (changed.status_code, changed.headers["etag"]) == (200, '"v2"')
    assert changed.json() == {"version": 2, "cards": {"c1": "y"}}
