"""Behaviour of snippets/freshness_contract.py: the staleness window holds and every
response tells the truth about its own freshness. Time is virtual: the background
indexer really runs as an asyncio task, but its sleeps advance an injected clock."""

import asyncio
import heapq
import itertools
from datetime import datetime

import freshness_contract as snippet
import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

START = 1795608000.0  # 2026-11-25T12:00:00Z
MAX = snippet.MAX_STALENESS_S


class VirtualClock:
    def __init__(self, start: float) -> None:
        self.now, self.sleepers, self.order = start, [], itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self.sleepers, (self.now + seconds, next(self.order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self.sleepers and self.sleepers[0][0] <= target:
            self.now, _, wake = heapq.heappop(self.sleepers)
            if wake.done():  # its task was cancelled meanwhile
                continue
            wake.set_result(None)
            for _ in range(3):  # let the woken task run up to its next sleep
                await asyncio.sleep(0)
        self.now = target


def parse(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def started(clock, sleep):
    app = snippet.create_app(clock=clock, sleep=sleep)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    await asyncio.sleep(0)  # the indexer task runs its first refresh
    transport = httpx.ASGITransport(app=app)
    return app, lifespan, httpx.AsyncClient(transport=transport, base_url="http://t")


def check_statement(r: httpx.Response, now: float, committed: dict[int, float]) -> None:
    """A 200 says how fresh it is; prove the statement true against the write log."""
    body = r.json()
    through = parse(body["indexed_through"])
    assert through <= now
    assert abs(body["staleness_s"] - (now - through)) < 0.002  # stamps are in ms
    assert body["staleness_s"] <= MAX
    assert body["max_staleness_s"] == MAX
    max_age, revalidate = r.headers["cache-control"].removeprefix("max-age=").split(", ")
    max_age = int(max_age)
    assert revalidate == "must-revalidate"  # no cache may serve it stale
    assert max_age >= 0 and body["staleness_s"] + max_age <= MAX  # even once cached
    visible = set(body["data"])
    assert {i for i, t in committed.items() if t < through} <= visible
    assert {i for i, t in committed.items() if t < now - MAX} <= visible  # the window
    assert visible <= {i for i, t in committed.items() if t <= now}


def test_a_write_becomes_searchable_within_the_window_via_the_background_indexer():
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        await clock.advance(0.4)
        created = await client.post("/products", json={"id": 1, "name": "trail shoe"})
        waited = 0.0
        while (await client.get("/search?q=shoe")).json()["data"] != [1]:
            await clock.advance(0.05)
            waited += 0.05
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
        return created, waited

    created, waited = asyncio.run(go())
    assert created.status_code == 201
    assert created.json() == {
        "id": 1,
        "searchable_by": "2026-11-25T12:00:05.400Z",
        "position": 1,
    }
    assert 0.55 <= waited <= 0.65  # the next indexer run, at t = 1 s
    assert waited <= MAX


def test_a_stalled_indexer_makes_search_refuse_rather_than_lie():
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        await client.post("/products", json={"id": 1, "name": "trail shoe"})
        await lifespan.__aexit__(None, None, None)  # the indexer task is cancelled
        await clock.advance(MAX)
        at_edge = await client.get("/search")
        await clock.advance(0.01)
        beyond = await client.get("/search")
        read_through = await client.get("/products/1")
        await client.aclose()
        return at_edge, beyond, read_through

    at_edge, beyond, read_through = asyncio.run(go())
    assert read_through.json() == {"id": 1, "name": "trail shoe"}
    assert at_edge.status_code == 200 and at_edge.json()["staleness_s"] == MAX
    assert at_edge.headers["cache-control"] == "max-age=0, must-revalidate"
    assert beyond.status_code == 503
    assert beyond.headers["retry-after"] == "1"
    assert beyond.headers["content-type"] == "application/problem+json"
    assert beyond.json()["type"] == "https://api.example.com/problems/index-behind"
    assert beyond.json()["retryable"] is True
    assert beyond.json()["detail"].startswith("Results would be 5 s stale; the contract is 5 s")


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["write", "search"]), st.floats(0, 2.5)),
        min_size=1,
        max_size=40,
    ),
    lag=st.floats(0, MAX - snippet.INDEX_INTERVAL_S),
)
def test_window_holds_and_statements_are_true_with_a_slow_indexer(steps, lag):
    """The indexer oversleeps by `lag` every run (up to 4 s): still inside the window."""

    async def go():
        clock = VirtualClock(START)

        async def lagging_sleep(seconds: float) -> None:
            await clock.sleep(seconds + lag)

        app, lifespan, client = await started(clock, lagging_sleep)
        committed: dict[int, float] = {}
        for n, (kind, gap) in enumerate(steps):
            await clock.advance(gap)
            if kind == "write":
                r = await client.post("/products", json={"id": n, "name": "shoe"})
                assert r.status_code == 201
                committed[n] = clock.now
            else:
                r = await client.get("/search")
                assert r.status_code == 200  # a healthy indexer never trips the guard
                check_statement(r, clock.now, committed)
        await client.aclose()
        await lifespan.__aexit__(None, None, None)

    asyncio.run(go())


@settings(max_examples=40, deadline=None)
@given(gaps=st.lists(st.floats(0, 3), min_size=1, max_size=25), stall_at=st.integers(0, 24))
def test_every_answer_is_true_or_a_503_even_when_the_indexer_dies(gaps, stall_at):
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        committed: dict[int, float] = {}
        for n, gap in enumerate(gaps):
            if n == stall_at:
                await lifespan.__aexit__(None, None, None)
            await clock.advance(gap)
            await client.post("/products", json={"id": n, "name": "shoe"})
            committed[n] = clock.now
            r = await client.get("/search")
            behind = clock.now - app.state.search.indexed_through
            if r.status_code == 200:
                check_statement(r, clock.now, committed)
            else:
                assert r.status_code == 503 and behind > MAX
        await client.aclose()
        if stall_at >= len(gaps):
            await lifespan.__aexit__(None, None, None)

    asyncio.run(go())


PROBLEMS = "https://api.example.com/problems/"


def test_responses_forbid_caches_to_serve_them_stale():
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        await clock.advance(0.5)
        r = await client.get("/search")
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
        return r

    r = asyncio.run(go())
    directives = [d.strip() for d in r.headers["cache-control"].split(",")]
    assert directives == ["max-age=4", "must-revalidate"]  # RFC 9111 4.2.4 and 5.2.2.2


def test_retry_after_grows_with_the_stall_and_is_capped():
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        await lifespan.__aexit__(None, None, None)  # the indexer stops at t = 0
        waits = []
        for t in (MAX + 0.5, 60, 600, 3 * 3600):
            await clock.advance(START + t - clock.now)
            r = await client.get("/search")
            assert r.status_code == 503 and r.json()["type"] == PROBLEMS + "index-behind"
            waits.append(int(r.headers["retry-after"]))
        await client.aclose()
        return waits

    assert asyncio.run(go()) == [1, 55, snippet.MAX_RETRY_AFTER_S, snippet.MAX_RETRY_AFTER_S]


def test_after_waits_for_the_index_to_include_the_callers_own_write():
    async def go():
        clock = VirtualClock(START)
        app, lifespan, client = await started(clock, clock.sleep)
        await clock.advance(0.2)
        created = (await client.post("/products", json={"id": 9, "name": "shoe"})).json()
        plain = await client.get("/search?q=shoe")  # eventually consistent: not yet
        waiting = asyncio.ensure_future(client.get(f"/search?q=shoe&after={created['position']}"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()  # held until the indexer has applied position 1
        await clock.advance(0.8)  # the indexer runs at t = 1 s
        mine = await waiting
        await client.aclose()
        await lifespan.__aexit__(None, None, None)
        return plain, mine

    plain, mine = asyncio.run(go())
    assert plain.json()["data"] == []
    assert mine.status_code == 200 and mine.json()["data"] == [9]


def test_after_that_the_index_cannot_reach_in_time_is_a_503_not_a_stale_200():
    async def go():
        clock = VirtualClock(START)
        app = snippet.create_app(clock=clock, sleep=clock.sleep, max_wait_s=0.05)
        transport = httpx.ASGITransport(app=app)  # no lifespan: the indexer never runs
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            app.state.search.refresh()
            created = (await client.post("/products", json={"id": 3, "name": "x"})).json()
            late = await client.get(f"/search?after={created['position']}")
            plain = await client.get("/search")
            bad = [await client.get(f"/search?after={v}") for v in ("2", "-1", "x")]
        return late, plain, bad

    late, plain, bad = asyncio.run(go())
    assert late.status_code == 503 and late.json()["type"] == PROBLEMS + "index-behind"
    assert late.headers["retry-after"] == "1"
    assert plain.status_code == 200 and plain.json()["data"] == []  # within the window
    for r in bad:
        assert r.status_code == 400 and r.json()["type"] == PROBLEMS + "invalid-request"
        assert [e["parameter"] for e in r.json()["errors"]] == ["after"]


def test_indexed_through_is_the_log_snapshot_time_not_the_time_applying_ended():
    clock = VirtualClock(START)
    search = snippet.Search(clock)
    search.write({"id": 1, "name": "a"})
    batch = search.read_log()  # an out-of-process indexer reads its batch ...
    clock.now += 2
    search.write({"id": 2, "name": "b"})  # ... a write commits while it applies ...
    clock.now += 1
    search.apply(*batch)  # ... and it claims only what its read covered
    assert search.indexed_through == START
    assert set(search.docs) == {1}
    assert search.applied == 1


def test_bad_input_and_unknown_paths_are_problems():
    async def go():
        clock = VirtualClock(START)
        app = snippet.create_app(clock=clock, sleep=clock.sleep)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            json_type = {"content-type": "application/json"}
            return [
                await client.get("/products/99"),
                await client.get("/nope"),
                await client.delete("/search"),
                await client.post("/products", json={"id": "seven"}),
                await client.post("/products", content=b"\xff{", headers=json_type),
            ]

    missing, nowhere, wrong, invalid, garbage = asyncio.run(go())
    assert (missing.status_code, missing.json()["type"]) == (404, PROBLEMS + "not-found")
    assert nowhere.status_code == 404
    assert (wrong.status_code, wrong.json()["type"]) == (405, PROBLEMS + "method-not-allowed")
    assert invalid.status_code == 400
    assert {e["pointer"] for e in invalid.json()["errors"]} == {"/id", "/name"}
    assert (garbage.status_code, garbage.json()["type"]) == (400, PROBLEMS + "invalid-request")
    for r in (missing, nowhere, wrong, invalid, garbage):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["retryable"] is False
