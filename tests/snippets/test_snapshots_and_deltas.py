"""Snapshots and deltas: REST snapshot + WebSocket deltas reproduce the server's state
exactly, for clients that join at any point, with no gap and no duplicate; the REST and
WebSocket servers listen on real sockets on 127.0.0.1 (uvicorn and `websockets`)."""

import asyncio
import json

import httpx
import pytest
import snapshots_and_deltas as snippet
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

AUTH = {"Authorization": "Bearer sess_test_alice"}
edits = st.lists(
    st.tuples(st.sampled_from(["c1", "c2", "c3", "c4"]), st.one_of(st.none(), st.text(max_size=5))),
    min_size=1,
    max_size=40,
)


def run(scenario):
    """Run one scenario; a lost delta fails it within 10 s instead of hanging."""
    return asyncio.run(asyncio.wait_for(scenario, 10))


class Harness:
    """The board's WebSocket server and its FastAPI snapshot endpoint in one event loop, as
    one process serves them; with `real=True` the API listens on a real socket (uvicorn),
    otherwise httpx calls it in process (faster, for tests of single responses)."""

    def __init__(self, epoch="e1", real=False):
        self.board = snippet.Board(epoch=epoch)
        self.real, self.uvicorn = real, None

    async def __aenter__(self):
        api = snippet.create_api(self.board)
        if self.real:
            config = uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning")
            self.uvicorn = uvicorn.Server(config)
            self.task = asyncio.create_task(self.uvicorn.serve())
            while not self.uvicorn.started:
                await asyncio.sleep(0.005)
            port = self.uvicorn.servers[0].sockets[0].getsockname()[1]
            base, transport = f"http://127.0.0.1:{port}", None
        else:
            base, transport = "http://board.test", httpx.ASGITransport(app=api)
        self.http = httpx.AsyncClient(base_url=base, headers=AUTH, transport=transport)
        self.server = await snippet.start(self.board).__aenter__()
        self.url = f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/board"
        return self

    def connect(self, **kwargs):
        return connect(self.url, additional_headers=AUTH, **kwargs)

    async def __aexit__(self, *exc):
        await self.http.aclose()
        self.server.close()
        await self.server.wait_closed()
        if self.uvicorn:
            self.uvicorn.should_exit = True
            await self.task


def caught_up(client, board):
    """The test's oracle: the client holds everything the board has published."""
    return lambda cards: client.seq == board.seq


@settings(max_examples=15, deadline=None)
@given(script=edits, joins=st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_snapshot_plus_deltas_equals_server_state_for_every_joiner(script, joins):
    async def scenario():
        async with Harness(real=True) as h:
            done = asyncio.Event()

            async def editor():
                for key, value in script:
                    h.board.edit(key, value)
                    await asyncio.sleep(0.002)  # joiners subscribe and load in between
                done.set()

            async def joiner(turns):
                await asyncio.sleep(turns * 0.002)
                client = snippet.Client()
                async with h.connect() as ws:
                    await client.subscribe(ws)
                    await client.load(h.http)
                    await done.wait()
                    await client.catch_up(ws, until=caught_up(client, h.board))
                return client.seq, client.cards

            results = await asyncio.gather(editor(), *(joiner(t) for t in joins))
            return results[1:], (h.board.seq, h.board.cards)

    results, server_state = run(scenario())
    assert server_state[0] == len(script)
    assert results == [server_state] * len(joins)


@pytest.mark.parametrize("before,overlap,after", [(0, 0, 3), (2, 3, 4), (5, 1, 1)])
def test_deltas_already_in_the_snapshot_are_skipped_exactly(before, overlap, after):
    async def scenario():
        async with Harness(real=True) as h:
            for n in range(before):
                h.board.edit(f"c{n}", "before")
            client = snippet.Client()
            async with h.connect() as ws:
                subscribed = await client.subscribe(ws)
                for n in range(overlap):  # buffered as deltas AND inside the snapshot
                    h.board.edit(f"c{n}", "overlap")
                await client.load(h.http)
                loaded = client.seq
                for n in range(after):
                    h.board.edit(f"c{n + 10}", "after")
                await client.catch_up(ws, until=caught_up(client, h.board))
            return subscribed, loaded, client, h.board

    subscribed, loaded, client, board = run(scenario())
    assert (subscribed, loaded) == (before, before + overlap)
    assert client.skipped == overlap
    assert (client.seq, client.cards) == (board.seq, board.cards)


def test_every_message_follows_the_wire_format():
    async def scenario():
        async with Harness() as h:
            async with h.connect() as ws:
                hello = json.loads(await ws.recv())
                h.board.edit("c1", "x")
                h.board.edit("c1", None)
                deltas = [json.loads(await ws.recv()) for _ in range(2)]
            snapshot = (await h.http.get("/board")).json()
            return hello, deltas, snapshot

    hello, deltas, snapshot = run(scenario())
    assert hello == {"type": "subscribed", "epoch": "e1", "seq": 0}
    assert deltas == [
        {"type": "event", "epoch": "e1", "seq": 1, "data": {"key": "c1", "value": "x"}},
        {"type": "event", "epoch": "e1", "seq": 2, "data": {"key": "c1", "value": None}},
    ]
    assert snapshot == {"epoch": "e1", "seq": 2, "cards": {}}


def test_a_client_stops_on_what_it_received_and_leaves_the_rest_queued():
    async def scenario():
        async with Harness() as h:
            client = snippet.Client()
            async with h.connect() as ws:
                await client.subscribe(ws)
                await client.load(h.http)
                for n in range(5):
                    h.board.edit(f"c{n}", "x")
                await client.catch_up(ws, until=lambda cards: "c2" in cards)
                stopped_at = client.seq
                queued = json.loads(await ws.recv())["seq"]
            return stopped_at, queued

    assert run(scenario()) == (3, 4)


def test_a_lost_delta_is_detected_as_a_gap():
    async def scenario():
        async with Harness() as h:
            client = snippet.Client()
            async with h.connect() as ws:
                await client.subscribe(ws)
                await client.load(h.http)
                (server_side,) = h.board.watchers
                h.board.watchers.discard(server_side)  # delta 1 never reaches us
                h.board.edit("c1", "lost")
                h.board.watchers.add(server_side)
                h.board.edit("c2", "arrives")
                with pytest.raises(RuntimeError, match="gap"):
                    await client.catch_up(ws, until=lambda cards: "c2" in cards)
            return client.seq, client.cards

    assert run(scenario()) == (0, {})


def test_a_delta_of_another_epoch_is_never_applied():
    async def scenario():
        async with Harness(epoch="e1") as old, Harness(epoch="e2") as restarted:
            old.board.edit("c1", "old")
            client = snippet.Client()
            async with restarted.connect() as ws:
                await client.subscribe(ws)
                await client.load(old.http)  # the snapshot of the old history
                restarted.board.edit("c1", "new")
                restarted.board.edit("c2", "new")  # seq 2: would look like "next"
                with pytest.raises(RuntimeError, match="another history"):
                    await client.catch_up(ws, until=lambda cards: "c2" in cards)
            return client.epoch, client.cards

    assert run(scenario()) == ("e1", {"c1": "old"})


def test_snapshots_are_consistent_while_edits_stream_in():
    async def scenario():
        async with Harness(real=True) as h:
            history = {0: {}}

            async def editor():
                for n in range(200):
                    h.board.edit(f"c{n % 7}", None if n % 5 == 0 else f"v{n}")
                    history[h.board.seq] = dict(h.board.cards)
                    await asyncio.sleep(0)

            async def reader():
                return [(await h.http.get("/board")).json() for _ in range(10)]

            batches = await asyncio.gather(editor(), *(reader() for _ in range(5)))
            return history, [s for batch in batches[1:] for s in batch]

    history, snapshots = run(scenario())
    assert len(snapshots) == 50
    assert len({s["seq"] for s in snapshots}) >= 5  # taken at many versions
    for snap in snapshots:
        assert snap["cards"] == history[snap["seq"]]


@pytest.mark.parametrize(
    "if_none_match,status",
    [
        ('"e1.1"', 304),
        ('W/"e1.1"', 304),  # weak comparison: the weakness flag is ignored
        ('"e1.0", "e1.1"', 304),
        ('"e1.0",W/"e1.1"', 304),
        ("*", 304),
        ('"e1.0"', 200),
        ('"e2.1"', 200),  # another epoch, same number
        ('W/"e1.0", "nope"', 200),
        ("e1.1", 200),  # not an entity tag: no quotes
        ("", 200),
    ],
)
def test_if_none_match_uses_weak_comparison_over_the_list(if_none_match, status):
    async def scenario():
        async with Harness() as h:
            h.board.edit("c1", "x")
            return await h.http.get("/board", headers={"If-None-Match": if_none_match})

    response = run(scenario())
    assert response.status_code == status
    assert response.headers["etag"] == '"e1.1"'
    if status == 304:
        assert response.content == b""


def test_two_if_none_match_fields_are_one_list():
    async def scenario():
        async with Harness() as h:
            h.board.edit("c1", "x")
            headers = [("If-None-Match", '"e1.0"'), ("If-None-Match", '"e1.1"')]
            return (await h.http.get("/board", headers=headers)).status_code

    assert run(scenario()) == 304


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
    assert (first.status_code, first.headers["etag"]) == (200, '"e1.1"')
    assert (same.status_code, same.headers["etag"], same.content) == (304, '"e1.1"', b"")
    assert (changed.status_code, changed.headers["etag"]) == (200, '"e1.2"')
    assert changed.json() == {"epoch": "e1", "seq": 2, "cards": {"c1": "y"}}


def assert_problem(response, status, slug):
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == snippet.PROBLEMS + slug
    assert (body["status"], body["retryable"]) == (status, False)
    assert {"type", "title", "status", "detail", "retryable"} <= body.keys()


@pytest.mark.parametrize(
    "headers,status",
    [
        ({}, 401),
        ({"Authorization": "Bearer sess_forged"}, 401),
        ({"Authorization": "Basic YTpi"}, 401),
        ([("Authorization", "Bearer sess_test_alice")] * 2, 400),
    ],
)
def test_the_snapshot_needs_a_session(headers, status):
    async def scenario():
        async with Harness() as h:
            del h.http.headers["Authorization"]
            return await h.http.get("/board", headers=headers)

    response = run(scenario())
    assert_problem(response, status, {400: "invalid-request", 401: "unauthorized"}[status])
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="api"')


@pytest.mark.parametrize("scheme", ["bearer", "BEARER"])
def test_the_bearer_scheme_is_case_insensitive(scheme):
    async def scenario():
        async with Harness() as h:
            headers = {"Authorization": f"{scheme} sess_test_bob"}
            return (await h.http.get("/board", headers=headers)).status_code

    assert run(scenario()) == 200


def test_the_delta_stream_needs_a_session():
    async def scenario():
        async with Harness() as h:
            with pytest.raises(InvalidStatus) as caught:
                await connect(h.url)
            return caught.value.response

    response = run(scenario())
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'
    assert json.loads(response.body)["type"] == snippet.PROBLEMS + "unauthorized"


def test_framework_errors_are_problem_details_too():
    async def scenario():
        async with Harness(real=True) as h:
            missing = await h.http.get("/boards")
            wrong_method = await h.http.post("/board", json={})
            ws_base = h.url.replace("ws://", "http://")
            plain = await h.http.get(ws_base)  # the delta endpoint opened as a web page
            return missing, wrong_method, plain

    missing, wrong_method, plain = run(scenario())
    assert_problem(missing, 404, "not-found")
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert wrong_method.headers["allow"] == "GET"
    assert_problem(plain, 426, "upgrade-required")
