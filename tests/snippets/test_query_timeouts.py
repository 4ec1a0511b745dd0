"""Behaviour of snippets/query_timeouts.py: deadlines that really cancel the query."""

import asyncio
import threading
import time

import httpx
import pytest
import query_timeouts as snippet
import uvicorn

SLOW = "/search?q=shoe&sort=mentions"  # 20,000 products x 2,000 reviews: seconds
FAST = "/search?q=shoe&brand=b7&sort=mentions"  # 20 products via the brand index
PROBLEMS = "https://api.example.com/problems/"


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def assert_all_connections_idle_and_usable(app, slots: int) -> None:
    pool = app.state.pool
    assert pool.idle.qsize() == slots
    connections = [pool.idle.get_nowait() for _ in range(slots)]
    for db in connections:  # an interrupted connection still answers queries
        assert db.execute("SELECT count(*) FROM products").fetchone() == (20000,)
        pool.idle.put_nowait(db)


def record_executions(monkeypatch, app_box: list) -> list[dict]:
    """Wrap the worker: when it returned, how (rows or timeout), and the idle slots then."""
    finished: list[dict] = []
    execute = snippet.execute

    def recording_execute(*args):
        outcome = "rows"
        try:
            return execute(*args)
        except snippet.QueryTimeout:
            outcome = "interrupted"
            raise
        finally:
            idle = app_box[0].state.pool.idle.qsize()
            finished.append({"at": time.monotonic(), "how": outcome, "idle": idle})

    monkeypatch.setattr(snippet, "execute", recording_execute)
    return finished


async def wait_until(condition, within: float) -> bool:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def test_fast_query_within_budget_returns_results():
    async def go():
        app = snippet.create_app(budget_ms=2000)
        async with client_for(app) as c:
            r1, r2 = await c.get(FAST), await c.get("/search?q=shoe 1&sort=id")
        return r1, r2

    r1, r2 = asyncio.run(go())
    assert (r1.status_code, r1.json()) == (200, {"data": [7, 7007, 1007]})
    assert (r2.status_code, r2.json()) == (200, {"data": [1, 10, 11]})


def test_the_slow_query_really_needs_longer_than_the_budget():
    pool_db = snippet.sqlite3.connect(":memory:")
    pool_db.executescript(snippet.DATA)
    sql = f"SELECT id FROM products ORDER BY {snippet.MENTIONS} DESC LIMIT 3"
    with pytest.raises(snippet.QueryTimeout):  # still running after 0.2 s
        snippet.execute(pool_db, sql, (), time.monotonic() + 0.2, threading.Event())


def test_slow_query_is_cancelled_at_the_deadline_and_resources_released():
    async def go():
        app = snippet.create_app(budget_ms=100)
        async with client_for(app) as c:
            started = time.monotonic()
            r = await c.get(SLOW)
            elapsed = time.monotonic() - started
            after = await c.get(FAST)  # the same connections serve the next search
        await asyncio.sleep(0.05)  # a cancelled disconnect watcher ends on the next turn
        others = asyncio.all_tasks() - {asyncio.current_task()}
        return app, r, elapsed, after, others

    app, r, elapsed, after, others = asyncio.run(go())
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "retry-after" not in r.headers  # back off: no promise that 1 s will do
    assert r.json() == {
        "type": PROBLEMS + "query-timeout",
        "title": "Query timeout",
        "status": 503,
        "detail": "Cancelled after 100 ms. Narrow it: add a brand filter or sort by id.",
        "retryable": True,
    }
    assert 0.1 <= elapsed < 2.0  # the budget, not the seconds the query would take
    assert after.status_code == 200
    assert others == set()  # no task left running
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)


async def serve(app) -> tuple[uvicorn.Server, asyncio.Task, int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    assert await wait_until(lambda: server.started, within=10)
    return server, task, server.servers[0].sockets[0].getsockname()[1]


def test_a_client_that_closes_its_socket_stops_the_query_under_uvicorn(monkeypatch):
    # Budget 60 s: whatever stops the query within the bound below is the disconnect.
    app = snippet.create_app(budget_ms=60_000)
    finished = record_executions(monkeypatch, [app])
    pool = app.state.pool

    async def go():
        server, task, port = await serve(app)
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"GET {SLOW} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            await writer.drain()
            running = lambda: pool.idle.qsize() == snippet.SEARCH_SLOTS - 1  # noqa: E731
            assert await wait_until(running, within=10)  # the query holds a connection
            writer.close()  # the client hangs up mid-query
            closed_at = time.monotonic()
            released = lambda: pool.idle.qsize() == snippet.SEARCH_SLOTS  # noqa: E731
            await wait_until(released, within=15)  # longer than the whole query runs
            return closed_at
        finally:
            server.should_exit = True
            await task

    closed_at = asyncio.run(go())
    [run] = finished
    assert run["how"] == "interrupted"  # cut short, not run to the end for nobody
    assert run["at"] - closed_at < 3.0  # seconds on a busy machine, not the 60 s budget
    assert run["idle"] == snippet.SEARCH_SLOTS - 1  # still checked out while running
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)


def test_a_cancelled_request_task_interrupts_the_query_too(monkeypatch):
    app = snippet.create_app(budget_ms=60_000)
    finished = record_executions(monkeypatch, [app])

    async def go():
        async with client_for(app) as c:
            request = asyncio.create_task(c.get(SLOW))
            running = lambda: app.state.pool.idle.qsize() == 1  # noqa: E731
            assert await wait_until(running, within=10)
            request.cancel()
            cancelled_at = time.monotonic()
            idle = lambda: app.state.pool.idle.qsize() == 2  # noqa: E731
            await wait_until(idle, within=15)
            released_at = time.monotonic()
            with pytest.raises(asyncio.CancelledError):
                await request
        return cancelled_at, released_at

    cancelled_at, released_at = asyncio.run(go())
    [run] = finished
    assert run["how"] == "interrupted" and run["at"] - cancelled_at < 3.0
    assert run["idle"] == snippet.SEARCH_SLOTS - 1
    assert run["at"] <= released_at  # returned to the pool only after the thread ended
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)


def test_no_free_slot_is_a_503_with_retry_after_and_capacity_returns():
    async def go():
        app = snippet.create_app(budget_ms=300, wait_ms=50, slots=2)
        async with client_for(app) as c:
            slow = asyncio.gather(c.get(SLOW), c.get(SLOW))
            await wait_until(lambda: app.state.pool.idle.qsize() == 0, within=10)
            busy = await c.get(FAST)
            slow_results = await slow
            later = await c.get(FAST)
        return app, busy, slow_results, later

    app, busy, slow_results, later = asyncio.run(go())
    assert busy.status_code == 503
    assert busy.headers["retry-after"] in {"1", "2", "3"}
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.json() == {
        "type": PROBLEMS + "service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "All 2 search slots stayed busy for 50 ms.",
        "retryable": True,
    }
    assert [r.json()["type"] for r in slow_results] == [PROBLEMS + "query-timeout"] * 2
    assert later.status_code == 200
    assert_all_connections_idle_and_usable(app, 2)


def test_thirty_concurrent_slow_queries_never_hold_more_than_the_slots():
    async def go():
        app = snippet.create_app(budget_ms=100, wait_ms=50, slots=2)
        async with client_for(app) as c:
            started = time.monotonic()
            results = await asyncio.gather(*(c.get(SLOW) for _ in range(30)))
            elapsed = time.monotonic() - started
        return app, results, elapsed

    app, results, elapsed = asyncio.run(go())
    types = sorted(r.json()["type"].rsplit("/", 1)[1] for r in results)
    assert types == ["query-timeout"] * 2 + ["service-unavailable"] * 28
    assert elapsed < 3.0
    # The shed clients are told different waits, so they do not all come back at once.
    waits = [int(r.headers["retry-after"]) for r in results if "retry-after" in r.headers]
    assert len(waits) == 28 and set(waits) <= {1, 2, 3} and len(set(waits)) > 1
    assert_all_connections_idle_and_usable(app, 2)


def test_fifty_concurrent_fast_queries_all_succeed_through_two_slots():
    # A 5 ms query, but 50 requests share the GIL with two query threads; this test is about
    # the slots, so the budget leaves room for a cold, busy machine (a CI run saw 504s at 200).
    async def go():
        app = snippet.create_app(budget_ms=2000, wait_ms=5000, slots=2)
        async with client_for(app) as c:
            results = await asyncio.gather(*(c.get(FAST) for _ in range(50)))
        return app, results

    app, results = asyncio.run(go())
    assert [r.status_code for r in results] == [200] * 50
    assert {tuple(r.json()["data"]) for r in results} == {(7, 7007, 1007)}
    assert_all_connections_idle_and_usable(app, 2)


@pytest.mark.parametrize(
    ("url", "parameter"),
    [("/search", "q"), ("/search?q=shoe&sort=price", "sort")],
)
def test_a_bad_query_parameter_is_a_400_problem_naming_it(url, parameter):
    async def go():
        async with client_for(snippet.create_app()) as c:
            return await c.get(url)

    r = asyncio.run(go())
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["type"], body["title"]) == (PROBLEMS + "invalid-request", "Invalid request")
    assert body["retryable"] is False
    assert [e["parameter"] for e in body["errors"]] == [parameter]


def test_unknown_path_and_wrong_method_are_problems():
    async def go():
        async with client_for(snippet.create_app()) as c:
            return await c.get("/nope"), await c.post("/search?q=shoe")

    missing, wrong = asyncio.run(go())
    assert (missing.status_code, missing.json()["type"]) == (404, PROBLEMS + "not-found")
    assert (wrong.status_code, wrong.json()["type"]) == (405, PROBLEMS + "method-not-allowed")
    assert wrong.headers["allow"] == "GET"
    for r in (missing, wrong):
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["retryable"] is False


def test_slots_hold_across_real_connections_under_uvicorn():
    # A 1 s budget: every request arrives while the first two still hold the slots.
    app = snippet.create_app(budget_ms=1000, wait_ms=50, slots=2)

    async def go():
        server, task, port = await serve(app)
        try:
            limits = httpx.Limits(max_connections=12)  # one TCP connection per request
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
            ) as c:
                results = await asyncio.gather(*(c.get(SLOW) for _ in range(12)))
                after = await c.get(FAST)
        finally:
            server.should_exit = True
            await task
        return results, after

    results, after = asyncio.run(go())
    types = sorted(r.json()["type"].rsplit("/", 1)[1] for r in results)
    assert types == ["query-timeout"] * 2 + ["service-unavailable"] * 10
    assert all(r.headers["content-type"] == "application/problem+json" for r in results)
    assert after.status_code == 200
    assert_all_connections_idle_and_usable(app, 2)


def test_a_client_that_leaves_before_the_statement_starts_still_stops_it(monkeypatch):
    # A loaded machine can start the worker thread late; interrupt() is a no-op then.
    app = snippet.create_app(budget_ms=60_000)
    finished = record_executions(monkeypatch, [app])
    started = threading.Event()
    recording = snippet.execute

    def late_execute(*args):
        started.wait(5)  # held until the request has been cancelled
        time.sleep(0.05)
        return recording(*args)

    monkeypatch.setattr(snippet, "execute", late_execute)

    async def go():
        async with client_for(app) as c:
            request = asyncio.create_task(c.get(SLOW))
            checked_out = lambda: app.state.pool.idle.qsize() == 1  # noqa: E731
            assert await wait_until(checked_out, within=10)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
            cancelled_at = time.monotonic()
            started.set()  # only now may the statement begin
            await wait_until(lambda: app.state.pool.idle.qsize() == 2, within=15)
        return cancelled_at

    cancelled_at = asyncio.run(go())
    [run] = finished
    assert run["how"] == "interrupted" and run["at"] - cancelled_at < 3.0
    assert_all_connections_idle_and_usable(app, snippet.SEARCH_SLOTS)
